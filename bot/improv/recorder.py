"""The panic history: each answer's two rows (`panics`, `saved_improvs`) written off the panic's path in batches,
and the loads of stored answers the follow-up buttons need. Callers get plain values, never ORM rows.

Nothing is lost while the database is away: rows that cannot be written stay pending (at most `max_pending` in
memory, oldest given up first) and, where a shared key-value store is configured (Redis), are spilled to it so
another process or a restart writes them; the writer retries with backoff and writes are idempotent (a row
already written is skipped). The buttons of a pending answer work meanwhile: `load` reads it from memory or the
spill."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any, cast

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.errors import UserFacingError
from bot.guilds import ensure_guild
from bot.improv.kinds import Kind, schema_for
from bot.improv.recent import Answer
from bot.improv.tonight import RECAP_MAX, session_start
from bot.improv.types import Engine, PanicRecord, PanicRequest, PanicResult, Source, StoredImprov
from bot.kv import KeyValue
from bot.memory.scope import ScopeLike, as_scope
from bot.tasks import BackgroundTasks
from db.base import utcnow
from db.models.panic import Panic, SavedImprov

__all__ = ["NotFound", "Recorder", "Unavailable", "new_improv_id"]

log = logging.getLogger(__name__)

RECORD_DELAY = 0.05  # seconds a finished panic's rows wait, so the answer goes out first and neighbours share a write
MAX_PENDING = 1000  # unwritten answers kept in memory (a few KB each) while the database is away
BATCH = 200  # answers written per transaction
WRITE_SECONDS = 10.0  # a batch's write that takes longer is given up and retried (writes are idempotent)
RETRY_SECONDS = 0.5  # first wait before writing again after a failure; doubles up to RETRY_MAX_SECONDS
RETRY_MAX_SECONDS = 30.0
LOAD_SECONDS = 2.0  # longest a button's read of the history waits for the database
SPILL_SECONDS = 1.0  # longest one spill or unspill waits for the key-value store
SPILL_LIST = "panic:records:pending"  # ids of spilled answers, oldest first
SPILL_TTL = 7 * 24 * 3600.0  # seconds a spilled answer is kept for a writer to find it
SPILL_MAX = 10_000  # ids kept in the spill list (the oldest are trimmed)


_TIMES = ("created_at", "saved_at", "revealed_at", "dropped_at")  # the timestamp columns of a spilled row


def _spill_key(improv_id: int) -> str:
    return f"panic:record:{improv_id}"


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


class Unavailable(UserFacingError):
    """The history cannot be read right now (database away) and the answer is not kept anywhere else."""

    def __init__(self) -> None:
        super().__init__(
            "The bot can't reach its history right now, so that button can't find its answer. Try again in a "
            "minute, or panic again!",
            title="Try again soon",
        )


@dataclass(slots=True)
class _Record:
    """One answer's two rows, waiting for their write."""

    panic: dict[str, Any]
    saved: dict[str, Any]
    spilled: bool = False  # a copy is in the key-value store
    listed: bool = False  # its id is in the spill's list (where writers look)
    failed: bool = False  # a write was tried and failed (readers stop waiting for it)

    @property
    def improv_id(self) -> int:
        return int(self.saved["id"])

    def to_json(self) -> bytes:
        def plain(row: dict[str, Any]) -> dict[str, Any]:
            return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}

        return json.dumps({"panic": plain(self.panic), "saved": plain(self.saved)}).encode()

    @classmethod
    def from_json(cls, data: bytes) -> _Record:
        loaded = json.loads(data)

        def rows(row: dict[str, Any]) -> dict[str, Any]:
            return {k: datetime.fromisoformat(v) if k in _TIMES and isinstance(v, str) else v for k, v in row.items()}

        return cls(rows(loaded["panic"]), rows(loaded["saved"]), spilled=True)  # taken off the list

    def stored(self) -> StoredImprov:
        saved = self.saved
        kind = cast(Kind, saved["kind"])
        try:
            improv = schema_for(kind).model_validate(saved["payload"])
        except (ValueError, KeyError) as exc:
            raise NotFound() from exc
        return StoredImprov(
            improv_id=self.improv_id,
            guild_id=int(saved["guild_id"]),
            user_id=int(saved["user_id"]),
            kind=kind,
            details=str(saved["details"]),
            improv=improv,
            engine=cast(Engine, saved["engine"]),
            sources=tuple(Source.from_dict(s) for s in saved["sources"]),
            fallback_reason=saved.get("fallback_reason"),
            player_safe_only=bool(saved["player_safe_only"]),
            saved_at=saved.get("saved_at"),
            note_ref=saved.get("note_ref"),
            campaign_id=int(saved.get("campaign_id", 0)),
        )


class Recorder:
    """Writes finished panics in batches (one writer task, one transaction at a time) and loads them back.

    `spill`: a key-value store shared with other processes (Redis) that keeps answers the database refused;
    None keeps them in this process only."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        tasks: BackgroundTasks,
        *,
        delay: float = RECORD_DELAY,
        spill: KeyValue | None = None,
        max_pending: int = MAX_PENDING,
        retry_seconds: float = RETRY_SECONDS,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.tasks = tasks
        self.delay = delay
        self.spill = spill
        self.max_pending = max_pending
        self.retry_seconds = retry_seconds
        self.dropped = 0  # answers given up (memory full, nowhere to spill)
        self._pending: dict[int, _Record] = {}  # not written yet, oldest first
        self._writing: set[int] = set()  # the batch being written now
        self._progress = asyncio.Event()  # set (and replaced) after each write attempt
        self._writer: asyncio.Task[None] | None = None
        self._retry: asyncio.TimerHandle | None = None
        self._backoff = retry_seconds
        self._closed = False
        self._known_guilds: set[int] = set()  # guild rows known to exist (skips an upsert per panic)

    @property
    def pending(self) -> int:
        """Answers in memory waiting for their write."""
        return len(self._pending)

    def record(self, request: PanicRequest, result: PanicResult) -> None:
        """Queue one answered panic's two rows; the writer starts `delay` after the first (the answer's final
        edit goes out first), so panics that finish together share a write (a few statements instead of an ORM
        flush each). Follow-ups that come first read the rows from memory (`load`)."""
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
            "campaign_id": request.campaign_id,
            "user_id": request.user_id,
            "kind": request.kind,
            "details": request.details[:400],
            "player_safe_only": request.player_safe_only,
            "payload": result.improv.model_dump(mode="json"),
            "sources": [s.as_dict() for s in result.sources],
            "engine": result.engine,
            "fallback_reason": result.fallback_reason,
            "title": result.improv.title,
            "created_at": now,
        }
        self._pending[result.improv_id] = _Record(panic_row, saved_row)
        self._trim()
        self._kick()

    def close(self) -> None:
        """Stop retrying (at shutdown, after background work had its grace); what is still pending was spilled
        where a spill is configured."""
        self._closed = True
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None

    # --- the writer --------------------------------------------------------------------------------------
    def _trim(self) -> None:
        """Keep at most `max_pending` answers in memory: the oldest go to the spill, or are given up."""
        while len(self._pending) > self.max_pending:
            oldest = next((i for i in self._pending if i not in self._writing), None)
            if oldest is None:
                return
            record = self._pending.pop(oldest)
            if record.spilled and record.listed:
                continue
            if self.spill is not None:
                self.tasks.spawn(self._spill([record]), name="panic-records-spill")
                continue
            self.dropped += 1
            if self.dropped % 100 == 1:
                log.warning("panic history: %d unwritten answers given up (database away, memory full)", self.dropped)

    def _kick(self) -> None:
        """Start the writer now (cancelling a scheduled retry) unless it is running."""
        if self._closed:
            return
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        if self._writer is None or self._writer.done():
            self._writer = self.tasks.spawn(self._write_records(), name="panic-records")

    def _schedule_retry(self) -> None:
        """Write again after the backoff (a timer, not a task: draining background work does not wait for it)."""
        if self._closed:
            return
        self._retry = asyncio.get_running_loop().call_later(self._backoff, self._kick)
        self._backoff = min(self._backoff * 2, RETRY_MAX_SECONDS)

    async def _write_records(self) -> None:
        await asyncio.sleep(self.delay)
        while True:  # closing stops retries, not the write in hand
            if not self._pending and not await self._unspill():
                return
            batch = list(islice(self._pending.values(), BATCH))
            self._writing = {r.improv_id for r in batch}
            try:
                async with asyncio.timeout(WRITE_SECONDS):
                    try:
                        await self._write_batch(batch)
                    except IntegrityError:  # a guild row vanished, or another process wrote some: retry once
                        self._known_guilds.difference_update(r.panic["guild_id"] for r in batch)
                        await self._write_batch(batch)
            except Exception:
                log.warning(
                    "could not record %d panics (database unavailable?); kept to retry", len(batch), exc_info=True
                )
                for record in batch:
                    record.failed = True
                await self._spill([r for r in batch if not (r.spilled and r.listed)])
                self._schedule_retry()
                return
            finally:
                self._writing = set()
                self._progress.set()
                self._progress = asyncio.Event()
            for record in batch:
                self._pending.pop(record.improv_id, None)
            self._backoff = self.retry_seconds
            await self._forget([r.improv_id for r in batch if r.spilled])

    async def _write_batch(self, batch: list[_Record]) -> None:
        async with self.sessionmaker.begin() as session:
            ids = [r.improv_id for r in batch]
            written = set((await session.execute(select(SavedImprov.id).where(SavedImprov.id.in_(ids)))).scalars())
            fresh = [r for r in batch if r.improv_id not in written]
            if not fresh:
                return
            for guild_id in dict.fromkeys(r.panic["guild_id"] for r in fresh):
                if guild_id not in self._known_guilds:
                    await ensure_guild(session, guild_id)
            panic_ids = (
                (
                    await session.execute(
                        insert(Panic).returning(Panic.id, sort_by_parameter_order=True), [r.panic for r in fresh]
                    )
                )
                .scalars()
                .all()
            )
            await session.execute(
                insert(SavedImprov), [{**r.saved, "panic_id": pid} for r, pid in zip(fresh, panic_ids, strict=True)]
            )
        self._known_guilds.update(r.panic["guild_id"] for r in batch)

    # --- the spill ---------------------------------------------------------------------------------------
    async def _spill(self, records: list[_Record], *, again: bool = False) -> None:
        """Copy `records` to the shared store and list them for writers (`again`: rewrite copies already there);
        bounded: on failure they stay in memory only."""
        if self.spill is None or not records:
            return
        try:
            async with asyncio.timeout(SPILL_SECONDS):
                for record in records:
                    if again or not record.spilled:
                        await self.spill.set(_spill_key(record.improv_id), record.to_json(), ttl=SPILL_TTL)
                        record.spilled = True
                    if not record.listed:
                        await self.spill.push(SPILL_LIST, str(record.improv_id).encode(), SPILL_MAX)
                        record.listed = True
        except Exception as exc:
            log.warning("could not spill unwritten panics (%s); kept in memory only", type(exc).__name__)

    async def _unspill(self) -> bool:
        """Move up to a batch of spilled answers (of any process) into memory to write them; whether any came."""
        if self.spill is None:
            return False
        taken = 0
        try:
            async with asyncio.timeout(SPILL_SECONDS):
                while taken < min(BATCH, self.max_pending):
                    raw = await self.spill.pop(SPILL_LIST)
                    if raw is None:
                        break
                    improv_id = int(raw)
                    if (ours := self._pending.get(improv_id)) is not None:
                        ours.listed = False  # listed again if its write fails
                        continue
                    data = await self.spill.get(_spill_key(improv_id))
                    if data is None:
                        continue  # written already
                    self._pending[improv_id] = _Record.from_json(data)  # listed again if this write fails
                    taken += 1
        except Exception as exc:
            log.warning("could not read spilled panics (%s)", type(exc).__name__)
        return taken > 0

    async def _forget(self, improv_ids: list[int]) -> None:
        """Drop written answers from the spill."""
        if self.spill is None or not improv_ids:
            return
        try:
            async with asyncio.timeout(SPILL_SECONDS):
                await self.spill.delete(*(_spill_key(i) for i in improv_ids))
        except Exception as exc:
            log.warning("could not clear written panics from the spill (%s)", type(exc).__name__)

    async def _spilled(self, improv_id: int) -> _Record | None:
        if self.spill is None:
            return None
        try:
            async with asyncio.timeout(SPILL_SECONDS):
                data = await self.spill.get(_spill_key(improv_id))
        except Exception:
            return None
        return _Record.from_json(data) if data is not None else None

    # --- reads -------------------------------------------------------------------------------------------
    async def load(self, improv_id: int, guild_id: int) -> StoredImprov:
        """A stored result of this guild by id (for reveal, reroll and save), written or still pending;
        `NotFound` otherwise (`Unavailable` when the database cannot say)."""
        record = await self._settled(improv_id)
        if record is None:
            try:
                async with asyncio.timeout(LOAD_SECONDS), self.sessionmaker() as session:
                    row = await session.get(SavedImprov, improv_id)
            except Exception as exc:
                record = await self._spilled(improv_id)
                if record is None:
                    log.warning("could not load answer %s (%s)", improv_id, type(exc).__name__)
                    raise Unavailable() from exc
            else:
                if row is not None:
                    return self._stored(row, guild_id)
                record = await self._spilled(improv_id)  # kept by a process that could not write it
                if record is not None:
                    self._kick()  # the database answers: write what was spilled
        if record is None or int(record.saved["guild_id"]) != guild_id:
            raise NotFound()
        return record.stored()

    async def _settled(self, improv_id: int) -> _Record | None:
        """The answer's pending rows once its first write is over (waited for at most `LOAD_SECONDS`): None when
        written (or never pending here), else the rows the database refused or that are still on their way."""
        try:
            async with asyncio.timeout(LOAD_SECONDS):
                while (record := self._pending.get(improv_id)) is not None and not record.failed:
                    await self._progress.wait()
        except TimeoutError:
            pass
        return self._pending.get(improv_id)

    @staticmethod
    def _stored(row: SavedImprov, guild_id: int) -> StoredImprov:
        if row.guild_id != guild_id:
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
            campaign_id=row.campaign_id,
            created_at=row.created_at,
            revealed_at=row.revealed_at,
        )

    async def answers(self, scope: ScopeLike, kind: Kind, limit: int) -> list[Answer]:
        """The campaign's latest answers of `kind`, newest first: those still waiting for their write, then the
        stored ones (one indexed read of plain columns)."""
        schema, scope = schema_for(kind), as_scope(scope)
        pending = [
            (improv_id, saved["payload"], saved["player_safe_only"])
            for improv_id, saved in ((r.improv_id, r.saved) for r in self._pending.values())
            if saved["guild_id"] == scope.guild_id
            and saved.get("campaign_id", 0) == scope.campaign_id
            and saved["kind"] == kind
        ]
        async with self.sessionmaker() as session:
            rows = await session.execute(
                select(SavedImprov.id, SavedImprov.payload, SavedImprov.player_safe_only)
                .where(
                    SavedImprov.guild_id == scope.guild_id,
                    SavedImprov.campaign_id == scope.campaign_id,
                    SavedImprov.kind == kind,
                )
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
        """Remember that a result was saved into campaign memory (on its pending rows when not written yet)."""
        await self._mark(improv_id, saved_at=utcnow(), note_ref=note_ref[:200])

    async def mark_revealed(self, improv_id: int) -> None:
        """Remember when a result was first shown to the table (for `/campaign recap`); best effort and bounded:
        with the database away the reveal still happens, it is only missing from the recap."""
        try:
            async with asyncio.timeout(2 * LOAD_SECONDS):
                await self._mark(improv_id, revealed_at=utcnow(), keep_first=True)
        except Exception as exc:
            log.warning("answer %s: could not note its reveal (%s)", improv_id, type(exc).__name__)

    async def mark_dropped(self, improv_id: int) -> None:
        """Leave a result out of `/campaign recap` from now on."""
        await self._mark(improv_id, dropped_at=utcnow())

    async def _mark(self, improv_id: int, *, keep_first: bool = False, **values: Any) -> None:
        """Set columns of a result's saved row, on its pending rows when not written yet (`keep_first`: a value
        already set stays)."""
        record = await self._settled(improv_id)
        if record is not None:
            record.saved.update((k, v) for k, v in values.items() if not (keep_first and record.saved.get(k)))
            if record.spilled:
                await self._spill([record], again=True)
            return
        async with self.sessionmaker.begin() as session:
            row = await session.get(SavedImprov, improv_id)
            if row is not None:
                for key, value in values.items():
                    if not (keep_first and getattr(row, key) is not None):
                        setattr(row, key, value)

    async def session_log(self, scope: ScopeLike, since: datetime | None) -> tuple[datetime, list[StoredImprov]]:
        """This session of the campaign (from `since`, else from `session_start`) and its answers that were
        revealed or saved and not dropped, oldest first (at most `RECAP_MAX`)."""
        scope, now = as_scope(scope), utcnow()
        mine = (SavedImprov.guild_id == scope.guild_id, SavedImprov.campaign_id == scope.campaign_id)
        async with self.sessionmaker() as session:
            if since is None:
                recent = select(SavedImprov.created_at).where(*mine).order_by(SavedImprov.created_at.desc())
                since = session_start(list((await session.execute(recent.limit(1000))).scalars()), now)
            rows = await session.execute(
                select(SavedImprov)
                .where(
                    *mine,
                    SavedImprov.created_at >= since,
                    SavedImprov.dropped_at.is_(None),
                    SavedImprov.revealed_at.is_not(None) | SavedImprov.saved_at.is_not(None),
                )
                .order_by(SavedImprov.created_at, SavedImprov.id)
                .limit(RECAP_MAX)
            )
            found: list[StoredImprov] = []
            for row in rows.scalars():
                try:
                    found.append(self._stored(row, scope.guild_id))
                except NotFound:
                    continue  # written by an older schema
        return since, found

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
