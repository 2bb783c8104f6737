"""The vector store protocol and the values it takes and returns.

Vectors are float32 and L2-normalised by the embedder, so cosine similarity is a dot product. Chunk text and
citations live in the database (`db.models.campaign`); a store keeps only what it filters on and reads back: the
chunk and document ids and the player-safe flag (a few dozen bytes per vector, whatever the chunk's heading or
text).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

__all__ = ["Vector", "VectorHit", "VectorRecord", "VectorStore", "VectorStoreError"]

Vector = npt.NDArray[np.float32]


class VectorStoreError(RuntimeError):
    """The store could not complete a write or a query (after its own retries)."""


@dataclass(frozen=True, slots=True)
class VectorRecord:
    """One chunk's vector and what a store filters on."""

    chunk_id: str
    document_id: str
    vector: Vector
    player_safe: bool = False
    gm_only: bool = False  # a GM-only passage (secret callout): never player-safe, whatever its document's visibility


class VectorHit(NamedTuple):
    """A query match: `(chunk_id, score, metadata)`; metadata has at least `document_id` and `player_safe`."""

    chunk_id: str
    score: float
    metadata: dict[str, Any]


@runtime_checkable
class VectorStore(Protocol):
    """Per-guild vector storage. No method ever reads or writes another guild's vectors."""

    name: str

    def location(self, guild_id: int) -> str:
        """Where this guild's vectors live (recorded per guild; a change means re-embedding)."""

    async def upsert(self, guild_id: int, records: Sequence[VectorRecord]) -> None:
        """Insert or overwrite records by chunk id."""

    async def query(
        self,
        guild_id: int,
        vector: Vector,
        k: int,
        *,
        player_safe_only: bool,
        document_ids: Sequence[str] | None = None,
    ) -> list[VectorHit]:
        """The `k` nearest records of this guild, best first, optionally filtered."""

    async def delete_document(self, guild_id: int, document_id: str, chunk_ids: Sequence[str] = ()) -> None:
        """Remove every vector of one document version (`chunk_ids` names ones a lagging listing may miss)."""

    async def set_player_safe(
        self, guild_id: int, document_id: str, player_safe: bool, *, gm_only: Sequence[str] = ()
    ) -> None:
        """Change the visibility flag carried by every vector of one document but its `gm_only` chunk ids (GM-only
        passages), which stay not player-safe."""

    async def prune(self, guild_id: int, keep: Mapping[str, Collection[str]]) -> None:
        """Remove every vector of this guild but those of `keep` (document id -> chunk ids), and anything they
        replaced: after a re-embedding wrote new vectors in place and the guild switched to them."""

    async def delete_guild(self, guild_id: int) -> None:
        """Remove all of this guild's vectors."""

    async def delete_guild_at(self, guild_id: int, location: str) -> None:
        """Remove this guild's vectors at `location`, where an earlier configuration recorded them (after they
        were re-embedded into the current one); a location this store cannot reach is left alone."""

    async def count(self, guild_id: int) -> int:
        """Number of vectors stored for this guild (may lag on eventually consistent stores)."""

    async def aclose(self) -> None:
        """Release clients and caches."""
