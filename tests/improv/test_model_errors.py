"""The model's failures as an operator and a guild see them: readable log lines, a breaker that counts the
service's health only, per-guild rests for refusals, and a cut-off answer retried with a larger budget."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import pytest

from bot.improv.engine import Improviser
from bot.improv.kinds import Kind
from bot.improv.llm import OpenAIGenerator
from bot.improv.types import PanicRequest
from bot.settings import Settings
from tests.fakes.openai import FakeOpenAI
from tests.improv.conftest import open_improviser

GUILD_A, GUILD_B = 101, 202


@asynccontextmanager
async def improviser(
    make_settings: Callable[..., Settings], fake: FakeOpenAI, **overrides: Any
) -> AsyncIterator[Improviser]:
    settings = make_settings(openai_api_key=fake.api_key, openai_base_url=fake.base_url, pool_size=0, **overrides)
    async with open_improviser(settings) as (_, improv, _):
        yield improv


def request(guild_id: int = GUILD_A, kind: Kind = "npc", details: str = "the ferryman") -> PanicRequest:
    return PanicRequest(guild_id=guild_id, user_id=7, kind=kind, details=details)


def lines(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    """The generator's log lines at `level` (the startup check's are asserted in test_modelcheck.py)."""
    return [r.getMessage() for r in caplog.records if r.levelno == level and r.name == "bot.improv.llm"]


async def test_a_reasoning_model_answers_with_the_parameters_it_takes(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    async with improviser(make_settings, fake_openai, openai_model="gpt-5.4-mini") as improv:
        result = await improv.panic(request())
    assert (result.engine, result.fallback_reason) == ("openai", None)
    [body] = [r.body for r in fake_openai.chat_requests()]
    assert body["model"] == "gpt-5.4-mini"
    assert body["reasoning_effort"] == "none"
    assert "temperature" not in body
    assert "max_tokens" not in body
    assert body["max_completion_tokens"] == 600


async def test_an_unknown_model_is_logged_with_openais_message_and_the_tables_answer(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with improviser(make_settings, fake_openai, openai_model="gpt-4o-mini-typo") as improv:
        result = await improv.panic(request())
        status = improv.model_status(GUILD_A)
    assert (result.engine, result.fallback_reason) == ("tables", "error")
    [error] = lines(caplog, logging.ERROR)
    assert "gpt-4o-mini-typo" in error
    assert "HTTP 404 model_not_found" in error
    assert "The model `gpt-4o-mini-typo` does not exist or you do not have access to it." in error
    assert "model_not_found" in status
    assert status.startswith("`gpt-4o-mini-typo` · last call failed")
    assert improv.breaker.state == "closed"  # a refused request says nothing about the service's health


async def test_a_refused_parameter_is_logged_with_its_code_and_param(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with improviser(make_settings, fake_openai, openai_model="gpt-5-mini") as improv:
        generator = improv.generator
        assert isinstance(generator, OpenAIGenerator)
        generator.plan = replace(generator.plan, temperature=0.9)  # what the bot sent before model profiles
        result = await improv.panic(request())
    assert result.fallback_reason == "error"
    [error] = lines(caplog, logging.ERROR)
    assert "HTTP 400 unsupported_value (param temperature)" in error
    assert "Only the default (1) value is supported." in error


async def test_service_failures_are_warnings_with_status_code_and_message(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    fake_openai.fail_next("500", "429")
    async with improviser(make_settings, fake_openai) as improv:
        first = await improv.panic(request())
        second = await improv.panic(request())
    assert (first.fallback_reason, second.fallback_reason) == ("error", "rate_limited")
    warnings = [w for w in lines(caplog, logging.WARNING) if w.startswith("OpenAI request")]
    assert warnings == [
        "OpenAI request for gpt-4o-mini failed: HTTP 500: The server had an error",
        "OpenAI request for gpt-4o-mini failed: HTTP 429 rate_limit_exceeded: Rate limit reached",
    ]


async def test_a_wrong_key_is_an_error_line_without_the_key(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    key = "sk-proj-" + "w" * 40 + "Zq9X"
    settings = make_settings(openai_api_key=key, openai_base_url=fake_openai.base_url, pool_size=0)
    async with open_improviser(settings) as (_, improv, _):
        result = await improv.panic(request())
    assert result.fallback_reason == "error"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "HTTP 401 invalid_api_key: Incorrect API key provided: [key]." in logged
    assert "wwww" not in logged
    assert "Zq9X" not in logged


async def test_five_refusals_in_one_guild_leave_another_guilds_answer_to_the_model(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    fake_openai.fail_next(*["refusal"] * 5)
    async with improviser(make_settings, fake_openai, breaker_threshold=5) as improv:
        refused = [await improv.panic(request(GUILD_A)) for _ in range(5)]
        sent = len(fake_openai.chat_requests())
        other = await improv.panic(request(GUILD_B))
        again = await improv.panic(request(GUILD_A))
        status_a, status_b = improv.model_status(GUILD_A), improv.model_status(GUILD_B)
    assert [r.fallback_reason for r in refused] == ["refusal"] * 5
    assert (other.engine, other.fallback_reason) == ("openai", None)
    assert (again.engine, again.fallback_reason) == ("tables", "circuit_open")  # guild A rests
    assert len(fake_openai.chat_requests()) == sent + 1  # guild A's sixth never reached the model
    assert improv.breaker.state == "closed"
    assert "resting for this server" in status_a
    assert "resting" not in status_b
    assert "last call worked" in status_b


async def test_five_server_errors_rest_the_model_for_every_guild(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    fake_openai.fail_next(*["500"] * 5)
    async with improviser(make_settings, fake_openai, breaker_threshold=5) as improv:
        for _ in range(5):
            await improv.panic(request(GUILD_A))
        other = await improv.panic(request(GUILD_B))
    assert other.fallback_reason == "circuit_open"
    assert improv.breaker.state == "open"


async def test_a_cut_off_answer_is_retried_once_with_a_larger_budget(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    fake_openai.fail_next("length")
    async with improviser(make_settings, fake_openai) as improv:
        result = await improv.panic(request())
    assert (result.engine, result.fallback_reason) == ("openai", None)
    first, second = (r.body for r in fake_openai.chat_requests())
    assert first != second  # never the identical request twice
    assert second["max_completion_tokens"] == 2 * first["max_completion_tokens"]
    assert {k: v for k, v in first.items() if k != "max_completion_tokens"} == {
        k: v for k, v in second.items() if k != "max_completion_tokens"
    }


async def test_a_reasoning_model_out_of_budget_gets_room_on_the_retry(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    fake_openai.reasoning_tokens["minimal"] = 1100  # reasons past its first budget (600 + 525)
    async with improviser(make_settings, fake_openai, openai_model="gpt-5-mini") as improv:
        result = await improv.panic(request())
    assert result.engine == "openai"
    budgets = [r.body["max_completion_tokens"] for r in fake_openai.chat_requests()]
    assert budgets == [1125, 2250]


async def test_a_second_cut_off_falls_back_to_the_tables(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    fake_openai.fail_next("length", "length")
    async with improviser(make_settings, fake_openai) as improv:
        result = await improv.panic(request())
    assert (result.engine, result.fallback_reason) == ("tables", "invalid")
    assert len(fake_openai.chat_requests()) == 2


async def test_status_says_when_no_model_is_configured(make_settings: Callable[..., Settings]) -> None:
    async with open_improviser(make_settings()) as (_, improv, _):
        assert improv.model_status(GUILD_A) == "none configured: answers come from the offline tables"
