"""The panic path, Discord-free: cooldown and quota, retrieve, pool, generate with streaming, fall back, record.

The one promise: `panic()` always returns an answer. If the model has not begun a valid answer within
`panic_deadline_seconds` of the request (no key, timeout, HTTP error, invalid output, refusal, open circuit,
exhausted quota), the offline tables answer instead, labelled with the reason. Once a valid answer is streaming
it may take up to `openai_timeout_seconds` in all.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from openai import AsyncOpenAI
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.billing.types import Entitlements, QuotaDecision
from bot.errors import UserFacingError
from bot.guilds import ensure_guild
from bot.improv.breaker import CircuitBreaker
from bot.improv.canon import CanonIndex, repair
from bot.improv.kinds import KIND_LABELS, Improv, Kind, schema_for
from bot.improv.llm import Generation, GenerationError, Generator, ModelTrace, build_client, build_generator
from bot.improv.pool import Pool, PoolEntry
from bot.improv.prompts import Prompt, Style, build_prompt
from bot.improv.tables import find_focus, make_name, roll
from bot.improv.types import PanicRequest, PanicResult, Source, dedupe_sources
from bot.kv import KeyValue
from bot.memory.types import Passage, Retriever
from bot.settings import Settings
from bot.tasks import BackgroundTasks
from db.base import utcnow
from db.models.panic import Panic, SavedImprov

__all__ = ["Admission", "CooldownActive", "Improviser", "ImproviserDeps", "NotFound", "build_improviser"]

log = logging.getLogger(__name__)

PartialCallback = Callable[[Improv], Awaitable[None]]
RETRIEVE_SECONDS = 1.0  # retrieval gets at most this much of the deadline
PASSAGES_K = 4
RETRIEVAL_CONCURRENCY = 2
RECENT_MAX = 3
RECENT_TTL = 6 * 3600.0  # a session's worth of context
RECORD_DELAY = 0.05  # seconds a finished panic's rows wait, so the answer goes out first and neighbours share a write
# A deadline timeout counts against the model (circuit breaker) only if the request was out for at least this
# share of the deadline without a single chunk back, and the timeout fired on time (the event loop was not
# starved): otherwise the time went to local work or overload.
MODEL_WAIT_SHARE = 0.5
LOOP_LAG_TOLERANCE = 0.25


def new_improv_id() -> int:
    """A unique id for a stored result, made here so the answer need not wait for the database:
    milliseconds since 2026 in the high bits, 20 random bits below (sortable, fits a signed 64-bit integer)."""
    millis = int(time.time() * 1000) - 1_767_225_600_000
    return (max(0, millis) << 20) | secrets.randbits(20)


class CooldownActive(UserFacingError):
    """The user panicked a moment ago."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"Deep breath! You can panic again in {max(1, round(retry_after))} s.", title="Slow down")
        self.retry_after = retry_after


class NotFound(UserFacingError):
    """A follow-up button points at a result that no longer exists."""

    def __init__(self) -> None:
        super().__init__("That answer is no longer available. Panic again!", title="Gone")


T = TypeVar("T")
SOFT_SECONDS = 0.3  # a healthy key-value store answers in well under a millisecond
QUOTA_SECONDS = 1.0  # the quota may touch the database once


async def _nothing() -> None:
    """An awaitable that does nothing (where a step may have no work)."""


async def _soft(what: str, op: Awaitable[T], default: T, *, seconds: float = SOFT_SECONDS) -> T:
    """`op`'s result, or `default` when its service is slow or down: the panic answers either way."""
    try:
        async with asyncio.timeout(seconds):
            return await op
    except Exception as exc:
        log.warning("%s unavailable (%s); the panic goes on without it", what, type(exc).__name__ or "error")
        return default


class ImproviserDeps(Protocol):
    """What the improviser needs from the services container (memory and billing are optional)."""

    settings: Settings
    kv: KeyValue
    sessionmaker: async_sessionmaker[AsyncSession]
    tasks: BackgroundTasks


_QueuedRecord = tuple[int, dict[str, Any], dict[str, Any], "asyncio.Future[None]"]


@dataclass(frozen=True, slots=True)
class Admission:
    """A panic let past the cooldown before it was acknowledged; `quota` is its decision when already counted.

    The doors admit a panic before acknowledging it, so a refusal (cooldown, exhausted quota) can be shown
    privately even where answers are public: ephemerality is fixed when the interaction is acknowledged.
    """

    counted: bool = False
    quota: QuotaDecision | None = None

    @property
    def refused(self) -> bool:
        """Whether the quota was counted and found spent (the answer will come from the tables)."""
        return self.quota is not None and not self.quota.allowed


@dataclass(slots=True)
class _Grounding:
    passages: list[Passage]
    roster: list[str]  # names the answer may show (all canon for GMs; only names in player-safe notes for players)
    canon: CanonIndex  # every canon name (clashes are checked against all of them)


class Improviser:
    """Answers panics. Built once per process (`build_improviser`) and shared by the bot and the CLI."""

    def __init__(
        self,
        deps: ImproviserDeps,
        *,
        generator: Generator | None,
        client: AsyncOpenAI | None = None,
        rng: random.Random | None = None,
    ) -> None:
        settings = deps.settings
        self.deps = deps
        self.settings = settings
        self.generator = generator
        self.client = client
        self.breaker = CircuitBreaker(settings.breaker_threshold, settings.breaker_reset_seconds)
        self.pool = Pool(
            deps.kv, settings.pool_size, lock_seconds=settings.openai_timeout_seconds * (settings.pool_size + 1)
        )
        self.rng = rng or random.Random()
        self._inflight = 0  # panics this process is working on
        # retrieval is CPU work (query embedding, vector search, re-ranking): two at a time (one per core of the
        # 2-core host; the embedder uses two threads each) keeps a core for the event loop and its
        # acknowledgements; the rest wait within their retrieval budget
        self._retrieval = asyncio.Semaphore(RETRIEVAL_CONCURRENCY)
        self._recording: dict[int, asyncio.Future[None]] = {}  # results whose rows are being written
        self._record_queue: list[_QueuedRecord] = []
        self._writer: asyncio.Task[None] | None = None
        self._known_guilds: set[int] = set()  # guild rows known to exist (skips an upsert per panic)

    # --- optional services, read at call time so they can be attached after the improviser -------------
    @property
    def memory(self) -> Retriever | None:
        """Campaign memory, when the services provide it."""
        return getattr(self.deps, "memory", None)

    @property
    def billing(self) -> Entitlements | None:
        """Billing entitlements, when the services provide them (else unlimited)."""
        return getattr(self.deps, "billing", None)

    @property
    def model_name(self) -> str:
        """The configured model (empty without a generator)."""
        return self.generator.model if self.generator is not None else ""

    async def aclose(self) -> None:
        """Close the HTTP client."""
        if self.client is not None:
            await self.client.close()

    # --- the panic ---------------------------------------------------------------------------------------
    async def admit(self, request: PanicRequest, *, count_quota: bool = False) -> Admission:
        """Check the cooldown (and count the quota when asked) before the interaction is acknowledged.

        Raises `CooldownActive` when the user panicked a moment ago (nothing counted against the quota).
        Both are one key-value round trip each, so acknowledgement stays immediate.
        """
        if request.check_cooldown:
            await self._check_cooldown(request)
        if not count_quota:
            return Admission()
        return Admission(counted=True, quota=await self._consume_quota(request.guild_id))

    async def panic(
        self, request: PanicRequest, on_partial: PartialCallback | None = None, admission: Admission | None = None
    ) -> PanicResult:
        """Answer `request`, streaming partial results to `on_partial`; never fails for model reasons.

        Without an `admission` (from `admit`), checks the cooldown first and raises `CooldownActive` when the
        user panicked a moment ago (nothing counted against the quota).
        """
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + self.settings.panic_deadline_seconds
        if admission is None:
            admission = await self.admit(request)
        self._inflight += 1
        try:
            return await self._panic(request, on_partial, started, deadline, admission)
        finally:
            self._inflight -= 1

    async def _quota(self, request: PanicRequest, admission: Admission) -> QuotaDecision | None:
        """The panic's quota decision: counted at admission, or now."""
        if admission.counted:
            return admission.quota
        return await self._consume_quota(request.guild_id)

    async def _panic(
        self,
        request: PanicRequest,
        on_partial: PartialCallback | None,
        started: float,
        deadline: float,
        admission: Admission,
    ) -> PanicResult:
        bare = not request.details.strip()
        if self._inflight > self.settings.panic_max_inflight:
            # overloaded: shed work so acknowledgements and the deadline hold for everyone
            quota = await self._quota(request, admission)
            return await self._finish_tables(request, _Grounding([], [], CanonIndex([])), "busy", quota, started)
        entry: PoolEntry | None = None
        if bare and self.generator is not None:
            # quota and pool in one round trip each, concurrently; a pool hit needs no retrieval
            quota, entry = await asyncio.gather(
                self._quota(request, admission),
                _soft(
                    "pool",
                    self.pool.take(request.guild_id, request.kind, request.player_safe_only, request.style),
                    None,
                ),
            )
            refused = quota is not None and not quota.allowed
            if entry is not None and not refused:
                self._schedule_refill(request)
                return await self._finish(
                    request,
                    entry.improv,
                    engine="pool",
                    sources=entry.sources,
                    quota=quota,
                    started=started,
                    tokens=(entry.tokens_in, entry.tokens_out),
                    model=entry.model,
                    pool_hit=True,
                )
            if entry is not None:
                await _soft(
                    "pool", self.pool.give_back(request.guild_id, request.player_safe_only, entry, request.style), None
                )
            grounding = await self._ground(request, deadline)
        else:
            quota, grounding = await asyncio.gather(self._quota(request, admission), self._ground(request, deadline))
        if quota is not None and not quota.allowed:
            return await self._finish_tables(request, grounding, "quota", quota, started)
        if self.generator is None:
            return await self._finish_tables(request, grounding, "no_key", quota, started)
        if not self.breaker.allow():
            return await self._finish_tables(request, grounding, "circuit_open", quota, started)

        prompt = build_prompt(
            request.kind,
            request.details,
            request.style,
            grounding.passages,
            grounding.roster,
            budget=self.settings.prompt_token_budget,
        )
        try:
            generation = await self._generate_within(request, prompt, on_partial, deadline, started)
        except GenerationError as exc:
            log.info("panic fallback guild=%s kind=%s reason=%s", request.guild_id, request.kind, exc.reason)
            return await self._finish_tables(request, grounding, exc.reason, quota, started)

        improv = self._repair(generation.improv, grounding)
        if bare:
            self._schedule_refill(request)
        sources = tuple(dedupe_sources([Source.from_passage(p) for p in prompt.passages]))
        return await self._finish(
            request,
            improv,
            engine="openai",
            sources=sources,
            quota=quota,
            started=started,
            tokens=(generation.tokens_in, generation.tokens_out),
            model=generation.model,
        )

    async def _generate_within(
        self,
        request: PanicRequest,
        prompt: Prompt,
        on_partial: PartialCallback | None,
        deadline: float,
        started: float,
    ) -> Generation:
        """Run the model under the first-answer deadline, extended to the full timeout once it streams."""
        assert self.generator is not None
        full_deadline = started + self.settings.openai_timeout_seconds
        loop = asyncio.get_running_loop()
        trace = ModelTrace()
        try:
            async with asyncio.timeout_at(min(deadline, full_deadline)) as scope:

                async def partial(improv: Improv) -> None:
                    if scope.when() != full_deadline and improv.fields():
                        scope.reschedule(full_deadline)  # a valid answer is streaming: let it finish
                    if on_partial is not None:
                        await on_partial(improv)

                generation = await self.generator.generate(request.kind, prompt, on_partial=partial, trace=trace)
        except TimeoutError:
            fired = scope.when() or loop.time()
            if self._model_was_silent(trace, fired, loop.time(), deadline - started):
                self.breaker.record_failure()
            else:
                log.info(
                    "panic deadline passed for local reasons (model sent at %s, first byte at %s)",
                    trace.sent_at,
                    trace.first_byte_at,
                )
                self.breaker.release_probe()
            raise GenerationError("timeout") from None
        except GenerationError:
            # HTTP errors, the client's own timeout, refusals and invalid output all say the model failed us
            self.breaker.record_failure()
            raise
        except asyncio.CancelledError:
            self.breaker.release_probe()
            raise
        except Exception as exc:  # never let a surprise in the client break the button
            log.exception("unexpected model error")
            self.breaker.record_failure()
            raise GenerationError("error", type(exc).__name__) from exc
        self.breaker.record_success()
        return generation

    @staticmethod
    def _model_was_silent(trace: ModelTrace, fired: float, now: float, deadline_seconds: float) -> bool:
        """Whether a deadline timeout is the model's fault: it had a fair share of the deadline and sent nothing.

        Our own deadline also passes when this process is overloaded: retrieval or a queue ate the time before
        the request went out, or the event loop was too busy to read bytes that had arrived (the timeout then
        fires late). Neither says anything about the model, so neither may open the circuit breaker.
        """
        if trace.sent_at is None or trace.first_byte_at is not None:
            return False
        waited = fired - trace.sent_at
        late = now - fired
        return waited >= MODEL_WAIT_SHARE * deadline_seconds and late <= LOOP_LAG_TOLERANCE

    # --- steps -------------------------------------------------------------------------------------------
    async def _check_cooldown(self, request: PanicRequest) -> None:
        seconds = self.settings.panic_cooldown_seconds
        if seconds <= 0:
            return
        key = f"panic:cooldown:{request.guild_id}:{request.user_id}"
        count = await _soft("cooldown", self.deps.kv.incr(key, 1, ttl=seconds), 1)
        if count > 1:
            remaining = await _soft("cooldown", self.deps.kv.ttl(key), None)
            raise CooldownActive(remaining if remaining is not None else seconds)

    async def _consume_quota(self, guild_id: int) -> QuotaDecision | None:
        billing = self.billing
        if billing is None:
            return None
        return await _soft("quota", billing.consume_panic(guild_id), None, seconds=QUOTA_SECONDS)

    async def _ground(self, request: PanicRequest, deadline: float) -> _Grounding:
        """Passages and canon names for the request; empty when there are no notes or memory is slow."""
        memory = self.memory
        if memory is None:
            return _Grounding([], [], CanonIndex([]))
        query, context, remember = await self._query(request)
        loop = asyncio.get_running_loop()
        budget = max(0.05, min(RETRIEVE_SECONDS, (deadline - loop.time()) / 3))
        found, _ = await asyncio.gather(self._search(memory, request, query, context, budget), remember)
        if found is None:
            return _Grounding([], [], CanonIndex([]))
        passages, roster = found
        if request.player_safe_only:
            passages = [p for p in passages if p.player_safe]
            visible_text = " ".join(p.text for p in passages)
            visible = [name for name in roster if name and name in visible_text]
        else:
            visible = list(roster)
        return _Grounding(list(passages), visible, CanonIndex(roster))

    async def _search(
        self, memory: Retriever, request: PanicRequest, query: str, context: list[str], budget: float
    ) -> tuple[list[Passage], list[str]] | None:
        """Passages and roster within `budget` seconds; None when memory is slow or failing (answer ungrounded)."""
        try:
            async with asyncio.timeout(budget), self._retrieval:
                passages, roster = await asyncio.gather(
                    memory.search(
                        request.guild_id,
                        query,
                        PASSAGES_K,
                        player_safe_only=request.player_safe_only,
                        context=context,
                    ),
                    memory.roster(request.guild_id),
                )
        except TimeoutError:
            log.warning("retrieval for guild %s took over %.2f s; answering ungrounded", request.guild_id, budget)
            return None
        except Exception:  # a dead vector store, embedder or database: answer ungrounded, as when memory is slow
            log.warning("retrieval failed for guild %s; answering ungrounded", request.guild_id, exc_info=True)
            return None
        return list(passages), list(roster)

    async def _query(self, request: PanicRequest) -> tuple[str, list[str], Awaitable[None]]:
        """Retrieval query (the kind and the details), its context (the guild's last two detailed queries, kept
        in the kv store: they steer the search without lengthening the query, and memory remembers their
        vectors), and the kv write that adds this query to them (for the caller to run alongside the search)."""
        key = f"panic:recent:{request.guild_id}"
        raw = await _soft("recent panics", self.deps.kv.get(key), None)
        try:
            recent = [str(item) for item in json.loads(raw)] if raw else []
        except ValueError:
            recent = []
        details = request.details.strip()[:200]
        query = f"{KIND_LABELS[request.kind]} {details}".strip()
        context = [r for r in recent[-2:] if r != query]
        if not details:
            return query, context, _nothing()
        updated = [*(r for r in recent if r != query), query][-RECENT_MAX:]
        remember = _soft("recent panics", self.deps.kv.set(key, json.dumps(updated).encode(), ttl=RECENT_TTL), None)
        return query, context, remember

    def _repair(self, improv: Improv, grounding: _Grounding) -> Improv:
        if not grounding.canon:
            return improv
        visible = {n.lower() for n in grounding.roster}
        repaired, clashes = repair(
            improv,
            grounding.canon,
            lambda: make_name(self.rng, avoid=lambda n: grounding.canon.check(n) is not None),
            respell_to=lambda name: name.lower() in visible,
        )
        for clash in clashes:
            log.info("canon clash %r vs %r: %s", clash.generated, clash.canon, clash.action)
        return repaired

    def tables(
        self,
        kind: Kind,
        details: str,
        grounding_roster: Sequence[str],
        canon: CanonIndex,
        passages: Sequence[Passage] = (),
    ) -> Improv:
        """An offline-table answer, canon names woven in, clashing names avoided, about the canon the details
        point at when a retrieved passage's heading matches them."""
        return roll(
            kind,
            rng=self.rng,
            canon=list(grounding_roster)[:12],
            details=details,
            avoid=lambda name: canon.check(name) is not None,
            passages=passages,
        )

    async def _finish_tables(
        self,
        request: PanicRequest,
        grounding: _Grounding,
        reason: str,
        quota: QuotaDecision | None,
        started: float,
    ) -> PanicResult:
        # weave names actually present in the retrieved passages first: they are the most relevant canon
        text = " ".join(p.text for p in grounding.passages)
        relevant = [n for n in grounding.roster if n in text] or grounding.roster
        improv = self.tables(request.kind, request.details, relevant, grounding.canon, grounding.passages)
        focus = find_focus(request.details, grounding.passages, list(relevant)[:12])
        cited = [focus.passage] if focus is not None else []
        if relevant:
            cited += [p for p in grounding.passages if focus is None or p is not focus.passage]
        sources = tuple(dedupe_sources([Source.from_passage(p) for p in cited]))
        return await self._finish(
            request, improv, engine="tables", sources=sources, quota=quota, started=started, fallback_reason=reason
        )

    async def _finish(
        self,
        request: PanicRequest,
        improv: Improv,
        *,
        engine: Any,
        sources: Sequence[Source],
        quota: QuotaDecision | None,
        started: float,
        tokens: tuple[int, int] = (0, 0),
        model: str = "",
        pool_hit: bool = False,
        fallback_reason: str | None = None,
    ) -> PanicResult:
        latency_ms = round((asyncio.get_running_loop().time() - started) * 1000)

        improv_id = new_improv_id()
        now = utcnow()
        panic_row = {
            "guild_id": request.guild_id,
            "user_id": request.user_id,
            "kind": request.kind,
            "details": request.details[:400],
            "latency_ms": latency_ms,
            "tokens_in": tokens[0],
            "tokens_out": tokens[1],
            "engine": engine,
            "model": model[:64],
            "pool_hit": pool_hit,
            "fallback_reason": fallback_reason,
            "created_at": now,
        }
        saved_row = {
            "id": improv_id,
            "guild_id": request.guild_id,
            "user_id": request.user_id,
            "kind": request.kind,
            "details": request.details[:400],
            "player_safe_only": request.player_safe_only,
            "payload": improv.model_dump(),
            "sources": [s.as_dict() for s in sources],
            "engine": engine,
            "fallback_reason": fallback_reason,
            "title": improv.title,
            "created_at": now,
        }
        # the answer does not wait for the database: follow-up buttons that come first wait for the write
        self._enqueue_record(improv_id, panic_row, saved_row)
        return PanicResult(
            improv_id=improv_id,
            kind=request.kind,
            details=request.details,
            improv=improv,
            engine=engine,
            sources=tuple(sources),
            fallback_reason=fallback_reason,
            quota=quota,
            model=model,
            latency_ms=latency_ms,
            tokens_in=tokens[0],
            tokens_out=tokens[1],
            pool_hit=pool_hit,
            player_safe_only=request.player_safe_only,
        )

    # --- records ---------------------------------------------------------------------------------------------
    def _enqueue_record(self, improv_id: int, panic_row: dict[str, Any], saved_row: dict[str, Any]) -> None:
        """Queue one panic's two rows; one writer task writes whatever is queued in one transaction at a time,
        starting `RECORD_DELAY` after the first (the answer's final edit goes out first), so panics that finish
        together share a write (a few statements instead of an ORM flush each). Follow-ups wait for the rows."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._record_queue.append((improv_id, panic_row, saved_row, done))
        self._recording[improv_id] = done
        if self._writer is None or self._writer.done():
            self._writer = self.deps.tasks.spawn(self._write_records(), name="panic-records")

    async def _write_records(self) -> None:
        await asyncio.sleep(RECORD_DELAY)
        while self._record_queue:
            batch, self._record_queue = self._record_queue, []
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

    async def _write_batch(self, batch: list[_QueuedRecord]) -> None:
        async with self.deps.sessionmaker.begin() as session:
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

    # --- the pool ----------------------------------------------------------------------------------------
    def _schedule_refill(self, request: PanicRequest) -> None:
        if self.generator is None or self.settings.pool_size <= 0 or self.breaker.state != "closed":
            return
        self.deps.tasks.spawn(
            self.refill(request.guild_id, request.kind, request.player_safe_only, request.style),
            name=f"pool-refill:{request.guild_id}:{request.kind}",
        )

    async def refill(self, guild_id: int, kind: Kind, player_safe_only: bool, style: Style | None = None) -> int:
        """Top up the pool for a guild and kind (bounded; a concurrent refill of the same pool is skipped)."""
        style = style or Style()
        request = PanicRequest(guild_id=guild_id, user_id=0, kind=kind, player_safe_only=player_safe_only, style=style)

        async def make() -> PoolEntry | None:
            if self.generator is None or not self.breaker.allow():
                return None
            loop = asyncio.get_running_loop()
            grounding = await self._ground(request, loop.time() + self.settings.panic_deadline_seconds)
            prompt = build_prompt(
                kind, "", style, grounding.passages, grounding.roster, budget=self.settings.prompt_token_budget
            )
            started = loop.time()
            try:
                generation = await self._generate_within(
                    request, prompt, None, started + self.settings.openai_timeout_seconds, started
                )
            except GenerationError as exc:
                log.info("pool refill for guild %s %s stopped: %s", guild_id, kind, exc.reason)
                return None
            sources = tuple(dedupe_sources([Source.from_passage(p) for p in prompt.passages]))
            return PoolEntry(
                kind=kind,
                improv=self._repair(generation.improv, grounding),
                sources=sources,
                tokens_in=generation.tokens_in,
                tokens_out=generation.tokens_out,
                model=generation.model,
            )

        return await self.pool.refill(guild_id, kind, player_safe_only, make, style)

    # --- follow-ups --------------------------------------------------------------------------------------
    async def load(self, improv_id: int, guild_id: int) -> tuple[SavedImprov, Improv]:
        """A stored result of this guild by id (for reveal, reroll and save); `NotFound` otherwise."""
        pending = self._recording.get(improv_id)
        if pending is not None:
            await asyncio.gather(pending, return_exceptions=True)
        async with self.deps.sessionmaker() as session:
            row = await session.get(SavedImprov, improv_id)
        if row is None or row.guild_id != guild_id:
            raise NotFound()
        try:
            improv = schema_for(row.kind).model_validate(row.payload)  # type: ignore[arg-type]
        except (ValueError, KeyError) as exc:
            raise NotFound() from exc
        return row, improv

    async def result_of(self, improv_id: int, guild_id: int) -> PanicResult:
        """Rebuild the `PanicResult` of a stored answer (to render it again, e.g. for Reveal)."""
        row, improv = await self.load(improv_id, guild_id)
        return PanicResult(
            improv_id=row.id,
            kind=row.kind,  # type: ignore[arg-type]
            details=row.details,
            improv=improv,
            engine=row.engine,  # type: ignore[arg-type]
            sources=tuple(Source.from_dict(s) for s in row.sources),
            fallback_reason=row.fallback_reason,
            player_safe_only=row.player_safe_only,
        )

    async def mark_saved(self, improv_id: int, note_ref: str) -> None:
        """Remember that a result was saved into campaign memory."""
        async with self.deps.sessionmaker.begin() as session:
            row = await session.get(SavedImprov, improv_id)
            if row is not None:
                row.saved_at = utcnow()
                row.note_ref = note_ref[:200]

    async def recent(self, guild_id: int, limit: int = 10) -> list[Panic]:
        """The guild's latest panics, newest first."""
        async with self.deps.sessionmaker() as session:
            rows = await session.execute(
                select(Panic).where(Panic.guild_id == guild_id).order_by(Panic.id.desc()).limit(limit)
            )
            return list(rows.scalars())


def build_improviser(settings: Settings, deps: ImproviserDeps, *, generator: Generator | None = None) -> Improviser:
    """The improviser over `deps`; a real OpenAI client when an API key is set, else tables only."""
    client: AsyncOpenAI | None = None
    if generator is None:
        client = build_client(settings)
        generator = build_generator(settings, client)
    return Improviser(deps, generator=generator, client=client)
