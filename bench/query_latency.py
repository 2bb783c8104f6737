"""Local vector store latency at 10k and 100k chunks (random unit 384-d vectors): query p50/p99 with and
without filters, cold load, insert and delete-one-document times; and the whole `CampaignMemory.search` path
(store query, SQLite join back to the visible chunks, BM25 re-rank) with the query embedding excluded.

Run: `.venv/bin/python -m bench query_latency [--sizes 10000 100000] [--queries 300]`.
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
import numpy.typing as npt
from sqlalchemy import insert

from bench._corpus import WORDS, unit_rows
from bot.kv import MemoryKeyValue
from bot.memory import CampaignMemory
from bot.memory.stores import LocalVectorStore, VectorRecord
from db.engine import create_engine, create_sessionmaker
from db.migrate import upgrade
from db.models.campaign import CampaignChunk, CampaignDocument, CampaignMemoryRecord, DocumentStatus
from db.models.guild import Guild

DIM = 384
GUILD = 1
DOCS = 100  # chunks are spread over this many documents


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


class FixedEmbedder:
    """Returns pre-drawn query vectors so the figure excludes the embedding model."""

    id = "bench:fixed:384"
    dimension = DIM

    def __init__(self, queries: npt.NDArray[np.float32]) -> None:
        self._queries = queries
        self._next = 0

    async def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        raise NotImplementedError

    async def embed_query(self, text: str) -> npt.NDArray[np.float32]:
        vector = self._queries[self._next % len(self._queries)]
        self._next += 1
        return vector

    async def aclose(self) -> None:
        return None


async def measure(size: int, queries: int, root: Path) -> dict[str, float]:
    rng = np.random.default_rng(size)
    matrix = unit_rows(rng, size, DIM)
    per_doc = size // DOCS
    doc_ids = [f"{d:032x}" for d in range(DOCS)]
    safe_docs = set(doc_ids[::4])  # a quarter of the documents are player-safe
    store = LocalVectorStore(root / "vectors")
    started = time.perf_counter()
    for d, doc in enumerate(doc_ids):
        rows = matrix[d * per_doc : (d + 1) * per_doc]
        await store.upsert(
            GUILD,
            [VectorRecord(f"{doc}:{i:05d}", doc, rows[i], player_safe=doc in safe_docs) for i in range(len(rows))],
        )
    insert_s = time.perf_counter() - started

    probe = unit_rows(rng, queries, DIM)
    cold = LocalVectorStore(root / "vectors")  # a fresh process: loads every file on first query
    t0 = time.perf_counter()
    await cold.query(GUILD, probe[0], 8, player_safe_only=False)
    cold_ms = (time.perf_counter() - t0) * 1000

    async def timed(**kwargs: object) -> list[float]:
        out = []
        for q in probe:
            t = time.perf_counter()
            await cold.query(GUILD, q, 8, **kwargs)  # type: ignore[arg-type]
            out.append(time.perf_counter() - t)
        return out

    plain = await timed(player_safe_only=False)
    safe = await timed(player_safe_only=True)
    one_doc = await timed(player_safe_only=False, document_ids=[doc_ids[7]])
    t0 = time.perf_counter()
    await cold.delete_document(GUILD, doc_ids[3])
    await cold.query(GUILD, probe[0], 8, player_safe_only=False)  # the next query after the change
    delete_ms = (time.perf_counter() - t0) * 1000

    # whole search path: chunk rows in SQLite, store query for 30 candidates, join, BM25 re-rank to 5
    engine = create_engine(f"sqlite+aiosqlite:///{root / 'bench.sqlite3'}")
    await upgrade(engine)
    sessionmaker = create_sessionmaker(engine)
    async with sessionmaker.begin() as session:
        await session.execute(insert(Guild).values(id=GUILD, name="bench"))
        session.add(
            CampaignMemoryRecord(
                guild_id=GUILD, embedder_id=FixedEmbedder.id, dimension=DIM, store_location="local", canon_names=[]
            )
        )
        for d, doc in enumerate(doc_ids):
            if doc == doc_ids[3]:
                continue
            row = CampaignDocument(
                guild_id=GUILD,
                document_id=doc,
                file_name=f"doc{d}.md",
                kind="markdown",
                size_bytes=per_doc * 800,
                chunk_count=per_doc,
                player_safe=doc in safe_docs,
                status=DocumentStatus.READY,
            )
            session.add(row)
            await session.flush()
            text = " ".join(WORDS[(d + j) % len(WORDS)] for j in range(120))
            await session.execute(
                insert(CampaignChunk),
                [
                    {
                        "guild_id": GUILD,
                        "document_row_id": row.id,
                        "document_id": doc,
                        "chunk_id": f"{doc}:{i:05d}",
                        "index": i,
                        "text": text,
                        "heading": f"Doc {d} › Section {i // 10}",
                        "page": None,
                    }
                    for i in range(per_doc)
                ],
            )
    memory = CampaignMemory(sessionmaker, MemoryKeyValue(), cold, FixedEmbedder(probe))
    await memory.search(GUILD, "warm up", k=5)
    full = []
    for _ in range(queries):
        t = time.perf_counter()
        await memory.search(GUILD, "lantern shrine on the moor", k=5)
        full.append(time.perf_counter() - t)
    await engine.dispose()

    return {
        "insert_s": insert_s,
        "cold_ms": cold_ms,
        "p50": pct(plain, 0.5),
        "p99": pct(plain, 0.99),
        "safe_p50": pct(safe, 0.5),
        "safe_p99": pct(safe, 0.99),
        "doc_p50": pct(one_doc, 0.5),
        "doc_p99": pct(one_doc, 0.99),
        "delete_ms": delete_ms,
        "search_p50": pct(full, 0.5),
        "search_p99": pct(full, 0.99),
        "mean": statistics.fmean(plain) * 1000,
    }


async def run(sizes: Sequence[int], queries: int) -> None:
    print(
        "| chunks | query p50 / p99 ms | player-safe filter p50 / p99 | one-document filter p50 / p99 | "
        "cold load + first query ms | insert s | delete one document + next query ms | `CampaignMemory.search` p50 / p99 |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            r = await measure(size, queries, Path(tmp))
        print(
            f"| {size:,} | {r['p50']:.1f} / {r['p99']:.1f} | {r['safe_p50']:.1f} / {r['safe_p99']:.1f} | "
            f"{r['doc_p50']:.1f} / {r['doc_p99']:.1f} | {r['cold_ms']:.0f} | {r['insert_s']:.1f} | "
            f"{r['delete_ms']:.0f} | {r['search_p50']:.1f} / {r['search_p99']:.1f} |",
            flush=True,
        )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench query_latency", description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args(argv)
    asyncio.run(run(args.sizes, args.queries))
    return 0
