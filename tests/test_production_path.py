"""The production configuration end to end: PostgreSQL, Redis, Pinecone and OpenAI switched on by settings alone.

The real `pinecone` and `openai` clients talk to loopback fakes of their wire formats; the database and the
key-value store are the real servers. A GM imports notes and panics through discord.py's real dispatch.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy.engine import make_url

from bot.services import Services, open_services
from bot.settings import Settings
from db.migrate import upgrade
from tests.conftest import REPO_ROOT
from tests.fakes.openai import FakeOpenAI, running_openai
from tests.fakes.pinecone import API_KEY as PINECONE_KEY
from tests.fakes.pinecone import FakePineconeIndex, running_project
from tests.fixtures_services import create_database, drop_database
from tests.support.discord import running_bot

pytestmark = pytest.mark.postgres

NOTES = REPO_ROOT / "examples" / "campaign" / "emberfall.md"


@pytest_asyncio.fixture(loop_scope="session")
async def fakes() -> AsyncIterator[tuple[FakeOpenAI, FakePineconeIndex]]:
    """A fake OpenAI and a fake Pinecone project with one index on loopback."""
    async with running_openai() as openai, running_project() as project:
        yield openai, await project.add_index("improv-notes", 1536)


@pytest_asyncio.fixture(loop_scope="session")
async def production(
    pg_url: str, redis_url: str, tmp_path: Path, fakes: tuple[FakeOpenAI, FakePineconeIndex]
) -> AsyncIterator[Services]:
    """Services built from production-style settings on a fresh PostgreSQL database."""
    database_url = make_url(pg_url).set(database=f"improv_test_prod_{secrets.token_hex(4)}")
    url = database_url.render_as_string(hide_password=False)
    await create_database(url)
    openai, index = fakes
    settings = Settings.embedded(
        tmp_path / "data",
        database_url=url,
        redis_url=redis_url,
        openai_api_key=openai.api_key,
        openai_base_url=openai.base_url,
        pinecone_api_key=PINECONE_KEY,
        pinecone_index_hosts=[index.host],
        pinecone_controller_host=index.controller_host,
    )
    try:
        async with open_services(settings) as services:
            await upgrade(services.engine)
            yield services
    finally:
        await drop_database(url)


async def test_configuration_alone_switches_every_service_to_production(production: Services) -> None:
    assert production.engine.dialect.name == "postgresql"
    described = production.describe()
    assert described["kv"] == "redis"
    assert described["embedder"].startswith("openai:text-embedding-3-small")
    assert described["vectors"] == "pinecone"


async def test_gm_imports_notes_and_panics_grounded_in_them(
    production: Services, fakes: tuple[FakeOpenAI, FakePineconeIndex]
) -> None:
    openai, index = fakes
    async with running_bot(production) as sim:
        guild = secrets.randbelow(10**17) + 10**17
        sim.guild_id = guild

        imported = await sim.slash("campaign import", file=sim.attachment(NOTES))
        assert imported.ephemeral
        assert "emberfall.md" in str(imported.last.payload)
        assert index.vectors(f"guild-{guild}"), "vectors went to the guild's own Pinecone namespace"
        assert any(r.path.endswith("/embeddings") for r in openai.requests)

        found = await sim.slash("campaign search", query="who forges the tithe ingots?")
        assert "Brenna Coalhand" in str(found.last.embeds)
        assert "emberfall.md" in str(found.last.embeds)

        panic = await sim.slash("panic npc", details="the master smith of the Anvil Quarter")
        await sim.settle()
        assert panic.ephemeral
        embed = panic.message.embeds[0]
        assert "Source: gpt-4o-mini" in embed["footer"]["text"]
        sources = next(f["value"] for f in embed["fields"] if f["name"] == "Sources")
        assert "emberfall.md" in sources
        [chat] = openai.chat_requests()[-1:]
        assert chat.body["model"] == "gpt-4o-mini"
        assert "Brenna Coalhand" in chat.prompt  # the retrieved canon reached the model
