"""Helpers for campaign-memory tests: a small deterministic embedder and ways to make it fail."""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["EmbedderBroke", "FailingEmbedder", "HashingEmbedder"]

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
