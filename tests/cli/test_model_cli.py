"""The CLI checks the configured model at startup like the bot: a real `improv panic` process with an unknown
model logs the model and OpenAI's message, and its panic answers from the tables."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from tests.fakes.openai import FakeOpenAI, running_openai

IMPROV = Path(sys.executable).with_name("improv")


@pytest_asyncio.fixture(loop_scope="session")
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    async with running_openai() as fake:
        yield fake


async def test_an_unknown_model_is_named_at_startup_and_the_tables_answer(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_URL", "_KEY", "_TOKEN", "_SECRET"))}
    env.update(
        OPENAI_API_KEY=fake_openai.api_key,
        OPENAI_BASE_URL=fake_openai.base_url,
        OPENAI_MAX_RETRIES="0",
        OPENAI_MODEL="gpt-9-imaginary",
        EMBEDDER="local",
    )
    process = await asyncio.create_subprocess_exec(
        str(IMPROV),
        "--data-dir",
        str(tmp_path / "d"),
        *("panic", "tavern", "--guild", "5", "--json"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, err.decode()
    answer = json.loads(out)
    log = err.decode()
    assert (answer["engine"], answer["fallback_reason"]) == ("tables", "error")
    assert "OPENAI_MODEL=gpt-9-imaginary is not available: HTTP 404 model_not_found" in log
    assert "The model 'gpt-9-imaginary' does not exist" in log
    assert "The model `gpt-9-imaginary` does not exist or you do not have access to it." in log  # the panic's
    assert fake_openai.api_key not in log
    assert fake_openai.requests[0].path == "/v1/models/gpt-9-imaginary"
