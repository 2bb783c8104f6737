"""Re-embedding after a switch of vector location, through `CampaignMemory.reindex`."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.kv import MemoryKeyValue
from bot.memory import CampaignMemory, MemoryConfig
from bot.memory.stores import PineconeVectorStore, namespace_for
from db.engine import create_sessionmaker
from tests.fakes.pinecone import API_KEY, running_indexes
from tests.memory.memory_support import DIM, NOTES_V1, HashingEmbedder, new_guild


async def test_a_guild_moved_to_another_index_is_reembedded_there_and_leaves_the_old_one(
    sqlite_engine: AsyncEngine,
) -> None:
    sessionmaker, kv, embedder = create_sessionmaker(sqlite_engine), MemoryKeyValue(), HashingEmbedder(DIM)
    async with running_indexes(2, DIM) as (old, new):
        before = CampaignMemory(sessionmaker, kv, PineconeVectorStore(API_KEY, [old.host]), embedder, MemoryConfig())
        after = CampaignMemory(sessionmaker, kv, PineconeVectorStore(API_KEY, [new.host]), embedder, MemoryConfig())
        try:
            guild = new_guild()
            report = await before.import_file(guild, "harbor.md", None, NOTES_V1)
            assert (await after.status(guild)).reindex_needed
            assert await after.search(guild, "Salty Eel tavern", k=1) == []  # never searches the wrong index

            await after.reindex(guild)
            assert namespace_for(guild) not in old.namespaces
            assert await after.store.count(guild) == report.chunks
            assert not (await after.status(guild)).reindex_needed
            assert "Marnie Quill" in (await after.search(guild, "Salty Eel tavern", k=1))[0].text
        finally:
            await before.aclose()
            await after.aclose()
