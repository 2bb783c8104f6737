"""Contract tests run against both vector stores: the local numpy store and Pinecone through its loopback fake."""

from __future__ import annotations

import errno
import os
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from bot.memory.scope import CampaignScope
from bot.memory.stores import (
    LocalVectorStore,
    PineconeVectorStore,
    VectorRecord,
    VectorStore,
    jump_hash,
    namespace_for,
)
from tests.fakes.pinecone import API_KEY, running_indexes

DIM = 16
GUILD_A = 111_111_111_111_111_111
GUILD_B = 222_222_222_222_222_222


def unit(seed: int, dim: int = DIM) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = rng.standard_normal(dim).astype(np.float32)
    return v / np.linalg.norm(v)


def records(document_id: str, seeds: list[int], *, safe: bool = False) -> list[VectorRecord]:
    return [
        VectorRecord(chunk_id=f"{document_id}:{i}", document_id=document_id, vector=unit(seed), player_safe=safe)
        for i, seed in enumerate(seeds)
    ]


@pytest.fixture(params=["local", "pinecone"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[VectorStore]:
    if request.param == "local":
        local = LocalVectorStore(tmp_path / "vectors")
        yield local
        await local.aclose()
        return
    async with running_indexes(2, DIM) as fakes:
        remote = PineconeVectorStore(API_KEY, [f.host for f in fakes])
        remote.fakes = fakes  # type: ignore[attr-defined]
        yield remote
        await remote.aclose()


async def test_query_returns_nearest_first_with_scores(store: VectorStore) -> None:
    await store.upsert(GUILD_A, records("doc1", [1, 2, 3]))
    hits = await store.query(GUILD_A, unit(2), 3, player_safe_only=False)
    assert hits[0].chunk_id == "doc1:1"
    assert hits[0].score == pytest.approx(1.0, abs=1e-4)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert hits[0].metadata["document_id"] == "doc1"


async def test_upsert_overwrites_same_chunk_id(store: VectorStore) -> None:
    await store.upsert(GUILD_A, records("doc1", [1, 2]))
    await store.upsert(GUILD_A, records("doc1", [5]))  # doc1:0 now points at seed 5
    assert await store.count(GUILD_A) == 2
    hits = await store.query(GUILD_A, unit(5), 1, player_safe_only=False)
    assert hits[0].chunk_id == "doc1:0"
    assert hits[0].score == pytest.approx(1.0, abs=1e-4)


async def test_guilds_never_see_each_other(store: VectorStore) -> None:
    await store.upsert(GUILD_A, records("docA", [1, 2]))
    await store.upsert(GUILD_B, records("docB", [1, 2]))
    hits_a = await store.query(GUILD_A, unit(1), 10, player_safe_only=False)
    hits_b = await store.query(GUILD_B, unit(1), 10, player_safe_only=False)
    assert {h.metadata["document_id"] for h in hits_a} == {"docA"}
    assert {h.metadata["document_id"] for h in hits_b} == {"docB"}
    await store.delete_guild(GUILD_A)
    assert await store.query(GUILD_A, unit(1), 10, player_safe_only=False) == []
    assert len(await store.query(GUILD_B, unit(1), 10, player_safe_only=False)) == 2


async def test_campaigns_of_one_guild_never_see_each_other(store: VectorStore) -> None:
    court, frogs = CampaignScope(GUILD_A, 1), CampaignScope(GUILD_A, 2)
    await store.upsert(GUILD_A, records("docDefault", [1, 2]))  # the guild's default campaign, as before campaigns
    await store.upsert(court, records("docCourt", [1, 2]))
    await store.upsert(frogs, records("docFrogs", [1, 2, 3]))
    for scope, expected in ((GUILD_A, "docDefault"), (court, "docCourt"), (frogs, "docFrogs")):
        hits = await store.query(scope, unit(1), 10, player_safe_only=False)
        assert {h.metadata["document_id"] for h in hits} == {expected}
    assert (await store.count(frogs), await store.count(CampaignScope(GUILD_A))) == (3, 2)
    await store.delete_guild(court)  # deleting a campaign leaves the others
    assert await store.query(court, unit(1), 10, player_safe_only=False) == []
    assert await store.count(frogs) == 3
    assert len(await store.query(GUILD_A, unit(1), 10, player_safe_only=False)) == 2


async def test_player_safe_filter_and_toggle(store: VectorStore) -> None:
    await store.upsert(GUILD_A, records("secret", [1, 2]) + records("public", [3], safe=True))
    hits = await store.query(GUILD_A, unit(1), 10, player_safe_only=True)
    assert {h.metadata["document_id"] for h in hits} == {"public"}
    await store.set_player_safe(GUILD_A, "secret", True)
    hits = await store.query(GUILD_A, unit(1), 10, player_safe_only=True)
    assert {h.metadata["document_id"] for h in hits} == {"public", "secret"}
    await store.set_player_safe(GUILD_A, "public", False)
    hits = await store.query(GUILD_A, unit(1), 10, player_safe_only=True)
    assert {h.metadata["document_id"] for h in hits} == {"secret"}


async def test_document_filter(store: VectorStore) -> None:
    await store.upsert(GUILD_A, records("old", [1, 2]) + records("new", [3, 4]))
    hits = await store.query(GUILD_A, unit(1), 10, player_safe_only=False, document_ids=["new"])
    assert {h.metadata["document_id"] for h in hits} == {"new"}
    assert await store.query(GUILD_A, unit(1), 10, player_safe_only=False, document_ids=[]) == []


async def test_delete_document_removes_only_that_document(store: VectorStore) -> None:
    await store.upsert(GUILD_A, records("keep", [1, 2]) + records("drop", [3, 4, 5]))
    await store.upsert(GUILD_B, records("drop", [3]))
    await store.delete_document(GUILD_A, "drop")
    assert await store.count(GUILD_A) == 2
    hits = await store.query(GUILD_A, unit(3), 10, player_safe_only=False)
    assert {h.metadata["document_id"] for h in hits} == {"keep"}
    assert await store.count(GUILD_B) == 1


async def test_prune_keeps_only_the_named_vectors_at_their_latest(store: VectorStore) -> None:
    await store.upsert(GUILD_A, records("a", [1, 2]) + records("b", [3]))
    await store.upsert(GUILD_A, records("a", [7]))  # a:0 rewritten (a re-embedding in place)
    await store.upsert(GUILD_B, records("a", [1]))
    await store.prune(GUILD_A, {"a": ["a:0"]})
    assert await store.count(GUILD_A) == 1
    [hit] = await store.query(GUILD_A, unit(7), 5, player_safe_only=False)
    assert (hit.chunk_id, round(hit.score, 3)) == ("a:0", 1.0)
    assert await store.count(GUILD_B) == 1  # another guild is never touched
    await store.prune(GUILD_B + 1, {})  # a guild without vectors: nothing to do


async def test_delete_of_unknown_things_is_quiet(store: VectorStore) -> None:
    await store.delete_document(GUILD_A, "nothing")
    await store.delete_guild(GUILD_A)
    assert await store.count(GUILD_A) == 0
    assert await store.query(GUILD_A, unit(1), 5, player_safe_only=False) == []


async def test_large_upsert_is_batched_within_pinecone_limits(tmp_path: Path) -> None:
    dim = 1536
    async with running_indexes(1, dim) as (fake,):
        store = PineconeVectorStore(API_KEY, [fake.host])
        try:
            recs = [VectorRecord(f"doc:{i:05d}", "doc", unit(i, dim)) for i in range(1200)]
            await store.upsert(GUILD_A, recs)
            assert len(fake.vectors(namespace_for(GUILD_A))) == 1200
            upserts = [r for r in fake.requests if r[1] == "/vectors/upsert"]
            assert len(upserts) >= 2
            assert all(size <= 2_000_000 for _, _, size in upserts)  # the fake refuses more (it did not)
        finally:
            await store.aclose()


async def test_pinecone_keeps_only_what_the_bot_reads_back() -> None:
    async with running_indexes(1, DIM) as (fake,):
        store = PineconeVectorStore(API_KEY, [fake.host])
        try:
            await store.upsert(GUILD_A, records("d" * 32, [1], safe=True))
            stored = fake.vectors(namespace_for(GUILD_A))["d" * 32 + ":0"]
            assert stored.metadata == {"guild_id": str(GUILD_A), "document_id": "d" * 32, "player_safe": True}
            [hit] = await store.query(GUILD_A, unit(1), 1, player_safe_only=True)
            assert hit.chunk_id == "d" * 32 + ":0"
        finally:
            await store.aclose()


async def test_pinecone_failed_batch_is_retried_then_reported(tmp_path: Path) -> None:
    from bot.memory.stores import VectorStoreError

    async with running_indexes(1, DIM) as (fake,):
        store = PineconeVectorStore(API_KEY, [fake.host])
        try:
            fake.fail_upsert = lambda body: 400  # deterministic refusal on every request
            with pytest.raises(VectorStoreError):
                await store.upsert(GUILD_A, records("doc", [1, 2, 3]))
            calls = iter([400])  # first request refused, the retry lands
            fake.fail_upsert = lambda body: next(calls, None)
            await store.upsert(GUILD_A, records("doc", [1, 2, 3]))
            assert len(fake.vectors(namespace_for(GUILD_A))) == 3
        finally:
            await store.aclose()


async def test_pinecone_uses_one_namespace_per_guild_and_deletes_it(tmp_path: Path) -> None:
    async with running_indexes(1, DIM) as (fake,):
        store = PineconeVectorStore(API_KEY, [fake.host])
        try:
            await store.upsert(GUILD_A, records("a", [1]))
            await store.upsert(GUILD_B, records("b", [1]))
            assert set(fake.namespaces) == {namespace_for(GUILD_A), namespace_for(GUILD_B)}
            await store.delete_guild(GUILD_A)
            assert set(fake.namespaces) == {namespace_for(GUILD_B)}
        finally:
            await store.aclose()


async def test_pinecone_keeps_the_default_campaign_in_the_guilds_namespace_and_a_named_one_apart() -> None:
    async with running_indexes(1, DIM) as (fake,):
        store = PineconeVectorStore(API_KEY, [fake.host])
        try:
            await store.upsert(GUILD_A, records("a", [1]))
            await store.upsert(CampaignScope(GUILD_A, 7), records("b", [1]))
            assert namespace_for(CampaignScope(GUILD_A)) == namespace_for(GUILD_A) == f"guild-{GUILD_A}"
            assert set(fake.namespaces) == {f"guild-{GUILD_A}", f"guild-{GUILD_A}-c7"}
            [stored] = fake.vectors(f"guild-{GUILD_A}-c7").values()
            assert stored.metadata["campaign_id"] == "7"
            assert "campaign_id" not in next(iter(fake.vectors(f"guild-{GUILD_A}").values())).metadata
        finally:
            await store.aclose()


async def test_pinecone_guilds_spread_over_configured_indexes() -> None:
    async with running_indexes(3, DIM) as fakes:
        store = PineconeVectorStore(API_KEY, [f.host for f in fakes])
        try:
            guilds = [10_000 + i for i in range(30)]
            for guild in guilds:
                await store.upsert(guild, records("d", [guild]))
            used = [f for f in fakes if f.namespaces]
            assert len(used) == 3
            for guild in guilds:
                owner = next(f for f in fakes if f.host == store.host_for(guild))
                assert namespace_for(guild) in owner.namespaces
        finally:
            await store.aclose()


def test_jump_hash_only_moves_keys_to_an_appended_index() -> None:
    keys = range(1, 5001)
    before = {k: jump_hash(k, 4) for k in keys}
    after = {k: jump_hash(k, 5) for k in keys}
    moved = [k for k in keys if before[k] != after[k]]
    assert all(after[k] == 4 for k in moved)
    assert 0.1 < len(moved) / len(before) < 0.3


async def test_local_store_sees_writes_of_another_process(tmp_path: Path) -> None:
    reader = LocalVectorStore(tmp_path)
    writer = LocalVectorStore(tmp_path)  # e.g. the CLI, with its own cache
    await writer.upsert(GUILD_A, records("d", [1]))
    assert await reader.count(GUILD_A) == 1
    await writer.upsert(GUILD_A, records("e", [2]))
    await writer.delete_document(GUILD_A, "d")
    hits = await reader.query(GUILD_A, unit(1), 5, player_safe_only=False)
    assert {h.metadata["document_id"] for h in hits} == {"e"}


async def test_local_store_persists_across_instances(tmp_path: Path) -> None:
    first = LocalVectorStore(tmp_path)
    await first.upsert(GUILD_A, records("d", [1, 2, 3], safe=True))
    await first.aclose()
    second = LocalVectorStore(tmp_path)
    hits = await second.query(GUILD_A, unit(3), 1, player_safe_only=True)
    assert hits[0].chunk_id == "d:2"
    assert not [p for p in os.listdir(tmp_path / f"g{GUILD_A}") if p.startswith(".tmp-")]


async def test_local_store_rejects_mismatched_query_dimension(tmp_path: Path) -> None:
    from bot.memory.stores import VectorStoreError

    store = LocalVectorStore(tmp_path)
    await store.upsert(GUILD_A, records("d", [1]))
    with pytest.raises(VectorStoreError):
        await store.query(GUILD_A, unit(1, 8), 1, player_safe_only=False)


async def test_local_store_keeps_a_loaded_guild_current_without_rereading_files(tmp_path: Path) -> None:
    store = LocalVectorStore(tmp_path)
    await store.upsert(GUILD_A, records("a", [1, 2]))
    assert len(await store.query(GUILD_A, unit(1), 5, player_safe_only=False)) == 2  # loads from disk once

    def no_reload(*args: object) -> None:
        raise AssertionError("the guild was re-read from disk")

    store._load = no_reload  # type: ignore[method-assign,assignment]
    await store.upsert(GUILD_A, records("b", [3]))
    await store.upsert(GUILD_A, records("a", [4]))  # overwrites a:0
    hits = await store.query(GUILD_A, unit(4), 5, player_safe_only=False)
    assert hits[0].chunk_id == "a:0"
    assert hits[0].score == pytest.approx(1.0, abs=1e-4)
    assert len(hits) == 3
    await store.delete_document(GUILD_A, "a")
    assert [h.chunk_id for h in await store.query(GUILD_A, unit(3), 5, player_safe_only=False)] == ["b:0"]
    fresh = LocalVectorStore(tmp_path)  # and the files agree with the cache
    assert [h.chunk_id for h in await fresh.query(GUILD_A, unit(3), 5, player_safe_only=False)] == ["b:0"]


async def test_pinecone_deletes_a_guild_at_its_previous_index_only() -> None:
    async with running_indexes(2, DIM) as (old, new):
        before = PineconeVectorStore(API_KEY, [old.host])
        after = PineconeVectorStore(API_KEY, [new.host])
        try:
            await before.upsert(GUILD_A, records("a", [1]))
            await after.upsert(GUILD_A, records("a", [1]))
            await after.delete_guild_at(GUILD_A, "local")  # a location it cannot reach is left alone
            await after.delete_guild_at(GUILD_A, before.location(GUILD_A))
            assert namespace_for(GUILD_A) not in old.namespaces
            assert namespace_for(GUILD_A) in new.namespaces
            assert await after.count(GUILD_A) == 1
        finally:
            await before.aclose()
            await after.aclose()


async def test_local_store_deletes_a_guild_only_at_its_own_location(tmp_path: Path) -> None:
    store = LocalVectorStore(tmp_path / "vectors")
    await store.upsert(GUILD_A, records("a", [1, 2]))
    await store.delete_guild_at(GUILD_A, "pinecone:index-1.example")
    assert await store.count(GUILD_A) == 2
    await store.delete_guild_at(GUILD_A, store.location(GUILD_A))
    assert await store.count(GUILD_A) == 0


async def test_local_store_reports_a_failed_write_as_a_store_error(tmp_path: Path) -> None:
    from bot.memory.stores import VectorStoreError

    store = LocalVectorStore(tmp_path / "vectors")
    await store.upsert(GUILD_A, records("a", [1]))

    def disk_full(*args: object) -> str:
        raise OSError(errno.ENOSPC, "No space left on device")

    store._write = disk_full  # type: ignore[method-assign,assignment]
    with pytest.raises(VectorStoreError, match="could not write vector files: No space left on device"):
        await store.upsert(GUILD_A, records("b", [2]))
    assert await store.count(GUILD_A) == 1
