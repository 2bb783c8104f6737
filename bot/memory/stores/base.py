"""The vector store protocol and the values it takes and returns.

Vectors are float32 and L2-normalised by the embedder, so cosine similarity is a dot product. Chunk text and
citations live in the database (`db.models.campaign`); a store keeps what it needs to filter: the document id
and the player-safe flag (Pinecone also carries the citation fields as metadata, within its limits).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from bot.memory.scope import ScopeLike

__all__ = ["MetadataValue", "Vector", "VectorHit", "VectorRecord", "VectorStore", "VectorStoreError"]

Vector = npt.NDArray[np.float32]
MetadataValue = str | int | float | bool


class VectorStoreError(RuntimeError):
    """The store could not complete a write or a query (after its own retries)."""


@dataclass(frozen=True, slots=True)
class VectorRecord:
    """One chunk's vector and filterable metadata. `extra` (file, heading, page, text …) goes to stores that
    keep metadata; values must not be None."""

    chunk_id: str
    document_id: str
    vector: Vector
    player_safe: bool = False
    extra: Mapping[str, MetadataValue] = field(default_factory=dict)


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

    async def set_player_safe(self, scope: ScopeLike, document_id: str, player_safe: bool) -> None:
        """Change the visibility flag carried by every vector of one document."""

    async def delete_guild(self, scope: ScopeLike) -> None:
        """Remove all of this campaign's vectors."""

    async def delete_guild_at(self, scope: ScopeLike, location: str) -> None:
        """Remove this campaign's vectors at `location`, where an earlier configuration recorded them (after they
        were re-embedded into the current one); a location this store cannot reach is left alone."""

    async def count(self, scope: ScopeLike) -> int:
        """Number of vectors stored for this campaign (may lag on eventually consistent stores)."""

    async def aclose(self) -> None:
        """Release clients and caches."""
