"""`LocalVectorStore`: exact cosine over a float32 matrix per campaign, persisted as numpy files."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import re
import shutil
import time
import uuid
from collections import OrderedDict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from bot.memory.scope import CampaignScope, ScopeLike, as_scope
from bot.memory.stores.base import Vector, VectorHit, VectorRecord, VectorStoreError

__all__ = ["LocalVectorStore"]


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

    Layout: `root/g<guild>[-c<campaign>]/<document_id>.<seq>.npz` (ids, vectors, player-safe flags), each written to a
    temporary file and renamed into place. A guild's files are loaded lazily and cached; the cache key is the
    set of file names, so a write by another process (the CLI) is seen on the next query.
    """

    name = "local"

    def __init__(self, root: Path, *, cache_bytes: int = 512 * 1024 * 1024) -> None:
        self.root = root
        self._cache: OrderedDict[CampaignScope, tuple[tuple[str, ...], _GuildMatrix]] = OrderedDict()
        self._cache_bytes = cache_bytes
        self._locks: dict[CampaignScope, asyncio.Lock] = {}
        self._pending: dict[CampaignScope, list[_GuildMatrix]] = {}

    def location(self, scope: ScopeLike) -> str:
        return "local"

    def _dir(self, scope: CampaignScope) -> Path:
        """`g<guild>` for a guild's default campaign (its folder before campaigns existed), else `g<guild>-c<id>`."""
        suffix = "" if scope.is_default else f"-c{scope.campaign_id}"
        return self.root / f"g{scope.guild_id}{suffix}"

    def _lock(self, scope: CampaignScope) -> asyncio.Lock:
        return self._locks.setdefault(scope, asyncio.Lock())

    # --- file helpers (run in worker threads) -------------------------------------------------------------
    def _files(self, scope: CampaignScope) -> list[str]:
        try:
            names = [e.name for e in os.scandir(self._dir(scope)) if _FILE_RE.match(e.name)]
        except FileNotFoundError:
            return []
        return sorted(names, key=lambda n: (n.split(".")[1], n))

    def _write(self, scope: CampaignScope, document_id: str, ids: list[str], vectors: Vector, safe: list[bool]) -> str:
        folder = self._dir(scope)
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

    def _load(self, scope: CampaignScope, names: Sequence[str]) -> _GuildMatrix | None:
        if not names:
            return None
        folder = self._dir(scope)
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
        all_ids = np.concatenate(ids)
        # later files win when a chunk id was written twice: keep the last occurrence of each id
        _, first_from_end = np.unique(all_ids[::-1], return_index=True)
        keep = np.zeros(len(all_ids), dtype=np.bool_)
        keep[len(all_ids) - 1 - first_from_end] = True
        # replaced rows go file by file, so vectors re-embedded into another dimension load before `prune`
        # removes the files they replaced
        bounds = np.cumsum([0, *(len(i) for i in ids)])
        parts = [m[keep[bounds[n] : bounds[n + 1]]] for n, m in enumerate(mats)]
        rows = [p for p in parts if len(p)] or parts[-1:]
        dims = {p.shape[1] for p in rows}
        if len(dims) > 1:
            raise VectorStoreError(f"guild {scope} has vectors of mixed dimensions {sorted(dims)}")
        return _GuildMatrix(
            ids=[str(i) for i in all_ids[keep]],
            document_ids=np.concatenate(docs)[keep],
            safe=np.concatenate(safes)[keep],
            matrix=np.ascontiguousarray(np.concatenate(rows)),
        )

    async def _matrix(self, scope: CampaignScope) -> _GuildMatrix | None:
        names = tuple(await asyncio.to_thread(self._files, scope))
        cached = self._cache.get(scope)
        if cached is not None and cached[0] == names:
            self._cache.move_to_end(scope)
            return await self._merge_pending(scope) or cached[1]
        loaded = await asyncio.to_thread(self._load, scope, names)
        self._invalidate(scope)
        if loaded is not None:
            self._cache[scope] = (names, loaded)
            self._evict()
        return loaded

    async def _merge_pending(self, scope: CampaignScope) -> _GuildMatrix | None:
        """Fold rows upserted by this process since the last load into the cached matrix."""
        pending = self._pending.pop(scope, None)
        cached = self._cache.get(scope)
        if not pending or cached is None:
            return cached[1] if cached is not None else None
        merged = await asyncio.to_thread(_concat, [cached[1], *pending])
        self._cache[scope] = (cached[0], merged)
        self._evict()
        return merged

    def _evict(self) -> None:
        total = sum(m.nbytes for _, m in self._cache.values())
        while total > self._cache_bytes and len(self._cache) > 1:
            guild, (_, dropped) = self._cache.popitem(last=False)
            self._pending.pop(guild, None)
            total -= dropped.nbytes

    def _invalidate(self, scope: CampaignScope) -> None:
        self._cache.pop(scope, None)
        self._pending.pop(scope, None)

    # --- protocol -----------------------------------------------------------------------------------------
    async def upsert(self, scope: ScopeLike, records: Sequence[VectorRecord]) -> None:
        scope = as_scope(scope)
        if not records:
            return
        by_doc: dict[str, list[VectorRecord]] = {}
        for record in records:
            by_doc.setdefault(record.document_id, []).append(record)
        async with self._lock(scope):
            cached = self._cache.get(scope)
            written: list[str] = []
            added: list[_GuildMatrix] = []
            for document_id, group in by_doc.items():
                _check_document_id(document_id)
                vectors = np.stack([np.asarray(r.vector, dtype=np.float32) for r in group])
                ids = [r.chunk_id for r in group]
                safe = [r.player_safe for r in group]
                try:
                    written.append(await asyncio.to_thread(self._write, scope, document_id, ids, vectors, safe))
                except OSError as exc:  # a full or read-only disk: this write fails, the caller decides
                    self._invalidate(scope)
                    raise VectorStoreError(f"could not write vector files: {exc.strerror or exc}") from exc
                added.append(
                    _GuildMatrix(ids, np.array([document_id] * len(ids), dtype=np.str_), np.array(safe), vectors)
                )
            # keep a loaded guild current without re-reading its files (a panic during an import stays fast)
            names = tuple(await asyncio.to_thread(self._files, scope))
            same_dim = all(a.matrix.shape[1] == cached[1].matrix.shape[1] for a in added) if cached else False
            if cached is not None and same_dim and set(names) == set(cached[0]) | set(written):
                self._cache[scope] = (names, cached[1])
                self._pending.setdefault(scope, []).extend(added)  # merged once, by the next query
                return
            self._invalidate(scope)

    async def query(
        self,
        scope: ScopeLike,
        vector: Vector,
        k: int,
        *,
        player_safe_only: bool,
        document_ids: Sequence[str] | None = None,
    ) -> list[VectorHit]:
        scope = as_scope(scope)
        loaded = await self._matrix(scope)
        if loaded is None or k <= 0:
            return []
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        if query.shape[0] != loaded.matrix.shape[1]:
            raise VectorStoreError(
                f"query has {query.shape[0]} dimensions, guild {scope} stores {loaded.matrix.shape[1]}"
            )
        return await asyncio.to_thread(_top_k, loaded, query, k, player_safe_only, document_ids)

    async def delete_document(self, scope: ScopeLike, document_id: str, chunk_ids: Sequence[str] = ()) -> None:
        scope = as_scope(scope)
        _check_document_id(document_id)
        async with self._lock(scope):
            await self._merge_pending(scope)
            cached = self._cache.get(scope)
            await asyncio.to_thread(self._delete_files, scope, document_id)
            names = tuple(await asyncio.to_thread(self._files, scope))
            if cached is not None and set(names) == {n for n in cached[0] if n.split(".")[0] != document_id}:
                keep = cached[1].document_ids != document_id
                self._cache[scope] = (names, _select(cached[1], keep))
                return
            self._invalidate(scope)

    def _delete_files(self, scope: CampaignScope, document_id: str) -> None:
        for name in self._files(scope):
            if name.split(".")[0] == document_id:
                with contextlib.suppress(FileNotFoundError):
                    (self._dir(scope) / name).unlink()

    async def set_player_safe(
        self, scope: ScopeLike, document_id: str, player_safe: bool, *, gm_only: Sequence[str] = ()
    ) -> None:
        scope = as_scope(scope)
        _check_document_id(document_id)
        async with self._lock(scope):
            await asyncio.to_thread(self._rewrite_safe, scope, document_id, player_safe, frozenset(gm_only))
            self._invalidate(scope)

    def _rewrite_safe(self, scope: CampaignScope, document_id: str, player_safe: bool, gm_only: frozenset[str]) -> None:
        for name in self._files(scope):
            if name.split(".")[0] != document_id:
                continue
            path = self._dir(scope) / name
            with np.load(path, allow_pickle=False) as data:
                ids = [str(i) for i in data["ids"]]
                vectors = data["vectors"]
            # new file first, then drop the old: a crash in between leaves duplicates, which loading resolves
            self._write(scope, document_id, ids, vectors, [player_safe and i not in gm_only for i in ids])
            path.unlink()

    async def prune(self, scope: ScopeLike, keep: Mapping[str, Collection[str]]) -> None:
        """Rewrite each kept document as one file of its latest rows (new file first, then the old ones go) and
        delete the files of documents not kept."""
        scope = as_scope(scope)
        async with self._lock(scope):
            await self._merge_pending(scope)
            await asyncio.to_thread(self._compact, scope, keep)
            self._invalidate(scope)

    def _compact(self, scope: CampaignScope, keep: Mapping[str, Collection[str]]) -> None:
        by_doc: dict[str, list[str]] = {}
        for name in self._files(scope):
            by_doc.setdefault(name.split(".")[0], []).append(name)
        folder = self._dir(scope)
        for document_id, names in by_doc.items():
            wanted = set(keep.get(document_id, ()))
            latest: dict[str, tuple[Vector, bool]] = {}
            for name in names:  # in write order: a later row of an id replaces an earlier one
                with np.load(folder / name, allow_pickle=False) as data:
                    for chunk_id, vector, safe in zip(data["ids"], data["vectors"], data["safe"], strict=True):
                        if str(chunk_id) in wanted:
                            latest[str(chunk_id)] = (vector.astype(np.float32), bool(safe))
            if latest and (len(names) > 1 or len(latest) < self._rows(folder / names[0])):
                ids = list(latest)
                self._write(scope, document_id, ids, np.stack([latest[i][0] for i in ids]), [latest[i][1] for i in ids])
            elif latest:
                continue  # one file holding exactly the kept rows already
            for name in names:
                with contextlib.suppress(FileNotFoundError):
                    (folder / name).unlink()

    @staticmethod
    def _rows(path: Path) -> int:
        with np.load(path, allow_pickle=False) as data:
            return len(data["ids"])

    async def delete_guild(self, scope: ScopeLike) -> None:
        scope = as_scope(scope)
        async with self._lock(scope):
            await asyncio.to_thread(shutil.rmtree, self._dir(scope), True)
            self._invalidate(scope)

    async def delete_guild_at(self, scope: ScopeLike, location: str) -> None:
        scope = as_scope(scope)
        if location == self.location(scope):
            await self.delete_guild(scope)

    async def count(self, scope: ScopeLike) -> int:
        scope = as_scope(scope)
        loaded = await self._matrix(scope)
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
