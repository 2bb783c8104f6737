"""Shared fixtures: embedded services on a temporary data directory and the offline Discord harness."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot.discord.offline.driver import DiscordDriver
from bot.services import Services, open_services
from bot.settings import Settings
from db.migrate import upgrade
from tests.support.discord import running_bot


@pytest.fixture(autouse=True)
def _no_leftover_log_handlers() -> Iterator[None]:
    """A test that runs an entry point in-process (`bot.cli.main`, `configure_logging`) points the root logger at
    the stderr pytest captured for it; drop that handler and restore the level afterwards, so no later test
    logs into a closed stream ("--- Logging error ---" in its captured stderr)."""
    root = logging.getLogger()
    before, level = set(root.handlers), root.level
    yield
    for handler in root.handlers[:]:
        if handler not in before and type(handler) is logging.StreamHandler:
            root.removeHandler(handler)
    root.setLevel(level)


pytest_plugins = ["tests.fixtures_services"]

REPO_ROOT = Path(__file__).resolve().parent.parent


TEST_DATA = REPO_ROOT / "tests" / "data"


@pytest.fixture(scope="session")
def test_data() -> Path:
    """The test data kept in the repository (`tests/data`; origins and licences in its README.md)."""
    return TEST_DATA


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Embedded-default settings on a fresh data directory."""
    return Settings.embedded(tmp_path / "data")


@pytest_asyncio.fixture(loop_scope="session")
async def services(settings: Settings) -> AsyncIterator[Services]:
    """Opened embedded services (SQLite migrated, in-process kv)."""
    async with open_services(settings) as opened:
        await upgrade(opened.engine)
        yield opened


@pytest_asyncio.fixture(loop_scope="session")
async def discord_sim(services: Services) -> AsyncIterator[DiscordDriver]:
    """A logged-in `PanicBot` over the embedded services, driven like Discord would; fails on broken rules."""
    async with running_bot(services) as driver:
        yield driver
