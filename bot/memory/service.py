"""`CampaignMemory`: the import pipeline and retrieval over one guild's notes (no discord).

Import of one file: check it, parse and chunk it in a worker thread, skip it when the same bytes are already
imported, embed in batches and upsert the vectors under the new content hash, then make the new version
visible in one database transaction (chunk rows in, document row flipped, old chunk rows out) and only then
delete the old version's vectors. Search joins the store's hits back to the chunk rows of *visible* versions,
so between the upsert and the swap nobody sees the new version and after it nobody sees the old one; a failed
or interrupted import deletes its own vectors (and a crashed one is cleaned up by the next import).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import logging
import re
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.errors import UserFacingError
from bot.kv import KeyValue
from bot.memory import parsing, ranking
from bot.memory.chunking import HEADING_SEPARATOR, Chunk, chunk_document, document_id_for
from bot.memory.errors import EmptyDocument
from bot.memory.stores import LocalVectorStore, PineconeVectorStore, VectorRecord, VectorStore
from bot.memory.types import Passage, memory_version_key
from bot.tasks import BackgroundTasks
from db.models.campaign import CampaignChunk, CampaignDocument, CampaignMemoryRecord, DocumentStatus

if TYPE_CHECKING:
    from bot.memory.embedders import Embedder
    from bot.settings import Settings

__all__ = [
    "CampaignMemory",
    "DocumentInfo",
    "DocumentNotFound",
    "ImportBusy",
    "ImportProgress",
    "ImportReport",
    "MemoryFull",
    "MemoryStatus",
    "Upload",
    "build_memory",
]

log = logging.getLogger(__name__)

UploadLimit = Callable[[int], Awaitable[int]]
MemoryLimit = Callable[[int], Awaitable[int | None]]
ProgressFn = Callable[["ImportProgress"], Awaitable[None]]

IMPORT_LOCK_TTL = 30 * 60.0  # longer than any single import; a crashed holder frees the guild after this
EMBED_BATCH = 32
CANDIDATES = 30  # dense candidates fetched from the store before re-ranking
RECORD_TTL = 5.0  # seconds a guild's index record (embedder, location, roster) is reused for the same version
ROW_CACHE_GUILD_CHUNKS = 20_000  # a guild with more visible chunks than this is not cached (its search reads rows)
ROW_CACHE_CHUNKS = 40_000  # visible chunk rows kept in process memory over all guilds (least recently used go)
QUERY_CACHE = 1024  # query vectors remembered (a later panic's context is an earlier panic's query)
CONTEXT_WEIGHT = 0.5  # how far the context texts, averaged, pull the query vector

# What search reads of a visible chunk: chunk id, text, heading, page, document id, file name, player-safe.
_Row = tuple[str, str, str, int | None, str, str, bool]


@dataclass(frozen=True, slots=True)
class _RecordView:
    """What retrieval reads of a guild's `CampaignMemoryRecord`, cached per process for the same notes version."""

    embedder_id: str
    store_location: str
    canon_names: tuple[str, ...]


NOTE_LOCK_WAIT = 15.0  # a saved note waits this long for a running import before giving up


class ImportBusy(UserFacingError):
    """Another import (or forget) of this guild is running."""

    def __init__(self) -> None:
        super().__init__(
            "Another import is still running for this server. Wait for it to finish, then try again.",
            title="Import already running",
        )


class MemoryFull(UserFacingError):
    """The guild's plan keeps fewer bytes of notes than this import would need."""

    def __init__(self, file_name: str, needed: int, limit: int) -> None:
        super().__init__(
            f"**{file_name}** doesn't fit: your notes would take {needed / 1048576:.1f} MB and this server's plan "
            f"keeps {limit / 1048576:.1f} MB. Forget a document with `/campaign forget`, or upgrade the plan.",
            title="Campaign memory is full",
        )


class DocumentNotFound(UserFacingError):
    """No such document in this guild's memory."""

    def __init__(self, what: str) -> None:
        super().__init__(
            f"There is no document **{what}** in this server's campaign memory. `/campaign list` shows them all.",
            title="No such document",
        )


@dataclass(frozen=True, slots=True)
class Upload:
    """One file handed to `import_files`."""

    file_name: str
    content_type: str | None
    data: bytes


@dataclass(frozen=True, slots=True)
class ImportProgress:
    """Where an import stands; sent to the progress callback after parsing and after each embedded batch."""

    file_name: str
    file_number: int  # 1-based among the files of this import
    file_count: int
    stage: Literal["parsing", "embedding", "saving", "done"]
    pages_parsed: int = 0
    pages_total: int | None = None
    chunks_embedded: int = 0
    chunks_total: int = 0


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What one import did. `outcome`: imported (new file), replaced (new version of a file), unchanged (same
    bytes as the current version: no embedding), duplicate (same bytes already imported under another name)."""

    file_name: str
    document_id: str
    kind: str
    outcome: Literal["imported", "replaced", "unchanged", "duplicate"]
    chunks: int
    pages: int | None
    size_bytes: int
    embedded: int  # chunks embedded by this import (0 when nothing had to be)
    player_safe: bool
    seconds: float
    duplicate_of: str | None = None

    @property
    def embedding_skipped(self) -> bool:
        """True when the content was already known and no embedding call was made."""
        return self.outcome in ("unchanged", "duplicate")


@dataclass(frozen=True, slots=True)
class DocumentInfo:
    """A visible document of a guild, for `/campaign list`."""

    document_id: str
    file_name: str
    kind: str
    size_bytes: int
    pages: int | None
    chunk_count: int
    player_safe: bool
    imported_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class MemoryStatus:
    """Usage and configuration of a guild's memory, for `/campaign status`."""

    embedder: str
    dimension: int
    store: str
    location: str
    documents: int
    chunks: int
    bytes: int
    vectors: int
    reindex_needed: bool
    upload_limit_bytes: int
    indexed_with: str | None = None


@dataclass(slots=True)
class _Parsed:
    kind: str
    pages: int | None
    chunks: list[Chunk] = field(default_factory=list)


class CampaignMemory:
    """Per-guild campaign memory: every method takes the guild id and touches nothing of any other guild."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        kv: KeyValue,
        store: VectorStore,
        embedder: Embedder,
        *,
        max_upload_bytes: int = 20 * 1024 * 1024,
        upload_limit: UploadLimit | None = None,
        memory_limit: MemoryLimit | None = None,
        embed_batch: int = EMBED_BATCH,
        candidates: int = CANDIDATES,
        background: BackgroundTasks | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.kv = kv
        self.store = store
        self.embedder = embedder
        self.max_upload_bytes = max_upload_bytes
        # Hooks for plan-based limits (billing): guild id -> bytes. Unset: MAX_UPLOAD_MB and no memory cap.
        self.upload_limit = upload_limit
        self.memory_limit = memory_limit
        self.embed_batch = embed_batch
        self.candidates = candidates
        # guild -> (notes version, expiry, record view): search and roster skip a database read per panic
        self._records: dict[int, tuple[int, float, _RecordView | None]] = {}
        # guild -> (notes version, chunk id -> row) of the visible chunks, least recently used first: search joins
        # the store's hits to these rows without a database read. Every change to visible rows (a swap, forget,
        # player-safe) bumps the version after its transaction commits, so rows cached for a version are never
        # older than that version's data. None: the guild is too big to cache at that version.
        self._rows: OrderedDict[int, tuple[int, dict[str, _Row] | None]] = OrderedDict()
        # query text -> its vector, least recently used first (the embedder is fixed for this instance)
        self._query_vectors: OrderedDict[str, npt.NDArray[np.float32]] = OrderedDict()
        self.row_cache_guild_chunks = ROW_CACHE_GUILD_CHUNKS
        self.row_cache_chunks = ROW_CACHE_CHUNKS
        # where a guild whose notes were embedded by another embedder (or stored elsewhere) gets re-embedded
        self.background = background
        self._reindexing: set[int] = set()

    # --- upload checks ------------------------------------------------------------------------------------
    async def upload_limit_bytes(self, guild_id: int) -> int:
        """The largest file this guild may import."""
        if self.upload_limit is not None:
            return min(self.max_upload_bytes, int(await self.upload_limit(guild_id)))
        return self.max_upload_bytes

    async def check_upload(self, guild_id: int, file_name: str, content_type: str | None, size: int) -> None:
        """Refuse a file from its name, type and size alone (before anything is downloaded)."""
        parsing.check_upload(file_name, content_type, size, await self.upload_limit_bytes(guild_id))

    # --- locking --------------------------------------------------------------------------------------------
    @staticmethod
    def _lock_key(guild_id: int) -> str:
        return f"campaign:{int(guild_id)}:import-lock"

    @asynccontextmanager
    async def _locked(self, guild_id: int, *, wait: float = 0.0) -> AsyncIterator[str]:
        deadline = time.monotonic() + wait
        while True:
            token = await self.kv.acquire(self._lock_key(guild_id), IMPORT_LOCK_TTL)
            if token is not None:
                break
            if time.monotonic() >= deadline:
                raise ImportBusy()
            await asyncio.sleep(0.25)
        try:
            yield token
        finally:
            await asyncio.shield(self.kv.release(self._lock_key(guild_id), token))

    async def _changed(self, guild_id: int) -> None:
        """Tell caches and pools keyed on the memory version that this guild's notes changed."""
        self._records.pop(guild_id, None)
        self._rows.pop(guild_id, None)
        await self.kv.incr(memory_version_key(guild_id))

    # --- import ---------------------------------------------------------------------------------------------
    async def import_file(
        self,
        guild_id: int,
        file_name: str,
        content_type: str | None,
        data: bytes,
        *,
        player_safe: bool = False,
        progress: ProgressFn | None = None,
    ) -> ImportReport:
        """Import one file (see the module docstring); raises an `ImportProblem` for bad input."""
        reports = await self.import_files(
            guild_id, [Upload(file_name, content_type, data)], player_safe=player_safe, progress=progress
        )
        outcome = reports[0]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    async def import_files(
        self,
        guild_id: int,
        uploads: Sequence[Upload],
        *,
        player_safe: bool = False,
        progress: ProgressFn | None = None,
    ) -> list[ImportReport | UserFacingError]:
        """Import several files under one lock, in order; a bad file gives its error and the rest go on."""
        limit = await self.upload_limit_bytes(guild_id)
        results: list[ImportReport | UserFacingError] = []
        async with self._locked(guild_id):
            await self._recover(guild_id)
            await self._ensure_index(guild_id, progress=None)
            for number, upload in enumerate(uploads, start=1):
                try:
                    parsing.check_upload(upload.file_name, upload.content_type, len(upload.data), limit)
                    report = await self._import_one(
                        guild_id, upload, player_safe, progress, number, len(uploads), kind_override=None
                    )
                except UserFacingError as exc:
                    results.append(exc)
                    continue
                results.append(report)
            if any(isinstance(r, ImportReport) and not r.embedding_skipped for r in results):
                await self._rebuild_roster(guild_id)
                await self._changed(guild_id)
        return results

    async def save_note(
        self,
        guild_id: int,
        title: str,
        text: str,
        *,
        player_safe: bool = False,
        author: str | None = None,
    ) -> ImportReport:
        """Keep an improvisation the GM approved as a Markdown note, searchable like any import."""
        title = " ".join(title.split())[:120] or "Saved improvisation"
        body = text.strip()
        if not body:
            raise EmptyDocument(title)
        byline = f"\n\n*Saved by {author}.*" if author else ""
        markdown = f"# {title}\n\n{body}{byline}\n"
        data = markdown.encode("utf-8")
        file_name = f"note-{_slug(title)}-{document_id_for(data)[:8]}.md"
        async with self._locked(guild_id, wait=NOTE_LOCK_WAIT):
            await self._recover(guild_id)
            await self._ensure_index(guild_id, progress=None)
            report = await self._import_one(
                guild_id, Upload(file_name, "text/markdown", data), player_safe, None, 1, 1, kind_override="note"
            )
            if not report.embedding_skipped:
                await self._rebuild_roster(guild_id)
                await self._changed(guild_id)
        return report

    async def _import_one(
        self,
        guild_id: int,
        upload: Upload,
        player_safe: bool,
        progress: ProgressFn | None,
        number: int,
        count: int,
        *,
        kind_override: str | None,
    ) -> ImportReport:
        started = time.perf_counter()
        name = upload.file_name
        new_id = document_id_for(upload.data)
        size = len(upload.data)

        async with self.sessionmaker() as session:
            same_bytes = (
                await session.execute(
                    select(CampaignDocument).where(
                        CampaignDocument.guild_id == guild_id,
                        CampaignDocument.document_id == new_id,
                        CampaignDocument.status == DocumentStatus.READY,
                    )
                )
            ).scalar_one_or_none()
        if same_bytes is not None:
            if same_bytes.player_safe != player_safe and same_bytes.file_name == name:
                await self.set_player_safe(guild_id, new_id, player_safe, _lock_held=True)
            outcome: Literal["unchanged", "duplicate"] = "unchanged" if same_bytes.file_name == name else "duplicate"
            report = ImportReport(
                file_name=name,
                document_id=new_id,
                kind=same_bytes.kind,
                outcome=outcome,
                chunks=same_bytes.chunk_count,
                pages=same_bytes.pages,
                size_bytes=size,
                embedded=0,
                player_safe=player_safe if outcome == "unchanged" else same_bytes.player_safe,
                seconds=time.perf_counter() - started,
                duplicate_of=same_bytes.file_name if outcome == "duplicate" else None,
            )
            await _notify(progress, ImportProgress(name, number, count, "done", chunks_total=report.chunks))
            return report

        await self._check_memory_limit(guild_id, name, size)
        await _notify(progress, ImportProgress(name, number, count, "parsing"))
        parsed = await self._parse(guild_id, upload, new_id, progress, number, count)
        kind = kind_override or parsed.kind
        chunks = parsed.chunks

        # Mark the version in flight so a crash can be cleaned up by the next import.
        async with self.sessionmaker.begin() as session:
            row = await _document_by_name(session, guild_id, name)
            if row is None:
                from bot.guilds import ensure_guild

                await ensure_guild(session, guild_id)
                row = CampaignDocument(
                    guild_id=guild_id,
                    document_id=new_id,
                    file_name=name,
                    kind=kind,
                    size_bytes=size,
                    pages=parsed.pages,
                    chunk_count=0,
                    player_safe=player_safe,
                    status=DocumentStatus.IMPORTING,
                )
                session.add(row)
                await session.flush()
            else:
                row.pending_document_id = new_id
            row_id = row.id
            was_ready = row.status == DocumentStatus.READY
            old_id = row.document_id if was_ready else None

        try:
            await self._embed_and_upsert(guild_id, chunks, name, player_safe, progress, number, count, parsed.pages)
            await _notify(
                progress,
                ImportProgress(
                    name, number, count, "saving", parsed.pages or 0, parsed.pages, len(chunks), len(chunks)
                ),
            )
            old_chunk_ids = await self._swap(
                guild_id, row_id, old_id, new_id, chunks, kind, size, parsed.pages, player_safe
            )
        except BaseException:
            await asyncio.shield(self._abandon(guild_id, row_id, new_id, [c.chunk_id for c in chunks], was_ready))
            raise
        # the new version is visible from here: caches of visible rows (this and other processes) must see it now,
        # not at the end of a batch of files
        await self._changed(guild_id)

        if old_id is not None and old_id != new_id:
            try:
                await self.store.delete_document(guild_id, old_id, old_chunk_ids)
            except Exception:  # invisible already (search joins to visible rows); the space is reclaimed later
                log.exception("guild %s: could not delete old vectors of %s", guild_id, old_id)

        report = ImportReport(
            file_name=name,
            document_id=new_id,
            kind=kind,
            outcome="replaced" if was_ready else "imported",
            chunks=len(chunks),
            pages=parsed.pages,
            size_bytes=size,
            embedded=len(chunks),
            player_safe=player_safe,
            seconds=time.perf_counter() - started,
        )
        await _notify(
            progress,
            ImportProgress(name, number, count, "done", parsed.pages or 0, parsed.pages, len(chunks), len(chunks)),
        )
        log.info("guild %s: %s %s (%d chunks, %.1f s)", guild_id, report.outcome, name, report.chunks, report.seconds)
        return report

    async def _check_memory_limit(self, guild_id: int, file_name: str, size: int) -> None:
        if self.memory_limit is None:
            return
        limit = await self.memory_limit(guild_id)
        if limit is None:
            return
        async with self.sessionmaker() as session:
            others = (
                await session.execute(
                    select(func.coalesce(func.sum(CampaignDocument.size_bytes), 0)).where(
                        CampaignDocument.guild_id == guild_id,
                        CampaignDocument.status == DocumentStatus.READY,
                        CampaignDocument.file_name != file_name,
                    )
                )
            ).scalar_one()
        if int(others) + size > limit:
            raise MemoryFull(file_name, int(others) + size, limit)

    async def _parse(
        self,
        guild_id: int,
        upload: Upload,
        document_id: str,
        progress: ProgressFn | None,
        number: int,
        count: int,
    ) -> _Parsed:
        loop = asyncio.get_running_loop()
        last = [0.0]
        notified: list[concurrent.futures.Future[None]] = []  # kept, and awaited below: none is lost or leaked

        def on_page(done: int, total: int) -> None:  # runs in the worker thread
            now = time.monotonic()
            if progress is None or (now - last[0] < 0.25 and done < total):
                return
            last[0] = now
            update = ImportProgress(upload.file_name, number, count, "parsing", done, total)
            notified.append(asyncio.run_coroutine_threadsafe(_notify(progress, update), loop))

        def work() -> _Parsed:
            doc = parsing.parse_document(upload.file_name, upload.data, on_page=on_page)
            chunks = chunk_document(doc, document_id)
            if not chunks:
                raise EmptyDocument(upload.file_name)
            return _Parsed(kind=doc.kind, pages=doc.pages, chunks=chunks)

        try:
            return await asyncio.to_thread(work)
        finally:
            await asyncio.gather(*(asyncio.wrap_future(f) for f in notified), return_exceptions=True)

    async def _embed_and_upsert(
        self,
        guild_id: int,
        chunks: Sequence[Chunk],
        file_name: str,
        player_safe: bool,
        progress: ProgressFn | None,
        number: int,
        count: int,
        pages: int | None,
    ) -> None:
        done = 0
        for start in range(0, len(chunks), self.embed_batch):
            batch = chunks[start : start + self.embed_batch]
            vectors = await self.embedder.embed([c.embed_text for c in batch])
            await self.store.upsert(
                guild_id, [_record(c, v, file_name, player_safe) for c, v in zip(batch, vectors, strict=True)]
            )
            done += len(batch)
            await _notify(
                progress,
                ImportProgress(file_name, number, count, "embedding", pages or 0, pages, done, len(chunks)),
            )

    async def _swap(
        self,
        guild_id: int,
        row_id: int,
        old_id: str | None,
        new_id: str,
        chunks: Sequence[Chunk],
        kind: str,
        size: int,
        pages: int | None,
        player_safe: bool,
    ) -> list[str]:
        """Make `new_id` the visible version in one transaction; returns the old version's chunk ids."""
        async with self.sessionmaker.begin() as session:
            old_chunk_ids: list[str] = []
            if old_id is not None and old_id != new_id:
                old_chunk_ids = list(
                    (
                        await session.execute(
                            select(CampaignChunk.chunk_id).where(
                                CampaignChunk.guild_id == guild_id, CampaignChunk.document_id == old_id
                            )
                        )
                    ).scalars()
                )
            # rows of this content left by an interrupted attempt are replaced
            await session.execute(
                delete(CampaignChunk).where(CampaignChunk.guild_id == guild_id, CampaignChunk.document_id == new_id)
            )
            if old_id is not None:
                await session.execute(
                    delete(CampaignChunk).where(CampaignChunk.guild_id == guild_id, CampaignChunk.document_id == old_id)
                )
            session.add_all(
                CampaignChunk(
                    guild_id=guild_id,
                    document_row_id=row_id,
                    document_id=new_id,
                    chunk_id=c.chunk_id,
                    index=c.index,
                    text=c.text,
                    heading=c.heading,
                    page=c.page,
                )
                for c in chunks
            )
            await session.execute(
                update(CampaignDocument)
                .where(CampaignDocument.id == row_id, CampaignDocument.guild_id == guild_id)
                .values(
                    document_id=new_id,
                    pending_document_id=None,
                    status=DocumentStatus.READY,
                    kind=kind,
                    size_bytes=size,
                    pages=pages,
                    chunk_count=len(chunks),
                    player_safe=player_safe,
                    imported_at=_now(),
                )
            )
        return old_chunk_ids

    async def _abandon(self, guild_id: int, row_id: int, new_id: str, chunk_ids: list[str], was_ready: bool) -> None:
        """Undo an import that failed before its swap: its vectors go, the previous version stays."""
        try:
            await self.store.delete_document(guild_id, new_id, chunk_ids)
        except Exception:
            log.exception("guild %s: could not delete vectors of the failed import %s", guild_id, new_id)
            return  # the marker stays, so the next import retries the clean-up
        async with self.sessionmaker.begin() as session:
            if was_ready:
                await session.execute(
                    update(CampaignDocument)
                    .where(CampaignDocument.id == row_id, CampaignDocument.guild_id == guild_id)
                    .values(pending_document_id=None)
                )
            else:
                await session.execute(
                    delete(CampaignDocument).where(
                        CampaignDocument.id == row_id,
                        CampaignDocument.guild_id == guild_id,
                        CampaignDocument.status == DocumentStatus.IMPORTING,
                    )
                )

    async def _recover(self, guild_id: int) -> None:
        """Clean up after an import that died without its own clean-up (process killed mid-import)."""
        async with self.sessionmaker() as session:
            rows = list(
                (
                    await session.execute(
                        select(CampaignDocument).where(
                            CampaignDocument.guild_id == guild_id,
                            (CampaignDocument.status == DocumentStatus.IMPORTING)
                            | CampaignDocument.pending_document_id.is_not(None),
                        )
                    )
                ).scalars()
            )
        for row in rows:
            if row.status == DocumentStatus.IMPORTING:
                log.warning("guild %s: removing interrupted first import of %s", guild_id, row.file_name)
                await self._abandon(guild_id, row.id, row.document_id, [], was_ready=False)
            elif row.pending_document_id and row.pending_document_id != row.document_id:
                log.warning("guild %s: removing interrupted re-import of %s", guild_id, row.file_name)
                await self._abandon(guild_id, row.id, row.pending_document_id, [], was_ready=True)
            else:
                async with self.sessionmaker.begin() as session:
                    await session.execute(
                        update(CampaignDocument).where(CampaignDocument.id == row.id).values(pending_document_id=None)
                    )

    # --- index record, re-embedding ------------------------------------------------------------------------
    async def _record(self, guild_id: int) -> CampaignMemoryRecord | None:
        async with self.sessionmaker() as session:
            return await session.get(CampaignMemoryRecord, guild_id)

    def _matches(self, record: CampaignMemoryRecord, guild_id: int) -> bool:
        return record.embedder_id == self.embedder.id and record.store_location == self.store.location(guild_id)

    async def _ensure_index(self, guild_id: int, *, progress: ProgressFn | None) -> None:
        """Record embedder and location for the guild; re-embed its chunks when either changed."""
        record = await self._record(guild_id)
        if record is not None and self._matches(record, guild_id):
            return
        if record is not None:
            await self._reembed(guild_id, record, progress)
        async with self.sessionmaker.begin() as session:
            from bot.guilds import ensure_guild

            await ensure_guild(session, guild_id)
            current = await session.get(CampaignMemoryRecord, guild_id)
            if current is None:
                session.add(
                    CampaignMemoryRecord(
                        guild_id=guild_id,
                        embedder_id=self.embedder.id,
                        dimension=self.embedder.dimension,
                        store_location=self.store.location(guild_id),
                        canon_names=record.canon_names if record is not None else [],
                    )
                )
            else:
                current.embedder_id = self.embedder.id
                current.dimension = self.embedder.dimension
                current.store_location = self.store.location(guild_id)
        if record is not None:
            await self._changed(guild_id)

    async def _reembed(self, guild_id: int, record: CampaignMemoryRecord, progress: ProgressFn | None) -> None:
        log.info(
            "guild %s: re-embedding (was %s at %s, now %s at %s)",
            guild_id,
            record.embedder_id,
            record.store_location,
            self.embedder.id,
            self.store.location(guild_id),
        )
        if record.store_location == self.store.location(guild_id):
            await self.store.delete_guild(guild_id)
        async with self.sessionmaker() as session:
            docs = list(
                (
                    await session.execute(
                        select(CampaignDocument).where(
                            CampaignDocument.guild_id == guild_id, CampaignDocument.status == DocumentStatus.READY
                        )
                    )
                ).scalars()
            )
        for number, doc in enumerate(docs, start=1):
            chunks = await self._visible_chunks(guild_id, doc.document_id)
            await self._embed_and_upsert(
                guild_id, chunks, doc.file_name, doc.player_safe, progress, number, len(docs), doc.pages
            )
        old = record.store_location
        if (
            old != self.store.location(guild_id)
            and old.startswith("pinecone:")
            and isinstance(self.store, PineconeVectorStore)
        ):
            try:
                await self.store.delete_namespace_at(old.removeprefix("pinecone:"), guild_id)
            except Exception:
                log.exception("guild %s: could not delete the namespace at its previous index", guild_id)

    def _schedule_reindex(self, guild_id: int, indexed_with: str) -> None:
        if guild_id in self._reindexing:
            return
        log.warning("guild %s: notes embedded with %s; re-embedding with %s", guild_id, indexed_with, self.embedder.id)
        if self.background is None:
            return
        self._reindexing.add(guild_id)
        self.background.spawn(self._reindex_in_background(guild_id), name=f"reindex-{guild_id}")

    async def _reindex_in_background(self, guild_id: int) -> None:
        try:
            await self.reindex(guild_id)
            log.info("guild %s: notes re-embedded with %s", guild_id, self.embedder.id)
        except ImportBusy:
            pass  # an import is running: it re-embeds the guild's notes itself
        except Exception:
            log.warning("guild %s: re-embedding failed; the next search tries again", guild_id, exc_info=True)
        finally:
            self._reindexing.discard(guild_id)

    async def reindex(self, guild_id: int, *, progress: ProgressFn | None = None) -> None:
        """Re-embed this guild's notes now if the embedder or the store location changed."""
        async with self._locked(guild_id):
            await self._ensure_index(guild_id, progress=progress)

    async def _visible_chunks(self, guild_id: int, document_id: str | None = None) -> list[Chunk]:
        async with self.sessionmaker() as session:
            query = (
                select(CampaignChunk)
                .join(CampaignDocument, CampaignDocument.id == CampaignChunk.document_row_id)
                .where(
                    CampaignChunk.guild_id == guild_id,
                    CampaignDocument.guild_id == guild_id,
                    CampaignDocument.status == DocumentStatus.READY,
                    CampaignChunk.document_id == CampaignDocument.document_id,
                )
                .order_by(CampaignChunk.document_row_id, CampaignChunk.index)
            )
            if document_id is not None:
                query = query.where(CampaignChunk.document_id == document_id)
            rows = (await session.execute(query)).scalars().all()
        return [_chunk_from_row(r) for r in rows]

    async def _rebuild_roster(self, guild_id: int) -> None:
        from bot.memory.roster import extract_canon_names

        chunks = await self._visible_chunks(guild_id)
        names = await asyncio.to_thread(extract_canon_names, chunks) if chunks else []
        async with self.sessionmaker.begin() as session:
            record = await session.get(CampaignMemoryRecord, guild_id)
            if record is not None:
                record.canon_names = list(names)
        self._records.pop(guild_id, None)

    # --- retrieval -------------------------------------------------------------------------------------------
    async def _version(self, guild_id: int) -> int:
        """The guild's notes version (bumped after every committed change); -1 when unreadable."""
        raw = await self.kv.get(memory_version_key(guild_id))
        try:
            return int(raw) if raw else 0
        except ValueError:
            return -1

    async def _record_view(self, guild_id: int, version: int | None = None) -> _RecordView | None:
        """The guild's index record as retrieval needs it: reused while the notes version is unchanged (and for
        at most `RECORD_TTL` seconds, which bounds staleness from writes that do not bump the version)."""
        if version is None:
            version = await self._version(guild_id)
        now = time.monotonic()
        cached = self._records.get(guild_id)
        if cached is not None and cached[0] == version and cached[1] > now:
            return cached[2]
        record = await self._record(guild_id)
        view = (
            _RecordView(record.embedder_id, record.store_location, tuple(record.canon_names or ()))
            if record is not None
            else None
        )
        self._records[guild_id] = (version, now + RECORD_TTL, view)
        return view

    async def search(
        self,
        guild_id: int,
        query: str,
        k: int = 5,
        *,
        player_safe_only: bool = False,
        context: Sequence[str] = (),
    ) -> list[Passage]:
        """The best `k` passages of this guild's visible notes for `query`, best first.

        `context` (e.g. the guild's recent requests) steers the dense search a little: the query vector is
        pulled towards their mean by `CONTEXT_WEIGHT`. Query vectors are remembered, so context that was an
        earlier query costs no embedding, and the query itself stays short (embedding cost grows with length).

        No database read per search: the index record and the guild's visible chunk rows are cached per notes
        version (a guild too big for the row cache reads its candidates' rows, plain columns, per search). The
        heavy CPU work releases the GIL and runs off the event loop: the query embedding (onnxruntime) in the
        embedder's thread, the vector scoring (numpy) in the store's. The lexical re-rank is ~1 ms of pure
        Python over the candidates and runs inline: in a thread it would hold the GIL all the same and add a
        hand-off (measured: acknowledgement p99 no better, sometimes worse).
        """
        query = query.strip()
        if not query or k <= 0:
            return []
        version = await self._version(guild_id)
        record = await self._record_view(guild_id, version)
        if record is None:
            return []
        if record.embedder_id != self.embedder.id or record.store_location != self.store.location(guild_id):
            # never mix vector spaces: answer without notes this once, and re-embed them in the background
            self._schedule_reindex(guild_id, record.embedder_id)
            return []
        vector = await self._query_vector(query, context)
        hits = await self.store.query(guild_id, vector, max(self.candidates, k), player_safe_only=player_safe_only)
        if not hits:
            return []
        scores = {h.chunk_id: h.score for h in hits}
        cached = await self._visible_rows(guild_id, version)
        if cached is not None:
            rows: Sequence[_Row] = [row for row in map(cached.get, scores) if row is not None]
        else:
            rows = await self._read_rows(guild_id, list(scores))
        if not rows:
            return []
        return _rank(query, rows, scores, k, player_safe_only)

    async def _query_vector(self, query: str, context: Sequence[str]) -> npt.NDArray[np.float32]:
        """The unit vector searched for `query` steered by `context`; texts not remembered are embedded in one
        batch (one text alone goes through `embed_query`, which hosted embedders may treat as a query)."""
        extra = [c for c in dict.fromkeys(c.strip() for c in context) if c and c != query]
        texts = [query, *extra]
        known = {t: self._query_vectors[t] for t in texts if t in self._query_vectors}
        for text in known:
            self._query_vectors.move_to_end(text)
        missing = [t for t in texts if t not in known]
        if len(missing) == 1:
            known[missing[0]] = self._remember_query(missing[0], await self.embedder.embed_query(missing[0]))
        elif missing:
            for text, row in zip(missing, await self.embedder.embed(missing), strict=True):
                known[text] = self._remember_query(text, row)
        vectors = [known[t] for t in texts]
        vector = np.asarray(vectors[0], dtype=np.float32)
        if len(vectors) > 1:
            vector = vector + CONTEXT_WEIGHT * np.mean(vectors[1:], axis=0, dtype=np.float32)
            vector /= max(float(np.linalg.norm(vector)), 1e-9)
        return vector

    def _remember_query(self, text: str, vector: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        remembered = self._query_vectors[text] = np.asarray(vector, dtype=np.float32)
        while len(self._query_vectors) > QUERY_CACHE:
            self._query_vectors.popitem(last=False)
        return remembered

    async def _visible_rows(self, guild_id: int, version: int) -> dict[str, _Row] | None:
        """The guild's visible chunk rows for notes `version` (read once per version), or None if not cached."""
        if version < 0:
            return None
        cached = self._rows.get(guild_id)
        if cached is not None and cached[0] == version:
            self._rows.move_to_end(guild_id)
            return cached[1]
        found = await self._read_rows(guild_id, None, limit=self.row_cache_guild_chunks + 1)
        rows = {row[0]: row for row in found} if len(found) <= self.row_cache_guild_chunks else None
        self._rows.pop(guild_id, None)
        self._rows[guild_id] = (version, rows)
        total = sum(len(r) for _, r in self._rows.values() if r is not None)
        while total > self.row_cache_chunks and len(self._rows) > 1:
            _, (_, evicted) = self._rows.popitem(last=False)
            total -= len(evicted) if evicted is not None else 0
        return rows

    async def _read_rows(self, guild_id: int, chunk_ids: list[str] | None, *, limit: int | None = None) -> list[_Row]:
        """Rows of the guild's chunks of *visible* versions: those of `chunk_ids`, or all (at most `limit`)."""
        query = (
            select(
                CampaignChunk.chunk_id,
                CampaignChunk.text,
                CampaignChunk.heading,
                CampaignChunk.page,
                CampaignChunk.document_id,
                CampaignDocument.file_name,
                CampaignDocument.player_safe,
            )
            .join(CampaignDocument, CampaignDocument.id == CampaignChunk.document_row_id)
            .where(
                CampaignChunk.guild_id == guild_id,
                CampaignDocument.guild_id == guild_id,
                CampaignDocument.status == DocumentStatus.READY,
                CampaignChunk.document_id == CampaignDocument.document_id,
            )
        )
        if chunk_ids is not None:
            query = query.where(CampaignChunk.chunk_id.in_(chunk_ids))
        if limit is not None:
            query = query.limit(limit)
        async with self.sessionmaker() as session:
            result = await session.execute(query)
            return [
                (chunk_id, text, heading, page, document_id, file_name, bool(safe))
                for chunk_id, text, heading, page, document_id, file_name, safe in result
            ]

    async def roster(self, guild_id: int) -> list[str]:
        """Canon names of this guild's campaign (rebuilt after every change)."""
        record = await self._record_view(guild_id)
        return list(record.canon_names) if record is not None else []

    async def list_documents(self, guild_id: int) -> list[DocumentInfo]:
        """The guild's visible documents, by file name."""
        async with self.sessionmaker() as session:
            rows = (
                await session.execute(
                    select(CampaignDocument)
                    .where(CampaignDocument.guild_id == guild_id, CampaignDocument.status == DocumentStatus.READY)
                    .order_by(func.lower(CampaignDocument.file_name))
                )
            ).scalars()
            return [_info(r) for r in rows]

    async def status(self, guild_id: int) -> MemoryStatus:
        """Embedder, store and usage of this guild's memory."""
        async with self.sessionmaker() as session:
            docs, chunks, size = (
                await session.execute(
                    select(
                        func.count(CampaignDocument.id),
                        func.coalesce(func.sum(CampaignDocument.chunk_count), 0),
                        func.coalesce(func.sum(CampaignDocument.size_bytes), 0),
                    ).where(CampaignDocument.guild_id == guild_id, CampaignDocument.status == DocumentStatus.READY)
                )
            ).one()
            record = await session.get(CampaignMemoryRecord, guild_id)
        try:
            vectors = await self.store.count(guild_id)
        except Exception:
            log.exception("guild %s: could not count vectors", guild_id)
            vectors = -1
        return MemoryStatus(
            embedder=self.embedder.id,
            dimension=self.embedder.dimension,
            store=self.store.name,
            location=self.store.location(guild_id),
            documents=int(docs),
            chunks=int(chunks),
            bytes=int(size),
            vectors=vectors,
            reindex_needed=record is not None and int(docs) > 0 and not self._matches(record, guild_id),
            upload_limit_bytes=await self.upload_limit_bytes(guild_id),
            indexed_with=record.embedder_id if record is not None else None,
        )

    # --- changes --------------------------------------------------------------------------------------------
    async def find_document(self, guild_id: int, key: str) -> DocumentInfo:
        """A visible document by content hash (or its prefix) or by file name."""
        key = key.strip()
        async with self.sessionmaker() as session:
            rows = (
                await session.execute(
                    select(CampaignDocument).where(
                        CampaignDocument.guild_id == guild_id, CampaignDocument.status == DocumentStatus.READY
                    )
                )
            ).scalars()
            docs = list(rows)
        for exact in (
            [d for d in docs if d.document_id == key],
            [d for d in docs if d.file_name == key],
            [d for d in docs if d.file_name.lower() == key.lower()],
            [d for d in docs if len(key) >= 6 and d.document_id.startswith(key)],
        ):
            if len(exact) == 1:
                return _info(exact[0])
        raise DocumentNotFound(key or "(empty)")

    async def forget_document(self, guild_id: int, document_id: str) -> DocumentInfo:
        """Delete one document (by content hash or file name) with its chunks and vectors."""
        async with self._locked(guild_id, wait=NOTE_LOCK_WAIT):
            info = await self.find_document(guild_id, document_id)
            async with self.sessionmaker.begin() as session:
                chunk_ids = list(
                    (
                        await session.execute(
                            select(CampaignChunk.chunk_id).where(
                                CampaignChunk.guild_id == guild_id, CampaignChunk.document_id == info.document_id
                            )
                        )
                    ).scalars()
                )
                await session.execute(
                    delete(CampaignDocument).where(
                        CampaignDocument.guild_id == guild_id, CampaignDocument.document_id == info.document_id
                    )
                )
            await self._changed(guild_id)
            try:
                await self.store.delete_document(guild_id, info.document_id, chunk_ids)
            except Exception:
                log.exception("guild %s: could not delete vectors of %s", guild_id, info.document_id)
            await self._rebuild_roster(guild_id)
        return info

    async def forget_all(self, guild_id: int) -> int:
        """Delete every document of the guild; returns how many there were."""
        async with self._locked(guild_id, wait=NOTE_LOCK_WAIT):
            return await self._forget_all(guild_id)

    async def _forget_all(self, guild_id: int) -> int:
        async with self.sessionmaker.begin() as session:
            count = (
                await session.execute(
                    select(func.count(CampaignDocument.id)).where(
                        CampaignDocument.guild_id == guild_id, CampaignDocument.status == DocumentStatus.READY
                    )
                )
            ).scalar_one()
            await session.execute(delete(CampaignDocument).where(CampaignDocument.guild_id == guild_id))
            await session.execute(delete(CampaignMemoryRecord).where(CampaignMemoryRecord.guild_id == guild_id))
        await self._changed(guild_id)
        await self.store.delete_guild(guild_id)
        return int(count)

    async def delete_guild(self, guild_id: int) -> None:
        """Remove everything of a guild the bot left (does not wait for a running import)."""
        await self._forget_all(guild_id)

    async def set_player_safe(
        self, guild_id: int, document_id: str, player_safe: bool, *, _lock_held: bool = False
    ) -> DocumentInfo:
        """Mark a document player-safe (or GM-only again); retrieval for players filters on it."""
        async with AsyncExitStack() as stack:
            if not _lock_held:
                await stack.enter_async_context(self._locked(guild_id, wait=NOTE_LOCK_WAIT))
            info = await self.find_document(guild_id, document_id)
            async with self.sessionmaker.begin() as session:
                await session.execute(
                    update(CampaignDocument)
                    .where(CampaignDocument.guild_id == guild_id, CampaignDocument.document_id == info.document_id)
                    .values(player_safe=player_safe)
                )
            await self.store.set_player_safe(guild_id, info.document_id, player_safe)
            await self._changed(guild_id)
        return dataclasses.replace(info, player_safe=player_safe)

    async def aclose(self) -> None:
        """Close the store and the embedder."""
        await self.store.aclose()
        await self.embedder.aclose()


# --- helpers -----------------------------------------------------------------------------------------------------


async def _notify(progress: ProgressFn | None, update: ImportProgress) -> None:
    if progress is None:
        return
    try:
        await progress(update)
    except Exception:  # a failed progress message must never fail the import
        log.warning("progress callback failed", exc_info=True)


async def _document_by_name(session: AsyncSession, guild_id: int, file_name: str) -> CampaignDocument | None:
    result = await session.execute(
        select(CampaignDocument).where(CampaignDocument.guild_id == guild_id, CampaignDocument.file_name == file_name)
    )
    return result.scalar_one_or_none()


def _record(chunk: Chunk, vector: np.ndarray, file_name: str, player_safe: bool) -> VectorRecord:
    extra: dict[str, str | int | float | bool] = {"file": file_name, "heading": chunk.heading, "text": chunk.text}
    if chunk.page is not None:
        extra["page"] = chunk.page
    return VectorRecord(
        chunk_id=chunk.chunk_id,
        document_id=chunk.document_id,
        vector=np.asarray(vector, dtype=np.float32),
        player_safe=player_safe,
        extra=extra,
    )


def _rank(
    query: str,
    rows: Sequence[_Row],
    scores: dict[str, float],
    k: int,
    player_safe_only: bool,
) -> list[Passage]:
    """Passages from the candidates' rows, re-ranked (dense + BM25), best first."""
    candidates = []
    for chunk_id, text, heading, page, document_id, file_name, safe in rows:
        if player_safe_only and not safe:
            continue
        passage = Passage(
            text=text,
            file=file_name,
            heading=heading,
            page=page,
            score=scores[chunk_id],
            document_id=document_id,
            chunk_id=chunk_id,
            player_safe=bool(safe),
        )
        candidates.append(
            ranking.Candidate(
                text=text,
                heading_path=_heading_path(heading),
                score=scores[chunk_id],
                chunk_id=chunk_id,
                payload=passage,
            )
        )
    candidates.sort(key=lambda c: -c.score)
    out: list[Passage] = []
    for candidate in ranking.rerank(query, candidates, k):
        passage = candidate.payload
        assert isinstance(passage, Passage)
        out.append(passage)
    return out


def _heading_path(heading: str) -> tuple[str, ...]:
    return tuple(part for part in heading.split(HEADING_SEPARATOR) if part) if heading else ()


def _chunk_from_row(row: CampaignChunk) -> Chunk:
    return Chunk(
        chunk_id=row.chunk_id,
        document_id=row.document_id,
        index=row.index,
        text=row.text,
        heading_path=_heading_path(row.heading),
        page=row.page,
    )


def _info(row: CampaignDocument) -> DocumentInfo:
    return DocumentInfo(
        document_id=row.document_id,
        file_name=row.file_name,
        kind=row.kind,
        size_bytes=row.size_bytes,
        pages=row.pages,
        chunk_count=row.chunk_count,
        player_safe=row.player_safe,
        imported_at=row.imported_at,
        updated_at=row.updated_at,
    )


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "note"


def _now() -> datetime:
    from db.base import utcnow

    return utcnow()


# --- construction --------------------------------------------------------------------------------------------------


def build_store(settings: Settings) -> VectorStore:
    """The configured vector store: Pinecone when chosen (or, with `auto`, when key and hosts are set)."""
    from bot.settings import ConfigError

    choice = settings.vector_store
    have_pinecone = settings.pinecone_api_key is not None and bool(settings.pinecone_index_hosts)
    if choice == "pinecone" or (choice == "auto" and have_pinecone):
        if settings.pinecone_api_key is None:
            raise ConfigError("PINECONE_API_KEY is not set (VECTOR_STORE=pinecone)")
        if not settings.pinecone_index_hosts:
            raise ConfigError("PINECONE_INDEX_HOSTS is not set (VECTOR_STORE=pinecone)")
        return PineconeVectorStore(settings.pinecone_api_key.get_secret_value(), settings.pinecone_index_hosts)
    return LocalVectorStore(settings.data_dir / "vectors")


def build_memory(
    settings: Settings,
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    kv: KeyValue,
    stack: AsyncExitStack,
    *,
    embedder: Embedder | None = None,
    store: VectorStore | None = None,
    upload_limit: UploadLimit | None = None,
    memory_limit: MemoryLimit | None = None,
    background: BackgroundTasks | None = None,
) -> CampaignMemory:
    """Campaign memory from the settings; closed with `stack`."""
    del engine  # sessions come from `sessionmaker`; kept for a uniform factory signature
    if embedder is None:
        from bot.memory.embedders import build_embedder

        embedder = build_embedder(settings)
    memory = CampaignMemory(
        sessionmaker,
        kv,
        store or build_store(settings),
        embedder,
        max_upload_bytes=settings.max_upload_mb * 1024 * 1024,
        upload_limit=upload_limit,
        memory_limit=memory_limit,
        background=background,
    )
    stack.push_async_callback(memory.aclose)
    return memory
