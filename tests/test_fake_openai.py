"""The fake OpenAI server itself: a client that gives up mid-request is not an error of the fake; it refuses
what OpenAI refuses, with OpenAI's error bodies, and describes the models it serves."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import openai
import pytest
from openai import AsyncOpenAI

from tests.fakes.openai import API_KEY, FakeOpenAI, running_openai


async def _until(condition: Callable[[], bool], what: str) -> None:
    """Wait (yielding to the loop) until `condition()` is true, with a roomy deadline."""
    try:
        async with asyncio.timeout(30):
            while not condition():  # noqa: ASYNC110 - watching aiohttp's own connection bookkeeping
                await asyncio.sleep(0.01)
    except TimeoutError:
        pytest.fail(what)


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/embeddings"])
async def test_a_client_gone_before_its_body_is_read_logs_no_error(caplog: pytest.LogCaptureFixture, path: str) -> None:
    # On a busy machine the bot's deadline can close the connection before the fake (same event loop) has read the
    # body; aiohttp logs any exception a handler raises at ERROR, which the Discord harness turns into a failure.
    caplog.set_level(logging.ERROR)
    async with running_openai() as fake:
        server = fake._runner.server if fake._runner is not None else None
        assert server is not None
        _, writer = await asyncio.open_connection("127.0.0.1", urlsplit(fake.base_url).port)
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {API_KEY}\r\n"
            "Content-Type: application/json\r\nContent-Length: 64\r\n\r\n{".encode()
        )
        await writer.drain()
        await _until(lambda: server.requests_count >= 1, "the fake never saw the request")
        writer.close()
        await writer.wait_closed()
        await _until(lambda: not server.connections, "the fake never saw the connection close")
        for _ in range(3):  # let the handler run to its end after the connection was lost
            await asyncio.sleep(0)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert fake.requests == []  # nothing complete was received


async def _refusal(fake: FakeOpenAI, **params: Any) -> openai.APIStatusError:
    """The error the real client raises for one chat request with `params`."""
    client = AsyncOpenAI(api_key=fake.api_key, base_url=fake.base_url, max_retries=0)
    try:
        with pytest.raises(openai.APIStatusError) as caught:
            await client.chat.completions.create(messages=[{"role": "user", "content": "hi"}], **params)
    finally:
        await client.close()
    return caught.value


@pytest.mark.parametrize(
    ("params", "status", "body"),
    [
        (
            {"model": "gpt-5.4-mini", "temperature": 0.9},
            400,
            {
                "message": "Unsupported value: 'temperature' does not support 0.9 with this model. "
                "Only the default (1) value is supported.",
                "type": "invalid_request_error",
                "param": "temperature",
                "code": "unsupported_value",
            },
        ),
        (
            {"model": "gpt-6-luna", "max_tokens": 600},
            400,
            {
                "message": "Unsupported parameter: 'max_tokens' is not supported with this model. "
                "Use 'max_completion_tokens' instead.",
                "type": "invalid_request_error",
                "param": "max_tokens",
                "code": "unsupported_parameter",
            },
        ),
        (
            {"model": "gpt-5.4-mini", "reasoning_effort": "minimal"},
            400,
            {
                "message": "Unsupported value: 'reasoning_effort' does not support 'minimal' with this model. "
                "Supported values are: 'none', 'low', 'medium', 'high', and 'xhigh'.",
                "type": "invalid_request_error",
                "param": "reasoning_effort",
                "code": "unsupported_value",
            },
        ),
        (
            {"model": "gpt-4o-mini", "reasoning_effort": "low"},
            400,
            {
                "message": "Unsupported parameter: 'reasoning_effort' is not supported with this model.",
                "type": "invalid_request_error",
                "param": "reasoning_effort",
                "code": "unsupported_parameter",
            },
        ),
        (
            {"model": "gpt-9-imaginary"},
            404,
            {
                "message": "The model `gpt-9-imaginary` does not exist or you do not have access to it.",
                "type": "invalid_request_error",
                "param": None,
                "code": "model_not_found",
            },
        ),
    ],
)
async def test_chat_refuses_what_openai_refuses(params: dict[str, Any], status: int, body: dict[str, Any]) -> None:
    async with running_openai() as fake:
        error = await _refusal(fake, **params)
    assert error.status_code == status
    assert error.body == body


async def test_reasoning_models_take_temperature_one_and_their_efforts() -> None:
    async with running_openai() as fake:
        client = AsyncOpenAI(api_key=fake.api_key, base_url=fake.base_url, max_retries=0)
        try:
            answer = await client.chat.completions.create(
                model="gpt-5-mini",
                messages=[{"role": "user", "content": "hi"}],
                temperature=1,
                reasoning_effort="minimal",
                max_completion_tokens=600,
            )
        finally:
            await client.close()
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage is not None
    assert answer.usage.completion_tokens_details is not None
    assert answer.usage.completion_tokens_details.reasoning_tokens == 48


async def test_a_reasoning_model_stops_at_its_budget() -> None:
    async with running_openai() as fake:
        client = AsyncOpenAI(api_key=fake.api_key, base_url=fake.base_url, max_retries=0)
        try:
            answer = await client.chat.completions.create(
                model="o4-mini", messages=[{"role": "user", "content": "hi"}], max_completion_tokens=200
            )  # default effort medium: 1,200 reasoning tokens
        finally:
            await client.close()
    assert answer.choices[0].finish_reason == "length"
    assert not answer.choices[0].message.content


async def test_models_retrieve_describes_a_model_and_its_shutdown_date() -> None:
    async with running_openai() as fake:
        client = AsyncOpenAI(api_key=fake.api_key, base_url=fake.base_url, max_retries=0)
        try:
            default = await client.models.retrieve("gpt-4o-mini")
            successor = await client.models.retrieve("gpt-5.4-mini")
            with pytest.raises(openai.NotFoundError) as missing:
                await client.models.retrieve("gpt-9-imaginary")
        finally:
            await client.close()
    assert (default.id, default.object, default.shutdown_date) == ("gpt-4o-mini", "model", "2027-01-14")
    assert successor.shutdown_date is None
    assert missing.value.body == {
        "message": "The model 'gpt-9-imaginary' does not exist",
        "type": "invalid_request_error",
        "param": "model",
        "code": "model_not_found",
    }
