"""Re-embedding after a switch of embedder or vector location, through `CampaignMemory.reindex`: new vectors
first, then the switch, then the old vectors go."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.kv import MemoryKeyValue
from bot.memory import CampaignMemory, MemoryConfig
from bot.memory.scope import ScopeLike, as_scope
from bot.memory.stores import LocalVectorStore, PineconeVectorStore, VectorRecord, VectorStore, namespace_for
from db.engine import create_sessionmaker
from db.models.campaign import CampaignMemoryRecord
from tests.fakes.pinecone import API_KEY, running_indexes
from tests.memory.memory_support import DIM, NOTES_V1, HashingEmbedder, Rig, new_guild


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


class _Watched:
    """A vector store that logs each write and deletion, with the embedder the guild's record named at that
    moment (read from the database), then does it."""

    def __init__(self, store: VectorStore, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._store = store
        self._sessionmaker = sessionmaker
        self.events: list[tuple[str, str | None]] = []

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._store, name)
        if name not in ("upsert", "prune", "delete_guild", "delete_guild_at", "delete_document"):
            return target

        async def watched(scope: ScopeLike, *args: Any, **kwargs: Any) -> Any:
            key = as_scope(scope)
            async with self._sessionmaker() as session:
                record = await session.get(CampaignMemoryRecord, (key.guild_id, key.campaign_id))
            self.events.append((name, record.embedder_id if record is not None else None))
            return await target(scope, *args, **kwargs)

        return watched


async def test_reembedding_in_place_writes_first_switches_then_deletes(rig: Rig) -> None:
    guild = new_guild()
    report = await rig.memory.import_file(guild, "harbor.md", None, NOTES_V1)
    stale = VectorRecord("0" * 32 + ":00000", "0" * 32, np.eye(DIM, dtype=np.float32)[0])
    await rig.store.upsert(guild, [stale])  # left behind by something that died: not a visible chunk
    watched = _Watched(rig.store, rig.sessionmaker)
    other = HashingEmbedder(DIM, name="test:other")
    switched = CampaignMemory(rig.sessionmaker, rig.kv, watched, other, MemoryConfig(embed_batch=2))  # type: ignore[arg-type]

    await switched.reindex(guild)

    kinds = [kind for kind, _ in watched.events]
    assert len(kinds) >= 2
    assert kinds[:-1] == ["upsert"] * (len(kinds) - 1)
    assert kinds[-1] == "prune"  # the only deletion, after every write
    assert {embedder for kind, embedder in watched.events if kind == "upsert"} == {rig.embedder.id}
    assert watched.events[-1] == ("prune", other.id)  # the record had switched to the new vectors already
    assert await rig.store.count(guild) == report.chunks  # the stale vector went
    assert "Marnie Quill" in (await switched.search(guild, "Salty Eel tavern", k=1))[0].text


async def test_reembedding_never_deletes_the_namespace_it_writes_to(sqlite_engine: AsyncEngine) -> None:
    """Issue 13: the namespace was deleted and written straight back, assuming the (lagging) deletion was done."""
    sessionmaker, kv = create_sessionmaker(sqlite_engine), MemoryKeyValue()
    async with running_indexes(1, DIM) as (index,):
        store = PineconeVectorStore(API_KEY, [index.host])
        before = CampaignMemory(sessionmaker, kv, store, HashingEmbedder(DIM), MemoryConfig())
        after = CampaignMemory(sessionmaker, kv, store, HashingEmbedder(DIM, name="test:next"), MemoryConfig())
        try:
            guild = new_guild()
            report = await before.import_file(guild, "harbor.md", None, NOTES_V1)
            index.requests.clear()
            await after.reindex(guild)
            assert not [r for r in index.requests if r[0] == "DELETE" or r[1] == "/vectors/delete"]
            assert len(index.vectors(namespace_for(guild))) == report.chunks
            assert not (await after.status(guild)).reindex_needed
        finally:
            await store.aclose()


async def test_local_vectors_reembedded_into_another_dimension_replace_the_old_files(
    sqlite_engine: AsyncEngine, tmp_path: Path
) -> None:
    sessionmaker, kv = create_sessionmaker(sqlite_engine), MemoryKeyValue()
    store = LocalVectorStore(tmp_path / "vectors")
    small = CampaignMemory(sessionmaker, kv, store, HashingEmbedder(64), MemoryConfig(embed_batch=1))
    large = CampaignMemory(sessionmaker, kv, store, HashingEmbedder(512, name="test:large"), MemoryConfig())
    guild = new_guild()
    report = await small.import_file(guild, "harbor.md", None, NOTES_V1)
    files = sorted((tmp_path / "vectors" / f"g{guild}").glob("*.npz"))
    assert len(files) > 1  # one per embedding batch

    await large.reindex(guild)

    [compacted] = sorted((tmp_path / "vectors" / f"g{guild}").glob("*.npz"))
    assert compacted not in files
    with np.load(compacted) as data:
        assert data["vectors"].shape == (report.chunks, 512)
    assert "Marnie Quill" in (await large.search(guild, "Salty Eel tavern", k=1))[0].text
