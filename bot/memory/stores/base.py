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

from bot.memory.scope import ScopeLike

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
    """Vector storage per campaign (`scope`; a bare guild id is its default campaign). No method ever reads or
    writes another campaign's vectors, let alone another guild's."""

    name: str

    def location(self, scope: ScopeLike) -> str:
        """Where this campaign's vectors live (recorded per campaign; a change means re-embedding)."""

    async def upsert(self, scope: ScopeLike, records: Sequence[VectorRecord]) -> None:
        """Insert or overwrite records by chunk id."""

    async def query(
        self,
        scope: ScopeLike,
        vector: Vector,
        k: int,
        *,
        player_safe_only: bool,
        document_ids: Sequence[str] | None = None,
    ) -> list[VectorHit]:
        """The `k` nearest records of this campaign, best first, optionally filtered."""

    async def delete_document(self, scope: ScopeLike, document_id: str, chunk_ids: Sequence[str] = ()) -> None:
        """Remove every vector of one document version (`chunk_ids` names ones a lagging listing may miss)."""

    async def set_player_safe(
        self, scope: ScopeLike, document_id: str, player_safe: bool, *, gm_only: Sequence[str] = ()
    ) -> None:
        """Change the visibility flag carried by every vector of one document but its `gm_only` chunk ids (GM-only
        passages), which stay not player-safe."""

    async def prune(self, scope: ScopeLike, keep: Mapping[str, Collection[str]]) -> None:
        """Remove every vector of this campaign but those of `keep` (document id -> chunk ids), and anything they
        replaced: after a re-embedding wrote new vectors in place and the campaign switched to them."""

    async def delete_guild(self, scope: ScopeLike) -> None:
        """Remove all of this campaign's vectors."""

    async def delete_guild_at(self, scope: ScopeLike, location: str) -> None:
        """Remove this campaign's vectors at `location`, where an earlier configuration recorded them (after they
        were re-embedded into the current one); a location this store cannot reach is left alone."""

    async def count(self, scope: ScopeLike) -> int:
        """Number of vectors stored for this campaign (may lag on eventually consistent stores)."""

    async def aclose(self) -> None:
        """Release clients and caches."""
