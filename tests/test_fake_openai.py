"""The fake OpenAI server itself: a client that gives up mid-request is not an error of the fake."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest

from tests.fakes.openai import API_KEY, running_openai


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
