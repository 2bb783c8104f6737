"""`PineconeVectorStore`: Pinecone serverless, one namespace per campaign, jump-hashed over several indexes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np

from bot.memory.scope import ScopeLike, as_scope
from bot.memory.stores.base import Vector, VectorHit, VectorRecord, VectorStoreError
from bot.memory.stores.pinecone_admin import check_hosts, describe_error

__all__ = ["PineconeVectorStore", "jump_hash", "namespace_for", "upsert_batch"]

log = logging.getLogger(__name__)


def jump_hash(key: int, buckets: int) -> int:
    """Jump consistent hash (Lamping & Veach 2014): a bucket in `[0, buckets)` for `key`.

    When the bucket list grows at the end from n to n + 1, only about 1/(n + 1) of the keys move, and all of
    them move to the new bucket; no key ever moves between existing buckets.
    """
    if buckets < 1:
        raise ValueError("buckets must be at least 1")
    key &= 0xFFFFFFFFFFFFFFFF
    b, j = -1, 0
    while j < buckets:
        b = j
        key = (key * 2862933555777941757 + 1) & 0xFFFFFFFFFFFFFFFF
        j = int((b + 1) * (float(1 << 31) / float((key >> 33) + 1)))
    return b


def namespace_for(scope: ScopeLike) -> str:
    """The Pinecone namespace holding one campaign's vectors: `guild-<id>` for a guild's default campaign (where
    its vectors were before campaigns existed), `guild-<id>-c<campaign>` for a named one (docs/campaigns.md)."""
    scope = as_scope(scope)
    if scope.is_default:
        return f"guild-{scope.guild_id}"
    return f"guild-{scope.guild_id}-c{scope.campaign_id}"


def _hash_key(scope: ScopeLike) -> int:
    """What picks a campaign's index: the guild id for its default campaign (unchanged since before campaigns),
    else guild and campaign together, so one guild's campaigns spread over the indexes too."""
    scope = as_scope(scope)
    return scope.guild_id if scope.is_default else scope.guild_id * 1_000_003 + scope.campaign_id


MAX_REQUEST_BYTES = 2_000_000  # Pinecone refuses upsert requests over 2 MB
MAX_ID_BYTES = 512  # Pinecone's limit for a vector id


def upsert_batch(dimension: int) -> int:
    """Vectors per upsert request: within 1,000 and, at 11 bytes per value as JSON (`-0.123456, `) plus 400
    bytes of id and metadata, within three quarters of the 2 MB request limit (88 of 1536 dimensions)."""
    return max(1, min(1_000, MAX_REQUEST_BYTES * 3 // 4 // (dimension * 11 + 400)))


DELETE_BATCH = 1_000


class PineconeVectorStore:
    """Pinecone serverless: one namespace per campaign (`namespace_for`) in one of several indexes.

    A Starter project caps an index at 100 namespaces, so `hosts` may list several indexes; a campaign's index is
    `hosts[jump_hash(_hash_key(scope), len(hosts))]`. Append new hosts at the end: a campaign whose index changes
    is re-embedded into the new one by bot.memory.indexing (the location is recorded per campaign), everybody
    else stays.
    Pinecone is eventually consistent: nothing here relies on reading its own writes.
    """

    name = "pinecone"

    def __init__(
        self, api_key: str, hosts: Sequence[str], *, timeout: float = 20.0, controller_host: str | None = None
    ) -> None:
        from pinecone import AsyncPinecone

        if not hosts:
            raise ValueError("PINECONE_INDEX_HOSTS is empty")
        self.hosts = [h.strip() for h in hosts if h.strip()]
        # the control plane (index descriptions) is only read by `check`; None: Pinecone's own
        self._client = AsyncPinecone(api_key=api_key, timeout=timeout, host=controller_host)
        self._indexes: dict[str, Any] = {}
        self._open_lock = asyncio.Lock()

    async def check(self, dimension: int) -> list[str]:
        """One line per configured index that cannot serve `dimension`-dimensional cosine vectors through the
        vectors API (see `pinecone_admin.check_hosts`); empty when every one can."""
        return await check_hosts(self._client, self.hosts, dimension)

    def host_for(self, scope: ScopeLike) -> str:
        """The index host serving this campaign."""
        return self.hosts[jump_hash(_hash_key(scope), len(self.hosts))]

    def location(self, scope: ScopeLike) -> str:
        return f"pinecone:{self.host_for(scope)}"

    async def _index(self, host: str) -> Any:
        index = self._indexes.get(host)
        if index is None:
            async with self._open_lock:
                index = self._indexes.get(host)
                if index is None:
                    index = await self._client.index(host=host)
                    self._indexes[host] = index
        return index

    async def upsert(self, scope: ScopeLike, records: Sequence[VectorRecord]) -> None:
        if not records:
            return
        vectors = [self._to_wire(scope, r) for r in records]
        try:
            index = await self._index(self.host_for(scope))
            await self._upsert(index, namespace_for(scope), vectors)
        except VectorStoreError:
            raise
        except Exception as exc:  # the SDK's own, after its retries: a refusal, a timeout, no connection
            raise VectorStoreError(f"Pinecone: {describe_error(exc)}") from exc

    async def _upsert(self, index: Any, namespace: str, vectors: list[dict[str, Any]]) -> None:
        batch = upsert_batch(len(vectors[0]["values"]))
        response = await index.upsert(
            vectors=vectors, namespace=namespace, batch_size=batch, show_progress=False, max_concurrency=4
        )
        if response.has_errors:
            log.warning(
                "pinecone upsert: %d of %d vectors failed, retrying once", response.failed_item_count, len(vectors)
            )
            retry = await index.upsert(
                vectors=response.failed_items,
                namespace=namespace,
                batch_size=batch,
                show_progress=False,
                max_concurrency=2,
            )
            if retry.has_errors:
                first = retry.errors[0].error if retry.errors else None
                raise VectorStoreError(f"Pinecone refused {retry.failed_item_count} vectors: {first}")

    @staticmethod
    def _vector_id(document_id: str, chunk_id: str) -> str:
        """Vector ids start with the document id so `list(prefix=document_id)` finds a document's vectors."""
        return chunk_id if chunk_id.startswith(document_id) else f"{document_id}:{chunk_id}"

    def _to_wire(self, scope: ScopeLike, record: VectorRecord) -> dict[str, Any]:
        """The record as Pinecone takes it: values rounded to 6 decimals, and metadata of a few dozen bytes (what
        queries filter on and `query` reads back; never text, headings or file names)."""
        scope = as_scope(scope)
        vector_id = self._vector_id(record.document_id, record.chunk_id)
        if len(vector_id.encode()) > MAX_ID_BYTES:
            raise VectorStoreError(f"vector id of {len(vector_id.encode())} bytes, over Pinecone's {MAX_ID_BYTES}")
        metadata: dict[str, Any] = {
            "guild_id": str(scope.guild_id),
            "document_id": record.document_id,
            "player_safe": bool(record.player_safe),
        }
        if not scope.is_default:  # `query` checks it: defence in depth between campaigns too
            metadata["campaign_id"] = str(scope.campaign_id)
        if vector_id != record.chunk_id:
            metadata["chunk_id"] = record.chunk_id
        if record.gm_only:  # only on GM-only passages: `set_player_safe` leaves them out
            metadata["gm_only"] = True
        values = np.round(np.asarray(record.vector, dtype=np.float64), 6).tolist()
        return {"id": vector_id, "values": values, "metadata": metadata}

    async def query(
        self,
        scope: ScopeLike,
        vector: Vector,
        k: int,
        *,
        player_safe_only: bool,
        document_ids: Sequence[str] | None = None,
    ) -> list[VectorHit]:
        if k <= 0 or (document_ids is not None and not document_ids):
            return []
        index = await self._index(self.host_for(scope))
        scope = as_scope(scope)
        clauses: list[dict[str, Any]] = [{"guild_id": {"$eq": str(scope.guild_id)}}]
        if player_safe_only:
            clauses.append({"player_safe": {"$eq": True}})
        if document_ids is not None:
            clauses.append({"document_id": {"$in": list(document_ids)}})
        flt = clauses[0] if len(clauses) == 1 else {"$and": clauses}
        response = await index.query(
            top_k=min(k, 1000),
            vector=np.asarray(vector, dtype=np.float64).round(6).tolist(),
            namespace=namespace_for(scope),
            filter=flt,
            include_metadata=True,
        )
        hits: list[VectorHit] = []
        for match in response.matches:
            metadata = dict(match.metadata or {})
            # defence in depth: never return another guild's or campaign's data
            if metadata.get("guild_id") != str(scope.guild_id) or metadata.get("campaign_id", "0") != str(
                scope.campaign_id
            ):
                log.error("pinecone returned a vector of another campaign in namespace %s", namespace_for(scope))
                continue
            chunk_id = str(metadata.get("chunk_id") or match.id)
            hits.append(VectorHit(chunk_id, float(match.score), metadata))
        return hits

    async def delete_document(self, scope: ScopeLike, document_id: str, chunk_ids: Sequence[str] = ()) -> None:
        index = await self._index(self.host_for(scope))
        namespace = namespace_for(scope)
        ids = {self._vector_id(document_id, c) for c in chunk_ids}
        try:
            async for page in index.list(prefix=document_id, namespace=namespace):
                ids.update(item.id for item in page.vectors if item.id)
        except Exception as exc:
            if not _is_not_found(exc):
                raise
        for batch in _batched(sorted(ids), DELETE_BATCH):
            try:
                await index.delete(ids=batch, namespace=namespace)
            except Exception as exc:
                if not _is_not_found(exc):
                    raise

    async def set_player_safe(
        self, scope: ScopeLike, document_id: str, player_safe: bool, *, gm_only: Sequence[str] = ()
    ) -> None:
        """One metadata update by filter; the GM-only passages are found by their own `gm_only` flag (set at upsert),
        so `gm_only` ids are not needed here."""
        index = await self._index(self.host_for(scope))
        flt: dict[str, Any] = {"document_id": {"$eq": document_id}}
        if player_safe:  # one update that skips the GM-only passages: no moment where one is player-safe
            flt = {"$and": [flt, {"gm_only": {"$exists": False}}]}
        await index.update(
            filter=flt,
            set_metadata={"player_safe": bool(player_safe)},
            namespace=namespace_for(scope),
        )

    async def prune(self, scope: ScopeLike, keep: Mapping[str, Collection[str]]) -> None:
        """Delete the namespace's vectors whose ids are not kept. Only ids listed as stale are deleted, so a
        listing that lags fresh upserts never removes them."""
        index = await self._index(self.host_for(scope))
        namespace = namespace_for(scope)
        wanted = {self._vector_id(document_id, c) for document_id, chunks in keep.items() for c in chunks}
        stale: list[str] = []
        try:
            async for page in index.list(namespace=namespace):
                stale.extend(item.id for item in page.vectors if item.id and item.id not in wanted)
        except Exception as exc:
            if not _is_not_found(exc):
                raise
        for batch in _batched(stale, DELETE_BATCH):
            await index.delete(ids=batch, namespace=namespace)

    async def delete_guild(self, scope: ScopeLike) -> None:
        await self.delete_namespace_at(self.host_for(scope), scope)

    async def delete_guild_at(self, scope: ScopeLike, location: str) -> None:
        if location.startswith("pinecone:"):
            await self.delete_namespace_at(location.removeprefix("pinecone:"), scope)

    async def delete_namespace_at(self, host: str, scope: ScopeLike) -> None:
        """Delete a campaign's namespace on a given index (also used after it moved to another index)."""
        index = await self._index(host)
        try:
            await index.delete_namespace(name=namespace_for(scope))
        except Exception as exc:
            if not _is_not_found(exc):
                raise

    async def count(self, scope: ScopeLike) -> int:
        index = await self._index(self.host_for(scope))
        stats = await index.describe_index_stats()
        summary = stats.namespaces.get(namespace_for(scope))
        return int(summary.vector_count) if summary is not None else 0

    async def aclose(self) -> None:
        for index in self._indexes.values():
            with contextlib.suppress(Exception):
                await index.close()
        self._indexes.clear()
        await self._client.close()


def _is_not_found(exc: BaseException) -> bool:
    from pinecone.errors import NotFoundError

    return isinstance(exc, NotFoundError)


def _batched(items: Sequence[str], size: int) -> list[list[str]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]
