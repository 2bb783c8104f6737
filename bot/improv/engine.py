"""The panic path, Discord-free: admit, ground, take from the pool or generate with streaming, fall back, record.

The one promise: `panic()` always returns an answer. If the model has not begun a valid answer within the door's
`PanicPolicy.deadline_seconds` of the request (no key, timeout, HTTP error, invalid output, refusal, open
circuit, exhausted quota), the offline tables answer instead, labelled with the reason. Once a valid answer is
streaming it may take up to the policy's `answer_seconds` in all.

Each step has its own module and its dependencies are given at construction: admission (cooldown and quota),
grounding (campaign memory), the guarded model, the pool and the recorder (the panic history). The guild+kind's
recent answers (`recent.py`, read from the history and kept per process) go to the tables and the model's prompt,
so neither repeats itself; a reroll's earlier answer is the most recent of them.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.billing.types import Entitlements, QuotaDecision
from bot.improv.admission import Admission, Admitter, CooldownActive
from bot.improv.breaker import CircuitBreaker
from bot.improv.canon import repair
from bot.improv.config import DISCORD_POLICY, ImprovConfig, PanicPolicy
from bot.improv.generation import GuardedModel, PartialCallback
from bot.improv.grounding import Grounder, Grounding, WarmUp
from bot.improv.kinds import Improv, Kind
from bot.improv.llm import GenerationError, Generator
from bot.improv.pool import Pool, PoolEntry
from bot.improv.prompts import Style, build_prompt
from bot.improv.recent import Answer, RecentAnswers
from bot.improv.recorder import NotFound, Recorder, new_improv_id
from bot.improv.soft import soft
from bot.improv.tables import find_focus, make_name, roll
from bot.improv.types import PanicRecord, PanicRequest, PanicResult, Source, StoredImprov, dedupe_sources
from bot.kv import KeyValue
from bot.memory.scope import ScopeLike, as_scope
from bot.memory.types import Retriever
from bot.tasks import BackgroundTasks

__all__ = ["Admission", "CooldownActive", "Improviser", "NotFound", "PartialCallback"]

log = logging.getLogger(__name__)

RECENT_WAIT_SHARE = 0.2  # of the retrieval budget, the most the first panic of a guild+kind in this process waits
# for its recent answers (Discord: 0.2 s; a patient door longer)


class Improviser:
    """Answers panics. Built once per process (in `bot.services.open_services`) and shared by every door.

    `policy` is the default door's (Discord's); a door with other needs passes its own to `panic`.
    `retriever` None answers ungrounded, `entitlements` None is unlimited, `generator` None answers from the
    tables; `warm` loads the embedding model (for policies that wait for it).
    """

    def __init__(
        self,
        config: ImprovConfig,
        *,
        kv: KeyValue,
        tasks: BackgroundTasks,
        recorder: Recorder,
        generator: Generator | None,
        retriever: Retriever | None = None,
        entitlements: Entitlements | None = None,
        policy: PanicPolicy = DISCORD_POLICY,
        warm: WarmUp | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.policy = policy
        self.tasks = tasks
        self.recorder = recorder
        self.admitter = Admitter(kv, entitlements, cooldown_seconds=config.cooldown_seconds)
        self.grounder = Grounder(retriever, kv, warm=warm)
        self.breaker = CircuitBreaker(config.breaker_threshold, config.breaker_reset_seconds)
        self.model = GuardedModel(generator, self.breaker)
        self.pool = Pool(kv, config.pool_size, lock_seconds=config.model_timeout_seconds * (config.pool_size + 1))
        self.rng = rng or random.Random()
        self.recent_answers = RecentAnswers(recorder.answers, tasks)
        self._inflight = 0  # panics this process is working on

    @property
    def generator(self) -> Generator | None:
        """The model's generator (None: tables only)."""
        return self.model.generator

    @property
    def model_name(self) -> str:
        """The configured model (empty without a generator)."""
        return self.model.model_name

    def model_status(self, guild_id: int) -> str:
        """One line for `/campaign status`: the model in use and whether its last call worked."""
        return self.model.status(guild_id)

    @property
    def warmed(self) -> bool:
        """Whether the embedding model is loaded (retrieval is then fast from the first panic)."""
        return self.grounder.warmed

    async def warm_up(self, timeout: float) -> bool:  # noqa: ASYNC109 - a bound on the wait, the load goes on
        """Load the embedding model, waiting at most `timeout` seconds; whether it is loaded. The bot starts this
        when it connects; a panic that arrives while the model is still loading waits for it within its budget."""
        task = self.grounder.warm_up()
        if task is not None:
            await asyncio.wait([task], timeout=timeout)
        return self.warmed

    # --- the panic ---------------------------------------------------------------------------------------
    async def admit(self, request: PanicRequest, *, count_quota: bool = False) -> Admission:
        """Check the cooldown (and count the quota when asked) before the interaction is acknowledged.

        Raises `CooldownActive` when the user panicked a moment ago (nothing counted against the quota).
        """
        return await self.admitter.admit(request, count_quota=count_quota)

    async def panic(
        self,
        request: PanicRequest,
        on_partial: PartialCallback | None = None,
        admission: Admission | None = None,
        *,
        policy: PanicPolicy | None = None,
        started: float | None = None,
    ) -> PanicResult:
        """Answer `request` under `policy` (default: the improviser's), streaming partial results to
        `on_partial`; never fails for model reasons. `started` (loop time, default now) is when the door got the
        request: the deadline counts from there, so the door's own checks (prefs, cooldown) never add to it.

        Without an `admission` (from `admit`), checks the cooldown first and raises `CooldownActive` when the
        user panicked a moment ago (nothing counted against the quota).
        """
        policy = policy or self.policy
        if started is None:
            started = asyncio.get_running_loop().time()
        if admission is None:
            admission = await self.admit(request)
        self._inflight += 1
        try:
            return await self._panic(request, on_partial, started, policy, admission)
        finally:
            self._inflight -= 1

    async def _panic(
        self,
        request: PanicRequest,
        on_partial: PartialCallback | None,
        started: float,
        policy: PanicPolicy,
        admission: Admission,
    ) -> PanicResult:
        deadline = started + policy.deadline_seconds
        bare = not request.details.strip()
        self.recent_answers.prefetch(request.scope, request.kind)  # read alongside grounding, used at the end
        if self._inflight > self.config.max_inflight:
            # overloaded: shed work so acknowledgements and the deadline hold for everyone
            quota = await self.admitter.quota(request, admission)
            shed = Grounding(skipped="busy") if self.grounder.retriever is not None else Grounding()
            recent = await self._recent(request, policy, started)  # no waiting here
            return self._finish_tables(request, shed, "busy", quota, started, [a.improv for a in recent])
        entry: PoolEntry | None = None
        if bare and self.generator is not None:
            # quota and pool in one round trip each, concurrently; a pool hit needs no retrieval
            quota, entry = await asyncio.gather(
                self.admitter.quota(request, admission),
                soft(
                    "pool",
                    self.pool.take(request.scope, request.kind, request.player_safe_only, request.style),
                    None,
                ),
            )
            refused = quota is not None and not quota.allowed
            if entry is not None and not refused:
                self._schedule_refill(request)
                return self._finish(
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
                await soft(
                    "pool", self.pool.give_back(request.scope, request.player_safe_only, entry, request.style), None
                )
            grounding = await self.grounder.ground(request, policy, deadline)
        else:
            quota, grounding = await asyncio.gather(
                self.admitter.quota(request, admission), self.grounder.ground(request, policy, deadline)
            )
        recent = await self._recent(request, policy, deadline)
        earlier = [a.improv for a in recent]
        if quota is not None and not quota.allowed:
            return self._finish_tables(request, grounding, "quota", quota, started, earlier)
        if self.generator is None:
            return self._finish_tables(request, grounding, "no_key", quota, started, earlier)
        if not self.model.allow(request.guild_id):
            return self._finish_tables(request, grounding, "circuit_open", quota, started, earlier)

        prompt = build_prompt(
            request.kind,
            request.details,
            request.style,
            grounding.passages,
            grounding.roster,
            budget=self.config.prompt_token_budget,
            given=_titles(recent, request.player_safe_only),
        )
        try:
            generation = await self.model.generate(
                request.kind,
                prompt,
                on_partial,
                guild_id=request.guild_id,
                started=started,
                deadline=deadline,
                full_deadline=started + policy.answer_seconds,
            )
        except GenerationError as exc:
            log.info("panic fallback guild=%s kind=%s reason=%s", request.guild_id, request.kind, exc.reason)
            return self._finish_tables(request, grounding, exc.reason, quota, started, earlier)

        improv = self._repair(generation.improv, grounding)
        if bare:
            self._schedule_refill(request)
        sources = tuple(dedupe_sources([Source.from_passage(p) for p in prompt.passages]))
        return self._finish(
            request,
            improv,
            engine="openai",
            sources=sources,
            quota=quota,
            started=started,
            tokens=(generation.tokens_in, generation.tokens_out),
            model=generation.model,
            grounding_note=grounding.skipped,
        )

    async def _recent(self, request: PanicRequest, policy: PanicPolicy, deadline: float) -> list[Answer]:
        """The guild+kind's recent answers, most recent first (the first read waited for at most a share of the
        retrieval budget, never past the deadline)."""
        wait = min(policy.retrieve_seconds * RECENT_WAIT_SHARE, deadline - asyncio.get_running_loop().time())
        return await self.recent_answers.get(request.scope, request.kind, wait=wait)

    def _repair(self, improv: Improv, grounding: Grounding) -> Improv:
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
        grounding: Grounding,
        style: Style | None = None,
        recent: Sequence[Improv] = (),
    ) -> Improv:
        """An offline-table answer in the request's style: about the subject the details name (a given name as
        given, a canon person, place, tavern or group from its passage), canon woven in by type, clashing names
        avoided, and nothing `recent` (the guild's last answers of this kind, newest first) already used."""
        return roll(
            kind,
            rng=self.rng,
            canon=grounding.names,
            details=details,
            avoid=lambda name: grounding.canon.check(name) is not None,
            passages=grounding.passages,
            style=style,
            recent=recent,
        )

    def _finish_tables(
        self,
        request: PanicRequest,
        grounding: Grounding,
        reason: str,
        quota: QuotaDecision | None,
        started: float,
        recent: Sequence[Improv] = (),
    ) -> PanicResult:
        improv = self.tables(request.kind, request.details, grounding, request.style, recent)
        # cite the passage the answer is about first, then the rest of what was retrieved
        focus = find_focus(request.details, grounding.passages, grounding.names.people)
        cited = [focus.passage] if focus is not None else []
        if grounding.roster:
            cited += [p for p in grounding.passages if focus is None or p is not focus.passage]
        sources = tuple(dedupe_sources([Source.from_passage(p) for p in cited]))
        return self._finish(
            request,
            improv,
            engine="tables",
            sources=sources,
            quota=quota,
            started=started,
            fallback_reason=reason,
            grounding_note=grounding.skipped,
        )

    def _finish(
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
        grounding_note: str | None = None,
    ) -> PanicResult:
        result = PanicResult(
            improv_id=new_improv_id(),
            kind=request.kind,
            details=request.details,
            improv=improv,
            engine=engine,
            sources=tuple(sources),
            fallback_reason=fallback_reason,
            quota=quota,
            model=model,
            latency_ms=round((asyncio.get_running_loop().time() - started) * 1000),
            tokens_in=tokens[0],
            tokens_out=tokens[1],
            pool_hit=pool_hit,
            player_safe_only=request.player_safe_only,
            grounding_note=grounding_note,
        )
        self.recent_answers.add(request.scope, request.kind, Answer(result.improv_id, improv, request.player_safe_only))
        # the answer does not wait for the database: follow-up buttons that come first wait for the write
        self.recorder.record(request, result)
        return result

    # --- the pool ----------------------------------------------------------------------------------------
    def _schedule_refill(self, request: PanicRequest) -> None:
        if self.generator is None or self.config.pool_size <= 0 or self.breaker.state != "closed":
            return
        self.tasks.spawn(
            self.refill(request.scope, request.kind, request.player_safe_only, request.style),
            name=f"pool-refill:{request.guild_id}:{request.kind}",
        )

    async def refill(self, scope: ScopeLike, kind: Kind, player_safe_only: bool, style: Style | None = None) -> int:
        """Top up the pool for a campaign and kind (bounded; a concurrent refill of the same pool is skipped)."""
        style, scope = style or Style(), as_scope(scope)
        request = PanicRequest(
            guild_id=scope.guild_id,
            user_id=0,
            kind=kind,
            player_safe_only=player_safe_only,
            style=style,
            campaign_id=scope.campaign_id,
        )

        async def make() -> PoolEntry | None:
            if self.generator is None or not self.model.allow(scope.guild_id):
                return None
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.policy.deadline_seconds
            grounding = await self.grounder.ground(request, self.policy, deadline)
            recent = await self._recent(request, self.policy, deadline)
            prompt = build_prompt(
                kind,
                "",
                style,
                grounding.passages,
                grounding.roster,
                budget=self.config.prompt_token_budget,
                given=_titles(recent, player_safe_only),
            )
            started = loop.time()
            until = started + self.config.model_timeout_seconds
            try:
                generation = await self.model.generate(
                    kind, prompt, None, guild_id=scope.guild_id, started=started, deadline=until, full_deadline=until
                )
            except GenerationError as exc:
                log.info("pool refill for guild %s %s stopped: %s", scope, kind, exc.reason)
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

        return await self.pool.refill(scope, kind, player_safe_only, make, style)

    # --- follow-ups --------------------------------------------------------------------------------------
    async def load(self, improv_id: int, guild_id: int) -> StoredImprov:
        """A stored result of this guild by id (for reveal, reroll and save); `NotFound` otherwise."""
        return await self.recorder.load(improv_id, guild_id)

    async def result_of(self, improv_id: int, guild_id: int) -> PanicResult:
        """Rebuild the `PanicResult` of a stored answer (to render it again, e.g. for Reveal)."""
        return (await self.load(improv_id, guild_id)).result()

    async def mark_saved(self, improv_id: int, note_ref: str) -> None:
        """Remember that a result was saved into campaign memory."""
        await self.recorder.mark_saved(improv_id, note_ref)

    async def mark_revealed(self, improv_id: int) -> None:
        """Remember that a result was shown to the table (it joins tonight's improvisations)."""
        await self.recorder.mark_revealed(improv_id)

    async def mark_dropped(self, improv_id: int) -> None:
        """Leave a result out of tonight's improvisations."""
        await self.recorder.mark_dropped(improv_id)

    async def tonight(self, scope: ScopeLike, since: datetime | None = None) -> tuple[datetime, list[StoredImprov]]:
        """This session's start and its revealed or saved improvisations (bot/improv/tonight.py)."""
        return await self.recorder.session_log(scope, since)

    async def recent(self, guild_id: int, limit: int = 10) -> list[PanicRecord]:
        """The guild's latest panics, newest first."""
        return await self.recorder.recent(guild_id, limit)


def _titles(recent: Sequence[Answer], player_safe_only: bool) -> list[str]:
    """The titles a prompt may name as already given: for a player, only answers made for players (a title from
    the GM's notes must not reach a player's answer through the model)."""
    return [a.improv.title for a in recent if a.player_safe or not player_safe_only]
