"""Fixtures of the cog tests: the fake OpenAI server and settings that answer from it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from bot.settings import Settings
from tests.fakes.openai import FakeOpenAI, running_openai


@pytest_asyncio.fixture(loop_scope="session")
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    """A loopback OpenAI that speaks the real wire format and records every request."""
    async with running_openai() as fake:
        yield fake


def model_settings(data_dir: Path, fake: FakeOpenAI, **overrides: object) -> Settings:
    """Embedded settings whose answers come from `fake` (no retries, cooldown or pool), with `overrides`."""
    values: dict[str, object] = {
        "openai_api_key": fake.api_key,
        "openai_base_url": fake.base_url,
        "openai_max_retries": 0,
        "panic_cooldown_seconds": 0,
        "pool_size": 0,
        **overrides,
    }
    return Settings.embedded(data_dir, **values)
