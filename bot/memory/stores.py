"""Vector stores behind one protocol: exact cosine over local numpy files, or Pinecone (one namespace per guild).

Vectors are float32 and L2-normalised by the embedder, so cosine similarity is a dot product. Chunk text and
citations live in the database (`db.models.campaign`); a store keeps what it needs to filter: the document id
and the player-safe flag (Pinecone also carries the citation fields as metadata, within its limits).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import re
import shutil
import time
import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

__all__ = [
    "LocalVectorStore",
    "PineconeVectorStore",
    "VectorHit",
    "VectorRecord",
    "VectorStore",
    "VectorStoreError",
    "jump_hash",
    "namespace_for",
]

log = logging.getLogger(__name__)

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

    async def set_player_safe(self, guild_id: int, document_id: str, player_safe: bool) -> None:
        """Change the visibility flag carried by every vector of one document."""

    async def delete_guild(self, guild_id: int) -> None:
        """Remove all of this guild's vectors."""

    async def delete_guild_at(self, guild_id: int, location: str) -> None:
        """Remove this guild's vectors at `location`, where an earlier configuration recorded them (after they
        were re-embedded into the current one); a location this store cannot reach is left alone."""

    async def count(self, guild_id: int) -> int:
        """Number of vectors stored for this guild (may lag on eventually consistent stores)."""

    async def aclose(self) -> None:
        """Release clients and caches."""


# ---------------------------------------------------------------------------------------------------------------
# local store


@dataclass(slots=True)
class _GuildMatrix:
    """A guild's vectors loaded into memory: one float32 row per chunk."""

    ids: list[str]
    document_ids: npt.NDArray[np.str_]
    safe: npt.NDArray[np.bool_]
    matrix: Vector

    @property
    def nbytes(self) -> int:
        return int(self.matrix.nbytes + self.document_ids.nbytes + self.safe.nbytes) + 80 * len(self.ids)


_FILE_RE = re.compile(r"^(?P<doc>[^.]+)\.(?P<seq>\d{20})\.npz$")
_seq_counter = itertools.count()


def _next_seq() -> str:
    """A sortable, unique sequence for a new vectors file (time first, then a process counter)."""
    return f"{time.time_ns() // 1000 % 10**16:016d}{next(_seq_counter) % 10000:04d}"


class LocalVectorStore:
    """Exact cosine search over a float32 matrix per guild, persisted as `.npz` files under `root`.

    Layout: `root/g<guild>/<document_id>.<seq>.npz` (ids, vectors, player-safe flags), each written to a
    temporary file and renamed into place. A guild's files are loaded lazily and cached; the cache key is the
    set of file names, so a write by another process (the CLI) is seen on the next query.
    """

    name = "local"

    def __init__(self, root: Path, *, cache_bytes: int = 512 * 1024 * 1024) -> None:
        self.root = root
        self._cache: OrderedDict[int, tuple[tuple[str, ...], _GuildMatrix]] = OrderedDict()
        self._cache_bytes = cache_bytes
        self._locks: dict[int, asyncio.Lock] = {}
        self._pending: dict[int, list[_GuildMatrix]] = {}

    def location(self, guild_id: int) -> str:
        return "local"

    def _dir(self, guild_id: int) -> Path:
        return self.root / f"g{int(guild_id)}"

    def _lock(self, guild_id: int) -> asyncio.Lock:
        return self._locks.setdefault(guild_id, asyncio.Lock())

    # --- file helpers (run in worker threads) -------------------------------------------------------------
    def _files(self, guild_id: int) -> list[str]:
        try:
            names = [e.name for e in os.scandir(self._dir(guild_id)) if _FILE_RE.match(e.name)]
        except FileNotFoundError:
            return []
        return sorted(names, key=lambda n: (n.split(".")[1], n))

    def _write(self, guild_id: int, document_id: str, ids: list[str], vectors: Vector, safe: list[bool]) -> str:
        folder = self._dir(guild_id)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".tmp-{uuid.uuid4().hex}.npz"
        with tmp.open("wb") as fh:
            np.savez(
                fh,
                ids=np.array(ids, dtype=np.str_),
                vectors=np.ascontiguousarray(vectors, dtype=np.float32),
                safe=np.array(safe, dtype=np.bool_),
            )
            fh.flush()
            os.fsync(fh.fileno())
        name = f"{document_id}.{_next_seq()}.npz"
        os.replace(tmp, folder / name)
        return name

    def _load(self, guild_id: int, names: Sequence[str]) -> _GuildMatrix | None:
        if not names:
            return None
        folder = self._dir(guild_id)
        ids: list[npt.NDArray[np.str_]] = []
        docs: list[npt.NDArray[np.str_]] = []
        safes: list[npt.NDArray[np.bool_]] = []
        mats: list[Vector] = []
        for name in names:
            try:
                with np.load(folder / name, allow_pickle=False) as data:
                    file_ids = data["ids"]
                    ids.append(file_ids)
                    docs.append(np.array([name.split(".")[0]] * len(file_ids), dtype=np.str_))
                    safes.append(data["safe"])
                    mats.append(data["vectors"].astype(np.float32, copy=False))
            except FileNotFoundError:  # deleted by a concurrent writer: the next query reloads
                continue
        if not mats:
            return None
        dims = {m.shape[1] for m in mats if m.size}
        if len(dims) > 1:
            raise VectorStoreError(f"guild {guild_id} has vectors of mixed dimensions {sorted(dims)}")
        all_ids = np.concatenate(ids)
        # later files win when a chunk id was written twice: keep the last occurrence of each id
        _, first_from_end = np.unique(all_ids[::-1], return_index=True)
        keep = np.sort(len(all_ids) - 1 - first_from_end)
        return _GuildMatrix(
            ids=[str(i) for i in all_ids[keep]],
            document_ids=np.concatenate(docs)[keep],
            safe=np.concatenate(safes)[keep],
            matrix=np.ascontiguousarray(np.concatenate(mats)[keep]),
        )

    async def _matrix(self, guild_id: int) -> _GuildMatrix | None:
        names = tuple(await asyncio.to_thread(self._files, guild_id))
        cached = self._cache.get(guild_id)
        if cached is not None and cached[0] == names:
            self._cache.move_to_end(guild_id)
            return await self._merge_pending(guild_id) or cached[1]
        loaded = await asyncio.to_thread(self._load, guild_id, names)
        self._invalidate(guild_id)
        if loaded is not None:
            self._cache[guild_id] = (names, loaded)
            self._evict()
        return loaded

    async def _merge_pending(self, guild_id: int) -> _GuildMatrix | None:
        """Fold rows upserted by this process since the last load into the cached matrix."""
        pending = self._pending.pop(guild_id, None)
        cached = self._cache.get(guild_id)
        if not pending or cached is None:
            return cached[1] if cached is not None else None
        merged = await asyncio.to_thread(_concat, [cached[1], *pending])
        self._cache[guild_id] = (cached[0], merged)
        self._evict()
        return merged

    def _evict(self) -> None:
        total = sum(m.nbytes for _, m in self._cache.values())
        while total > self._cache_bytes and len(self._cache) > 1:
            guild, (_, dropped) = self._cache.popitem(last=False)
            self._pending.pop(guild, None)
            total -= dropped.nbytes

    def _invalidate(self, guild_id: int) -> None:
        self._cache.pop(guild_id, None)
        self._pending.pop(guild_id, None)

    # --- protocol -----------------------------------------------------------------------------------------
    async def upsert(self, guild_id: int, records: Sequence[VectorRecord]) -> None:
        if not records:
            return
        by_doc: dict[str, list[VectorRecord]] = {}
        for record in records:
            by_doc.setdefault(record.document_id, []).append(record)
        async with self._lock(guild_id):
            cached = self._cache.get(guild_id)
            written: list[str] = []
            added: list[_GuildMatrix] = []
            for document_id, group in by_doc.items():
                _check_document_id(document_id)
                vectors = np.stack([np.asarray(r.vector, dtype=np.float32) for r in group])
                ids = [r.chunk_id for r in group]
                safe = [r.player_safe for r in group]
                written.append(await asyncio.to_thread(self._write, guild_id, document_id, ids, vectors, safe))
                added.append(
                    _GuildMatrix(ids, np.array([document_id] * len(ids), dtype=np.str_), np.array(safe), vectors)
                )
            # keep a loaded guild current without re-reading its files (a panic during an import stays fast)
            names = tuple(await asyncio.to_thread(self._files, guild_id))
            same_dim = all(a.matrix.shape[1] == cached[1].matrix.shape[1] for a in added) if cached else False
            if cached is not None and same_dim and set(names) == set(cached[0]) | set(written):
                self._cache[guild_id] = (names, cached[1])
                self._pending.setdefault(guild_id, []).extend(added)  # merged once, by the next query
                return
            self._invalidate(guild_id)

    async def query(
        self,
        guild_id: int,
        vector: Vector,
        k: int,
        *,
        player_safe_only: bool,
        document_ids: Sequence[str] | None = None,
    ) -> list[VectorHit]:
        loaded = await self._matrix(guild_id)
        if loaded is None or k <= 0:
            return []
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        if query.shape[0] != loaded.matrix.shape[1]:
            raise VectorStoreError(
                f"query has {query.shape[0]} dimensions, guild {guild_id} stores {loaded.matrix.shape[1]}"
            )
        return await asyncio.to_thread(_top_k, loaded, query, k, player_safe_only, document_ids)

    async def delete_document(self, guild_id: int, document_id: str, chunk_ids: Sequence[str] = ()) -> None:
        _check_document_id(document_id)
        async with self._lock(guild_id):
            await self._merge_pending(guild_id)
            cached = self._cache.get(guild_id)
            await asyncio.to_thread(self._delete_files, guild_id, document_id)
            names = tuple(await asyncio.to_thread(self._files, guild_id))
            if cached is not None and set(names) == {n for n in cached[0] if n.split(".")[0] != document_id}:
                keep = cached[1].document_ids != document_id
                self._cache[guild_id] = (names, _select(cached[1], keep))
                return
            self._invalidate(guild_id)

    def _delete_files(self, guild_id: int, document_id: str) -> None:
        for name in self._files(guild_id):
            if name.split(".")[0] == document_id:
                with contextlib.suppress(FileNotFoundError):
                    (self._dir(guild_id) / name).unlink()

    async def set_player_safe(self, guild_id: int, document_id: str, player_safe: bool) -> None:
        _check_document_id(document_id)
        async with self._lock(guild_id):
            await asyncio.to_thread(self._rewrite_safe, guild_id, document_id, player_safe)
            self._invalidate(guild_id)

    def _rewrite_safe(self, guild_id: int, document_id: str, player_safe: bool) -> None:
        for name in self._files(guild_id):
            if name.split(".")[0] != document_id:
                continue
            path = self._dir(guild_id) / name
            with np.load(path, allow_pickle=False) as data:
                ids = [str(i) for i in data["ids"]]
                vectors = data["vectors"]
            # new file first, then drop the old: a crash in between leaves duplicates, which loading resolves
            self._write(guild_id, document_id, ids, vectors, [player_safe] * len(ids))
            path.unlink()

    async def delete_guild(self, guild_id: int) -> None:
        async with self._lock(guild_id):
            await asyncio.to_thread(shutil.rmtree, self._dir(guild_id), True)
            self._invalidate(guild_id)

    async def delete_guild_at(self, guild_id: int, location: str) -> None:
        if location == self.location(guild_id):
            await self.delete_guild(guild_id)

    async def count(self, guild_id: int) -> int:
        loaded = await self._matrix(guild_id)
        return 0 if loaded is None else len(loaded.ids)

    async def aclose(self) -> None:
        self._cache.clear()


def _concat(parts: Sequence[_GuildMatrix]) -> _GuildMatrix:
    """Rows of `parts` in order; a chunk id present more than once keeps its last row."""
    ids = np.array([i for p in parts for i in p.ids], dtype=np.str_)
    _, first_from_end = np.unique(ids[::-1], return_index=True)
    keep = np.sort(len(ids) - 1 - first_from_end)
    return _GuildMatrix(
        ids=[str(i) for i in ids[keep]],
        document_ids=np.concatenate([p.document_ids for p in parts])[keep],
        safe=np.concatenate([p.safe for p in parts]).astype(np.bool_)[keep],
        matrix=np.ascontiguousarray(np.concatenate([p.matrix for p in parts])[keep], dtype=np.float32),
    )


def _select(loaded: _GuildMatrix, mask: npt.NDArray[np.bool_]) -> _GuildMatrix:
    return _GuildMatrix(
        ids=[i for i, k in zip(loaded.ids, mask, strict=True) if k],
        document_ids=loaded.document_ids[mask],
        safe=loaded.safe[mask],
        matrix=np.ascontiguousarray(loaded.matrix[mask]),
    )


def _top_k(
    loaded: _GuildMatrix, query: Vector, k: int, player_safe_only: bool, document_ids: Sequence[str] | None
) -> list[VectorHit]:
    # einsum runs one SIMD loop in this thread; BLAS sgemv spins up its thread pool, which measured 10-50x
    # slower for a single query vector on a busy 2-core host (see docs/benchmarks.md)
    scores = np.einsum("ij,j->i", loaded.matrix, query)
    mask: npt.NDArray[np.bool_] | None = None
    if player_safe_only:
        mask = loaded.safe.copy()
    if document_ids is not None:
        in_docs = np.isin(loaded.document_ids, np.array(list(document_ids), dtype=np.str_))
        mask = in_docs if mask is None else mask & in_docs
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    n = scores.shape[0]
    k = min(k, n)
    top = np.argpartition(-scores, k - 1)[:k] if k < n else np.arange(n)
    top = top[np.argsort(-scores[top], kind="stable")]
    return [
        VectorHit(
            loaded.ids[i],
            float(scores[i]),
            {"document_id": str(loaded.document_ids[i]), "player_safe": bool(loaded.safe[i])},
        )
        for i in top
        if np.isfinite(scores[i])
    ]


def _check_document_id(document_id: str) -> None:
    if not document_id or "." in document_id or "/" in document_id or document_id.startswith("."):
        raise ValueError(f"invalid document id {document_id!r}")


# ---------------------------------------------------------------------------------------------------------------
# Pinecone


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


def namespace_for(guild_id: int) -> str:
    """The Pinecone namespace holding one guild's vectors."""
    return f"guild-{int(guild_id)}"


UPSERT_BATCH = 50  # 50 × (1536 floats at 6 decimals ≈ 15 KB + ≤ 8 KB metadata) stays far below 2 MB
MAX_TEXT_METADATA = 8_000  # characters of chunk text kept in Pinecone metadata (limit is 40 KB per record)
DELETE_BATCH = 1_000


class PineconeVectorStore:
    """Pinecone serverless: one namespace per guild (`guild-<id>`) in one of several indexes.

    A Starter project caps an index at 100 namespaces, so `hosts` may list several indexes; a guild's index is
    `hosts[jump_hash(guild_id, len(hosts))]`. Append new hosts at the end: a guild whose index changes is
    re-embedded into the new one by the service (the location is recorded per guild), everybody else stays.
    Pinecone is eventually consistent: nothing here relies on reading its own writes.
    """

    name = "pinecone"

    def __init__(self, api_key: str, hosts: Sequence[str], *, timeout: float = 20.0) -> None:
        from pinecone import AsyncPinecone

        if not hosts:
            raise ValueError("PINECONE_INDEX_HOSTS is empty")
        self.hosts = [h.strip() for h in hosts if h.strip()]
        self._client = AsyncPinecone(api_key=api_key, timeout=timeout)
        self._indexes: dict[str, Any] = {}
        self._open_lock = asyncio.Lock()

    def host_for(self, guild_id: int) -> str:
        """The index host serving this guild."""
        return self.hosts[jump_hash(int(guild_id), len(self.hosts))]

    def location(self, guild_id: int) -> str:
        return f"pinecone:{self.host_for(guild_id)}"

    async def _index(self, host: str) -> Any:
        index = self._indexes.get(host)
        if index is None:
            async with self._open_lock:
                index = self._indexes.get(host)
                if index is None:
                    index = await self._client.index(host=host)
                    self._indexes[host] = index
        return index

    async def upsert(self, guild_id: int, records: Sequence[VectorRecord]) -> None:
        if not records:
            return
        index = await self._index(self.host_for(guild_id))
        vectors = [self._to_wire(guild_id, r) for r in records]
        namespace = namespace_for(guild_id)
        response = await index.upsert(
            vectors=vectors, namespace=namespace, batch_size=UPSERT_BATCH, show_progress=False, max_concurrency=4
        )
        if response.has_errors:
            log.warning(
                "pinecone upsert: %d of %d vectors failed, retrying once", response.failed_item_count, len(vectors)
            )
            retry = await index.upsert(
                vectors=response.failed_items,
                namespace=namespace,
                batch_size=UPSERT_BATCH,
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

    def _to_wire(self, guild_id: int, record: VectorRecord) -> dict[str, Any]:
        metadata: dict[str, Any] = {}
        for key, value in record.extra.items():
            if value is None:
                continue
            if isinstance(value, str) and key == "text":
                value = value[:MAX_TEXT_METADATA]
            metadata[key] = value
        metadata.update(
            guild_id=str(guild_id),
            document_id=record.document_id,
            chunk_id=record.chunk_id,
            player_safe=bool(record.player_safe),
        )
        values = np.round(np.asarray(record.vector, dtype=np.float64), 6).tolist()
        return {"id": self._vector_id(record.document_id, record.chunk_id), "values": values, "metadata": metadata}

    async def query(
        self,
        guild_id: int,
        vector: Vector,
        k: int,
        *,
        player_safe_only: bool,
        document_ids: Sequence[str] | None = None,
    ) -> list[VectorHit]:
        if k <= 0 or (document_ids is not None and not document_ids):
            return []
        index = await self._index(self.host_for(guild_id))
        clauses: list[dict[str, Any]] = [{"guild_id": {"$eq": str(guild_id)}}]
        if player_safe_only:
            clauses.append({"player_safe": {"$eq": True}})
        if document_ids is not None:
            clauses.append({"document_id": {"$in": list(document_ids)}})
        flt = clauses[0] if len(clauses) == 1 else {"$and": clauses}
        response = await index.query(
            top_k=min(k, 1000),
            vector=np.asarray(vector, dtype=np.float64).round(6).tolist(),
            namespace=namespace_for(guild_id),
            filter=flt,
            include_metadata=True,
        )
        hits: list[VectorHit] = []
        for match in response.matches:
            metadata = dict(match.metadata or {})
            if metadata.get("guild_id") != str(guild_id):  # defence in depth: never return another guild's data
                log.error("pinecone returned a vector of another guild in namespace %s", namespace_for(guild_id))
                continue
            chunk_id = str(metadata.get("chunk_id") or match.id)
            hits.append(VectorHit(chunk_id, float(match.score), metadata))
        return hits

    async def delete_document(self, guild_id: int, document_id: str, chunk_ids: Sequence[str] = ()) -> None:
        index = await self._index(self.host_for(guild_id))
        namespace = namespace_for(guild_id)
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

    async def set_player_safe(self, guild_id: int, document_id: str, player_safe: bool) -> None:
        index = await self._index(self.host_for(guild_id))
        await index.update(
            filter={"document_id": {"$eq": document_id}},
            set_metadata={"player_safe": bool(player_safe)},
            namespace=namespace_for(guild_id),
        )

    async def delete_guild(self, guild_id: int) -> None:
        await self.delete_namespace_at(self.host_for(guild_id), guild_id)

    async def delete_guild_at(self, guild_id: int, location: str) -> None:
        if location.startswith("pinecone:"):
            await self.delete_namespace_at(location.removeprefix("pinecone:"), guild_id)

    async def delete_namespace_at(self, host: str, guild_id: int) -> None:
        """Delete a guild's namespace on a given index (also used after a guild moved to another index)."""
        index = await self._index(host)
        try:
            await index.delete_namespace(name=namespace_for(guild_id))
        except Exception as exc:
            if not _is_not_found(exc):
                raise

    async def count(self, guild_id: int) -> int:
        index = await self._index(self.host_for(guild_id))
        stats = await index.describe_index_stats()
        summary = stats.namespaces.get(namespace_for(guild_id))
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
