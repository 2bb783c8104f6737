"""Search latency of one campaign among several in a guild, for the two ways to keep campaigns apart in a
vector store (docs/campaigns.md):

- `namespace`: what ships, one namespace (Pinecone) or folder (local) per campaign; a query reads its campaign's
  vectors only;
- `filter`: every campaign of the guild in the guild's namespace, a query filtered on metadata (here the
  store's `document_ids` filter on the campaign's documents, the same `$in` metadata filter a campaign field
  would need).

Both stores: the local store and the loopback Pinecone fake (tests/fakes/pinecone.py: real HTTP and the real
`pinecone` client, an exact in-process search, so its figures show the client and wire cost and how the scan
grows with what the namespace holds, not Pinecone's own serving). Random unit 384-d vectors; the query
embedding is excluded.

Run: `.venv/bin/python -m bench campaign_scope [--campaigns 8] [--chunks 2000] [--pinecone-chunks 300]
[--queries 200]`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bench._corpus import unit_rows
from bot.memory.scope import CampaignScope
from bot.memory.stores import LocalVectorStore, VectorRecord, VectorStore
from bot.memory.stores.pinecone_store import PineconeVectorStore
from tests.fakes.pinecone import API_KEY, running_indexes

DIM = 384
GUILD = 4242
DOCS_PER_CAMPAIGN = 10


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


def _doc(campaign: int, d: int) -> str:
    return f"{campaign:04x}{d:028x}"


async def _load(store: VectorStore, campaigns: int, chunks: int, rng: np.random.Generator) -> None:
    """Each campaign's chunks twice: in its own scope (namespace) and in the guild's default one (filter)."""
    per_doc = max(1, chunks // DOCS_PER_CAMPAIGN)
    for c in range(1, campaigns + 1):
        rows = unit_rows(rng, per_doc * DOCS_PER_CAMPAIGN, DIM)
        records = [
            VectorRecord(f"{_doc(c, d)}:{i:05d}", _doc(c, d), rows[d * per_doc + i])
            for d in range(DOCS_PER_CAMPAIGN)
            for i in range(per_doc)
        ]
        for start in range(0, len(records), 500):
            batch = records[start : start + 500]
            await store.upsert(CampaignScope(GUILD, c), batch)
            await store.upsert(CampaignScope(GUILD), batch)


async def _time(store: VectorStore, campaigns: int, queries: int, rng: np.random.Generator) -> dict[str, list[float]]:
    probes = unit_rows(rng, queries, DIM)
    times: dict[str, list[float]] = {"namespace": [], "filter": []}
    for n, probe in enumerate(probes):
        c = 1 + n % campaigns
        docs = [_doc(c, d) for d in range(DOCS_PER_CAMPAIGN)]
        started = time.perf_counter()
        own = await store.query(CampaignScope(GUILD, c), probe, 20, player_safe_only=False)
        times["namespace"].append(time.perf_counter() - started)
        started = time.perf_counter()
        filtered = await store.query(CampaignScope(GUILD), probe, 20, player_safe_only=False, document_ids=docs)
        times["filter"].append(time.perf_counter() - started)
        assert {h.metadata["document_id"] for h in own} <= set(docs)
        assert {h.metadata["document_id"] for h in filtered} <= set(docs)
    return times


def _report(name: str, campaigns: int, chunks: int, times: dict[str, list[float]]) -> None:
    for way, values in times.items():
        print(
            f"{name:8} {way:9} {campaigns} campaigns x {chunks} chunks: "
            f"p50 {pct(values, 0.5):7.2f} ms  p99 {pct(values, 0.99):7.2f} ms  "
            f"mean {statistics.fmean(values) * 1000:7.2f} ms"
        )


async def run(campaigns: int, chunks: int, pinecone_chunks: int, queries: int) -> None:
    rng = np.random.default_rng(7)
    with tempfile.TemporaryDirectory() as tmp:
        local = LocalVectorStore(Path(tmp))
        await _load(local, campaigns, chunks, rng)
        await _time(local, campaigns, 10, rng)  # warm the caches of every folder
        _report("local", campaigns, chunks, await _time(local, campaigns, queries, rng))
    async with running_indexes(1, DIM) as (index,):
        remote = PineconeVectorStore(API_KEY, [index.host])
        try:
            await _load(remote, campaigns, pinecone_chunks, rng)
            await _time(remote, campaigns, 5, rng)
            _report("pinecone", campaigns, pinecone_chunks, await _time(remote, campaigns, queries, rng))
        finally:
            await remote.aclose()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench campaign_scope", description=__doc__)
    parser.add_argument("--campaigns", type=int, default=8)
    parser.add_argument("--chunks", type=int, default=2000, help="chunks per campaign in the local store")
    parser.add_argument("--pinecone-chunks", type=int, default=300, help="chunks per campaign in the fake")
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args(argv)
    asyncio.run(run(args.campaigns, args.chunks, args.pinecone_chunks, args.queries))
    return 0
