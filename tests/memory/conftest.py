"""Fixtures of the campaign-memory tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.memory.memory_support import Rig, open_rig


@pytest_asyncio.fixture(loop_scope="session", params=["local", "pinecone"])
async def rig(request: pytest.FixtureRequest, sqlite_engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[Rig]:
    """Campaign memory over SQLite with the local store, then with the Pinecone fake."""
    async with open_rig(request.param, sqlite_engine, tmp_path) as opened:
        yield opened
