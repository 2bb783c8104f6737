"""The import pipeline, one file at a time inside a `Mutation` (the guild's lock is held).

Steps of one file: check it (type, size, the plan's memory), skip it when the same bytes are already imported,
parse and chunk it in a worker process (time and memory limited, see `parsing.pool`), mark the new version in flight, embed in batches and upsert the vectors
under the new content hash, then swap: make the new version visible in one transaction (chunk rows in,
document row flipped, old chunk rows out) and only then delete the old version's vectors. Search joins the
store's hits to the chunk rows of *visible* versions, so between the upsert and the swap nobody sees the new
version and after it nobody sees the old one. A failed or cancelled import abandons its version (its vectors
and marker go); one killed mid-way is recovered by the next import.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from bot.errors import UserFacingError
from bot.memory import parsing
from bot.memory.chunking import document_id_for
from bot.memory.config import MemoryContext
from bot.memory.errors import EmptyDocument, MemoryFull, VectorsNotStored
from bot.memory.indexing import Indexer, embed_and_upsert, notify
from bot.memory.mutation import Mutation
from bot.memory.names import DuplicateFileName, clean_file_name
from bot.memory.parsing.limits import TooLargeUnpacked
from bot.memory.parsing.pool import ParsePool, ParseResult, shared_pool
from bot.memory.scope import CampaignScope
from bot.memory.stores import VectorStoreError
from bot.memory.types import ImportProgress, ImportReport, MemoryLimit, ProgressFn, Upload, UploadLimit
from bot.sizes import format_bytes
from db.models.campaign import DocumentStatus

__all__ = ["Importer"]

log = logging.getLogger(__name__)


Stage = Literal["parsing", "embedding", "saving", "done"]


@dataclass(frozen=True, slots=True)
class _Slot:
    """Where one file stands among the files of an import, and where its progress goes."""

    number: int
    count: int
    progress: ProgressFn | None

    async def tell(
        self, name: str, stage: Stage, pages: int | None = None, chunks: int = 0, *, chunks_total: int | None = None
    ) -> None:
        """Report `stage` of file `name`: `pages` parsed (of as many), `chunks` embedded (of `chunks_total`, by
        default as many)."""
        total = chunks if chunks_total is None else chunks_total
        update = ImportProgress(name, self.number, self.count, stage, pages or 0, pages, chunks, total)
        await notify(self.progress, update)


class Importer:
    """Imports files into one guild's notes; the plan's limits come from the optional hooks."""

    def __init__(
        self,
        ctx: MemoryContext,
        indexer: Indexer,
        *,
        upload_limit: UploadLimit | None = None,
        memory_limit: MemoryLimit | None = None,
        parser: ParsePool | None = None,
    ) -> None:
        self._ctx = ctx
        self._indexer = indexer
        self._parser = parser  # None: this process's shared pool, started on the first import
        # Hooks for plan-based limits (billing): guild id -> bytes. Unset: MAX_UPLOAD_MB and no memory cap.
        self.upload_limit = upload_limit
        self.memory_limit = memory_limit

    # --- check ----------------------------------------------------------------------------------------------
    async def upload_limit_bytes(self, guild_id: int) -> int:
        """The largest file this guild may import."""
        configured = self._ctx.config.max_upload_bytes
        if self.upload_limit is not None:
            return min(configured, int(await self.upload_limit(guild_id)))
        return configured

    async def check_upload(self, guild_id: int, file_name: str, content_type: str | None, size: int) -> None:
        """Refuse a file from its name, type and size alone (before anything is downloaded)."""
        name = clean_file_name(file_name)
        parsing.check_upload(name, content_type, size, await self.upload_limit_bytes(guild_id))

    async def _check_unpacked(self, guild_id: int, file_name: str, characters: int) -> None:
        """The upload limit holds for the text a file unpacks to as well (a small PDF or DOCX can hold far more)."""
        limit = await self.upload_limit_bytes(guild_id)
        if characters > limit:
            detail = f"{format_bytes(characters)} of text, over the {format_bytes(limit)} upload limit"
            raise TooLargeUnpacked(file_name, detail)

    async def _check_memory_limit(self, scope: CampaignScope, file_name: str, size: int) -> None:
        if self.memory_limit is None:
            return
        limit = await self.memory_limit(scope.guild_id)  # the plan's cap counts every campaign of the guild
        if limit is None:
            return
        others = await self._ctx.repo.stored_bytes(scope, except_file=file_name)
        if others + size > limit:
            raise MemoryFull(file_name, others + size, limit)

    # --- a batch of files, a note ---------------------------------------------------------------------------
    async def import_files(
        self,
        m: Mutation,
        uploads: Sequence[Upload],
        *,
        limit: int,
        player_safe: bool,
        progress: ProgressFn | None,
    ) -> list[ImportReport | UserFacingError]:
        """Import `uploads` in order (each at most `limit` bytes); a bad file gives its error and the rest go on.
        Names are cleaned (`clean_file_name`) first; a name already imported earlier in the batch is refused."""
        await self._prepare(m)
        results: list[ImportReport | UserFacingError] = []
        seen: set[str] = set()
        for number, given in enumerate(uploads, start=1):
            upload = dataclasses.replace(given, file_name=clean_file_name(given.file_name))
            try:
                if upload.file_name in seen:
                    raise DuplicateFileName(upload.file_name)
                parsing.check_upload(upload.file_name, upload.content_type, len(upload.data), limit)
                try:
                    report = await self._import_one(
                        m, upload, player_safe, _Slot(number, len(uploads), progress), kind_override=None
                    )
                except VectorStoreError as exc:  # already undone by _import_one: this file only, the rest go on
                    log.warning("guild %s: %s not stored: %s", m.guild_id, upload.file_name, exc)
                    raise VectorsNotStored(upload.file_name, str(exc)) from exc
            except UserFacingError as exc:
                results.append(exc)
                continue
            seen.add(upload.file_name)
            results.append(report)
        if any(isinstance(r, ImportReport) and not r.embedding_skipped for r in results):
            m.rebuild_roster()
        return results

    async def import_note(self, m: Mutation, upload: Upload, *, player_safe: bool) -> ImportReport:
        """Import a note the bot wrote itself (no upload checks; its kind is "note")."""
        await self._prepare(m)
        report = await self._import_one(m, upload, player_safe, _Slot(1, 1, None), kind_override="note")
        if not report.embedding_skipped:
            m.rebuild_roster()
        return report

    async def _prepare(self, m: Mutation) -> None:
        """Before importing: clean up after a crashed import, re-embed the guild if the embedder changed."""
        await self.recover(m)
        await self._indexer.ensure_index(m, progress=None)

    # --- one file -------------------------------------------------------------------------------------------
    async def _import_one(
        self, m: Mutation, upload: Upload, player_safe: bool, slot: _Slot, *, kind_override: str | None
    ) -> ImportReport:
        """Import one checked file (see the module docstring)."""
        started = time.perf_counter()
        guild_id, name, size = m.guild_id, upload.file_name, len(upload.data)
        new_id = document_id_for(upload.data)

        known = await self._known(m, upload, new_id, player_safe, started)
        if known is not None:
            await slot.tell(name, "done", chunks_total=known.chunks)
            return known

        await self._check_memory_limit(m.scope, name, size)
        await slot.tell(name, "parsing")
        parsed = await self._parse_and_chunk(upload, new_id, slot)
        await self._check_unpacked(guild_id, name, parsed.characters)
        kind, chunks, pages = kind_override or parsed.kind, parsed.chunks, parsed.pages
        pending = await m.start_import(new_id, name, kind, size, pages, player_safe)
        try:
            await embed_and_upsert(
                self._ctx, m.scope, chunks, name, player_safe, slot.progress, slot.number, slot.count, pages
            )
            await slot.tell(name, "saving", pages, len(chunks))
            # visible from here, in this and every other process: not at the end of a batch of files
            await m.swap_in(pending, chunks, kind, size, pages, player_safe)
        except BaseException:
            if not pending.visible:  # a failure after the swap committed keeps the new version
                chunk_ids = [c.chunk_id for c in chunks]
                await asyncio.shield(m.abandon(pending.row_id, new_id, chunk_ids, was_ready=pending.was_ready))
            raise

        report = ImportReport(
            file_name=name,
            document_id=new_id,
            kind=kind,
            outcome="replaced" if pending.was_ready else "imported",
            chunks=len(chunks),
            pages=pages,
            size_bytes=size,
            embedded=len(chunks),
            player_safe=player_safe,
            seconds=time.perf_counter() - started,
        )
        await slot.tell(name, "done", pages, len(chunks))
        log.info("guild %s: %s %s (%d chunks, %.1f s)", guild_id, report.outcome, name, report.chunks, report.seconds)
        return report

    async def _known(
        self, m: Mutation, upload: Upload, new_id: str, player_safe: bool, started: float
    ) -> ImportReport | None:
        """The report of a file whose bytes are already imported (no embedding), else None."""
        same = await self._ctx.repo.ready_document(m.scope, new_id)
        if same is None:
            return None
        name = upload.file_name
        if same.player_safe != player_safe and same.file_name == name:
            await m.set_player_safe(new_id, player_safe)
        outcome: Literal["unchanged", "duplicate"] = "unchanged" if same.file_name == name else "duplicate"
        return ImportReport(
            file_name=name,
            document_id=new_id,
            kind=same.kind,
            outcome=outcome,
            chunks=same.chunk_count,
            pages=same.pages,
            size_bytes=len(upload.data),
            embedded=0,
            player_safe=player_safe if outcome == "unchanged" else same.player_safe,
            seconds=time.perf_counter() - started,
            duplicate_of=same.file_name if outcome == "duplicate" else None,
        )

    async def _parse_and_chunk(self, upload: Upload, document_id: str, slot: _Slot) -> ParseResult:
        """Parse and chunk in a worker process; page progress is sent from its waiting thread, at most every
        0.25 s. Over the time or memory limit, the GM reads which file and which limit."""
        loop = asyncio.get_running_loop()
        last = [0.0]
        notified: list[concurrent.futures.Future[None]] = []  # kept, and awaited below: none is lost or leaked

        def on_page(done: int, total: int) -> None:  # runs in the pool's waiting thread
            now = time.monotonic()
            if slot.progress is None or (now - last[0] < 0.25 and done < total):
                return
            last[0] = now
            update = ImportProgress(upload.file_name, slot.number, slot.count, "parsing", done, total)
            notified.append(asyncio.run_coroutine_threadsafe(notify(slot.progress, update), loop))

        parser = self._parser or shared_pool()
        config = self._ctx.config
        try:
            result = await parser.parse(
                upload.file_name,
                upload.data,
                document_id,
                seconds=config.parse_seconds,
                memory_bytes=config.parse_memory_bytes,
                on_page=on_page,
            )
        finally:
            await asyncio.gather(*(asyncio.wrap_future(f) for f in notified), return_exceptions=True)
        if not result.chunks:
            raise EmptyDocument(upload.file_name)
        return result

    # --- recover --------------------------------------------------------------------------------------------
    async def recover(self, m: Mutation) -> None:
        """Clean up after an import that died without its own clean-up (process killed mid-import)."""
        for row in await self._ctx.repo.interrupted_imports(m.scope):
            if row.status == DocumentStatus.IMPORTING:
                log.warning("guild %s: removing interrupted first import of %s", m.guild_id, row.file_name)
                await m.abandon(row.id, row.document_id, [], was_ready=False)
            elif row.pending_document_id and row.pending_document_id != row.document_id:
                log.warning("guild %s: removing interrupted re-import of %s", m.guild_id, row.file_name)
                await m.abandon(row.id, row.pending_document_id, [], was_ready=True)
            else:
                async with m.transaction() as tx:
                    await tx.drop_pending(row.id, was_ready=True)
