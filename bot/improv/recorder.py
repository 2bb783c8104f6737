"""The panic history: each answer's two rows (`panics`, `saved_improvs`) written off the panic's path in batches,
and the loads of stored answers the follow-up buttons need. Callers get plain values, never ORM rows."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from typing import Any, cast

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.errors import UserFacingError
from bot.guilds import ensure_guild
from bot.improv.kinds import Kind, schema_for
from bot.improv.recent import Answer
from bot.improv.types import Engine, PanicRecord, PanicRequest, PanicResult, Source, StoredImprov
from bot.tasks import BackgroundTasks
from db.base import utcnow
from db.models.panic import Panic, SavedImprov

__all__ = ["NotFound", "Recorder", "new_improv_id"]

log = logging.getLogger(__name__)

RECORD_DELAY = 0.05  # seconds a finished panic's rows wait, so the answer goes out first and neighbours share a write

_QueuedRecord = tuple[int, dict[str, Any], dict[str, Any], "asyncio.Future[None]"]


_last_id = 0


def new_improv_id() -> int:
    """A unique id for a stored result, made here so the answer need not wait for the database:
    milliseconds since 2026 in the high bits, 20 random bits below (sortable by time, fits a signed 64-bit
    integer), and increasing within a process (ids made in the same millisecond keep their order)."""
    global _last_id
    millis = int(time.time() * 1000) - 1_767_225_600_000
    _last_id = max((max(0, millis) << 20) | secrets.randbits(20), _last_id + 1)
    return _last_id


class NotFound(UserFacingError):
    """A follow-up button points at a result that no longer exists."""

    def __init__(self) -> None:
        super().__init__("That answer is no longer available. Panic again!", title="Gone")


class Recorder:
    """Writes finished panics in batches (one writer task, one transaction at a time) and loads them back."""

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], tasks: BackgroundTasks, *, delay: float = RECORD_DELAY
    ) -> None:
        self.sessionmaker = sessionmaker
        self.tasks = tasks
        self.delay = delay
        self._recording: dict[int, asyncio.Future[None]] = {}  # results whose rows are being written
        self._queue: list[_QueuedRecord] = []
        self._writing: list[_QueuedRecord] = []  # the batch being written now
        self._writer: asyncio.Task[None] | None = None
        self._known_guilds: set[int] = set()  # guild rows known to exist (skips an upsert per panic)

    def record(self, request: PanicRequest, result: PanicResult) -> None:
        """Queue one answered panic's two rows; the writer starts `delay` after the first (the answer's final
        edit goes out first), so panics that finish together share a write (a few statements instead of an ORM
        flush each). Follow-ups that come first wait for the rows (`load`)."""
        now = utcnow()
        panic_row = {
            "guild_id": request.guild_id,
            "user_id": request.user_id,
            "kind": request.kind,
            "details": request.details[:400],
            "latency_ms": result.latency_ms,
            "tokens_in": result.tokens_in,
            "tokens_out": result.tokens_out,
            "engine": result.engine,
            "model": result.model[:64],
            "pool_hit": result.pool_hit,
            "fallback_reason": result.fallback_reason,
            "created_at": now,
        }
        saved_row = {
            "id": result.improv_id,
            "guild_id": request.guild_id,
            "user_id": request.user_id,
            "kind": request.kind,
            "details": request.details[:400],
            "player_safe_only": request.player_safe_only,
            "payload": result.improv.model_dump(),
            "sources": [s.as_dict() for s in result.sources],
            "engine": result.engine,
            "fallback_reason": result.fallback_reason,
            "title": result.improv.title,
            "created_at": now,
        }
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((result.improv_id, panic_row, saved_row, done))
        self._recording[result.improv_id] = done
        if self._writer is None or self._writer.done():
            self._writer = self.tasks.spawn(self._write_records(), name="panic-records")

    async def _write_records(self) -> None:
        await asyncio.sleep(self.delay)
        while self._queue:
            batch, self._queue = self._queue, []
            self._writing = batch
            try:
                try:
                    await self._write_batch(batch)
                except IntegrityError:  # a guild row vanished (the bot left and came back): create them, retry
                    self._known_guilds.difference_update(p["guild_id"] for _, p, _, _ in batch)
                    await self._write_batch(batch)
            except Exception as exc:
                log.warning("could not record %d panics (database unavailable?)", len(batch), exc_info=True)
                for improv_id, _, _, done in batch:
                    self._recording.pop(improv_id, None)
                    if not done.done():
                        done.set_exception(exc)
                        done.exception()  # retrieved: a follow-up that waits sees NotFound, nobody else cares
                continue
            for improv_id, _, _, done in batch:
                self._recording.pop(improv_id, None)
                if not done.done():
                    done.set_result(None)
        self._writing = []

    async def _write_batch(self, batch: list[_QueuedRecord]) -> None:
        async with self.sessionmaker.begin() as session:
            for guild_id in dict.fromkeys(p["guild_id"] for _, p, _, _ in batch):
                if guild_id not in self._known_guilds:
                    await ensure_guild(session, guild_id)
            ids = (
                (
                    await session.execute(
                        insert(Panic).returning(Panic.id, sort_by_parameter_order=True),
                        [p for _, p, _, _ in batch],
                    )
                )
                .scalars()
                .all()
            )
            await session.execute(
                insert(SavedImprov), [{**s, "panic_id": pid} for (_, _, s, _), pid in zip(batch, ids, strict=True)]
            )
        self._known_guilds.update(p["guild_id"] for _, p, _, _ in batch)

    async def load(self, improv_id: int, guild_id: int) -> StoredImprov:
        """A stored result of this guild by id (for reveal, reroll and save); `NotFound` otherwise."""
        pending = self._recording.get(improv_id)
        if pending is not None:
            await asyncio.gather(pending, return_exceptions=True)
        async with self.sessionmaker() as session:
            row = await session.get(SavedImprov, improv_id)
        if row is None or row.guild_id != guild_id:
            raise NotFound()
        kind = cast(Kind, row.kind)
        try:
            improv = schema_for(kind).model_validate(row.payload)
        except (ValueError, KeyError) as exc:
            raise NotFound() from exc
        return StoredImprov(
            improv_id=row.id,
            guild_id=row.guild_id,
            user_id=row.user_id,
            kind=kind,
            details=row.details,
            improv=improv,
            engine=cast(Engine, row.engine),
            sources=tuple(Source.from_dict(s) for s in row.sources),
            fallback_reason=row.fallback_reason,
            player_safe_only=row.player_safe_only,
            saved_at=row.saved_at,
            note_ref=row.note_ref,
        )

    async def answers(self, guild_id: int, kind: Kind, limit: int) -> list[Answer]:
        """The guild's latest answers of `kind`, newest first: those still waiting for their write, then the
        stored ones (one indexed read of plain columns)."""
        schema = schema_for(kind)
        pending = [
            (improv_id, saved["payload"], saved["player_safe_only"])
            for improv_id, _, saved, _ in (*self._writing, *self._queue)
            if saved["guild_id"] == guild_id and saved["kind"] == kind
        ]
        async with self.sessionmaker() as session:
            rows = await session.execute(
                select(SavedImprov.id, SavedImprov.payload, SavedImprov.player_safe_only)
                .where(SavedImprov.guild_id == guild_id, SavedImprov.kind == kind)
                .order_by(SavedImprov.id.desc())
                .limit(limit)
            )
            stored = [(row[0], row[1], row[2]) for row in rows]
        found: dict[int, Answer] = {}
        for improv_id, payload, player_safe in (*pending, *stored):
            if improv_id in found:
                continue
            try:
                found[improv_id] = Answer(improv_id, schema.model_validate(payload), bool(player_safe))
            except ValueError:
                continue  # written by an older schema: not worth remembering
        return sorted(found.values(), key=lambda answer: -answer.improv_id)[:limit]

    async def mark_saved(self, improv_id: int, note_ref: str) -> None:
        """Remember that a result was saved into campaign memory."""
        async with self.sessionmaker.begin() as session:
            row = await session.get(SavedImprov, improv_id)
            if row is not None:
                row.saved_at = utcnow()
                row.note_ref = note_ref[:200]

    async def recent(self, guild_id: int, limit: int = 10) -> list[PanicRecord]:
        """The guild's latest panics, newest first."""
        async with self.sessionmaker() as session:
            rows = await session.execute(
                select(Panic).where(Panic.guild_id == guild_id).order_by(Panic.id.desc()).limit(limit)
            )
            return [
                PanicRecord(
                    id=row.id,
                    guild_id=row.guild_id,
                    user_id=row.user_id,
                    kind=cast(Kind, row.kind),
                    details=row.details,
                    engine=cast(Engine, row.engine),
                    model=row.model,
                    latency_ms=row.latency_ms,
                    tokens_in=row.tokens_in,
                    tokens_out=row.tokens_out,
                    pool_hit=row.pool_hit,
                    fallback_reason=row.fallback_reason,
                    created_at=row.created_at,
                )
                for row in rows.scalars()
            ]
