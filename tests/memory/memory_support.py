"""Helpers for campaign-memory tests: a small deterministic embedder and ways to make it fail, sample notes, and
a rig of `CampaignMemory` instances sharing one database, key-value store and vector store."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import itertools
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.kv import MemoryKeyValue
from bot.memory import CampaignMemory, MemoryConfig
from bot.memory.embedders import Embedder
from bot.memory.stores import LocalVectorStore, PineconeVectorStore, VectorStore
from bot.memory.types import MemoryLimit, UploadLimit
from bot.tasks import BackgroundTasks
from db.engine import create_sessionmaker
from db.models.campaign import CampaignChunk, CampaignDocument
from tests.fakes.pinecone import API_KEY, running_indexes

__all__ = [
    "DIM",
    "NOTES_V1",
    "NOTES_V2",
    "EmbedderBroke",
    "FailingEmbedder",
    "HashingEmbedder",
    "Rig",
    "many_sections",
    "new_guild",
    "open_rig",
]

_WORD = re.compile(r"[a-z0-9]+")


class HashingEmbedder:
    """Bag of hashed words, L2-normalised: cheap, deterministic, and similar texts score high.

    Implements the `bot.memory.embedders.Embedder` protocol so the service runs unchanged.
    """

    def __init__(self, dimension: int = 256, *, name: str = "test:hashing") -> None:
        self.dimension = dimension
        self.id = f"{name}:{dimension}"
        self.calls = 0
        self.texts_embedded = 0
        self.queries: list[str] = []

    def _one(self, text: str) -> npt.NDArray[np.float32]:
        vector = np.zeros(self.dimension, dtype=np.float32)
        for word in _WORD.findall(text.lower()):
            digest = hashlib.blake2b(word.encode(), digest_size=4).digest()
            vector[int.from_bytes(digest, "little") % self.dimension] += 1.0
        norm = float(np.linalg.norm(vector))
        if norm == 0:
            vector[0] = 1.0
            return vector
        return vector / norm

    async def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.calls += 1
        self.texts_embedded += len(texts)
        await asyncio.sleep(0)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._one(t) for t in texts])

    async def embed_query(self, text: str) -> npt.NDArray[np.float32]:
        self.queries.append(text)
        return self._one(text)

    async def aclose(self) -> None:
        return None


class EmbedderBroke(RuntimeError):
    """Injected failure."""


class FailingEmbedder(HashingEmbedder):
    """Works for `ok_batches` calls of `embed`, then raises (or hangs, to be cancelled)."""

    def __init__(self, ok_batches: int, *, hang: bool = False, dimension: int = 256) -> None:
        super().__init__(dimension)
        self.ok_batches = ok_batches
        self.hang = hang
        self.reached = asyncio.Event()

    async def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        if self.calls >= self.ok_batches:
            self.reached.set()
            if self.hang:
                await asyncio.Event().wait()
            raise EmbedderBroke("embedding service fell over")
        return await super().embed(texts)


DIM = 256
_guild_ids = itertools.count(900_000_000_000_000_001)


def new_guild() -> int:
    return next(_guild_ids)


NOTES_V1 = b"""# Harbor Town

## The Salty Eel

The Salty Eel is a tavern run by Marnie Quill. She waters the ale and sells rumours about the smugglers.

## The Lighthouse

The lighthouse keeper Oswin Tarrow keeps a logbook of every ship that passes at night.
"""

NOTES_V2 = b"""# Harbor Town

## The Drowned Bell

The Drowned Bell is a tavern run by Petra Vane since the fire. She serves eel pie and knows the tide tables.

## The Lighthouse

The lighthouse keeper Oswin Tarrow keeps a logbook of every ship that passes at night.
"""


def many_sections(prefix: str, n: int) -> bytes:
    parts = [f"# {prefix} gazetteer\n"]
    for i in range(n):
        parts.append(f"\n## {prefix} place {i}\n\nThe {prefix} place number {i} has a well, a mill and a shrine {i}.\n")
    return "".join(parts).encode()


@dataclass
class Rig:
    """`memory` and whatever `make` builds share the database, kv and store (not in-process caches): each made
    memory stands for another process."""

    memory: CampaignMemory
    store: VectorStore
    embedder: HashingEmbedder
    kv: MemoryKeyValue
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]

    def make(
        self,
        embedder: Embedder | None = None,
        *,
        upload_limit: UploadLimit | None = None,
        memory_limit: MemoryLimit | None = None,
        background: BackgroundTasks | None = None,
        **config: int,
    ) -> CampaignMemory:
        """Another memory over the same data; `config` overrides `MemoryConfig` fields (embed batches of 2)."""
        return CampaignMemory(
            self.sessionmaker,
            self.kv,
            self.store,
            embedder or self.embedder,
            dataclasses.replace(MemoryConfig(embed_batch=2), **config),
            upload_limit=upload_limit,
            memory_limit=memory_limit,
            background=background,
        )

    async def chunk_rows(self, guild_id: int) -> list[CampaignChunk]:
        async with self.sessionmaker() as session:
            return list(
                (await session.execute(select(CampaignChunk).where(CampaignChunk.guild_id == guild_id))).scalars()
            )

    async def document_rows(self, guild_id: int) -> list[CampaignDocument]:
        async with self.sessionmaker() as session:
            return list(
                (await session.execute(select(CampaignDocument).where(CampaignDocument.guild_id == guild_id))).scalars()
            )


@asynccontextmanager
async def open_rig(kind: str, engine: AsyncEngine, folder: Path) -> AsyncIterator[Rig]:
    """A rig over the `local` store in `folder` or a `pinecone` fake."""
    sessionmaker = create_sessionmaker(engine)
    embedder = HashingEmbedder(DIM)
    async with running_indexes(1, DIM) as fakes:
        store: VectorStore
        if kind == "local":
            store = LocalVectorStore(folder / "vectors")
        else:
            store = PineconeVectorStore(API_KEY, [fakes[0].host])
        kv = MemoryKeyValue()
        memory = CampaignMemory(sessionmaker, kv, store, embedder, MemoryConfig(embed_batch=2))
        try:
            yield Rig(memory, store, embedder, kv, engine, sessionmaker)
        finally:
            await store.aclose()
