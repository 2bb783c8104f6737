"""Grounding: the campaign passages and typed canon (people, places, groups, the party) a panic draws on,
retrieved within the door's budget.

Retrieval is CPU work (query embedding, vector search, re-ranking): two at a time (one per core of the 2-core
host; the embedder uses two threads each) keeps a core for the event loop and its acknowledgements; the rest
wait within their retrieval budget. A slow or failing memory means an ungrounded answer, never no answer.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.improv.canon import CanonIndex
from bot.improv.config import PanicPolicy
from bot.improv.kinds import KIND_LABELS
from bot.improv.soft import nothing, soft
from bot.improv.types import PanicRequest
from bot.kv import KeyValue
from bot.memory.types import Canon, Passage, Retriever

__all__ = ["Grounder", "Grounding", "WarmUp"]

log = logging.getLogger(__name__)

PASSAGES_K = 4
RETRIEVAL_CONCURRENCY = 2
RECENT_MAX = 3
RECENT_TTL = 6 * 3600.0  # a session's worth of context
MIN_BUDGET = 0.05

WarmUp = Callable[[], Awaitable[None]]


@dataclass(slots=True)
class Grounding:
    """What a panic draws on; empty when the guild has no notes or memory is slow."""

    passages: list[Passage] = field(default_factory=list)
    roster: list[str] = field(default_factory=list)  # names the answer may show (only player-safe ones for players)
    canon: CanonIndex = field(default_factory=lambda: CanonIndex([]))  # every canon name (clashes check them all)
    names: Canon = field(default_factory=Canon)  # the roster by type (the offline tables fill slots by type)
    skipped: str | None = None  # why the notes were not consulted: "timeout", "unavailable", "warming"; else None


class Grounder:
    """Retrieves a panic's grounding from campaign memory (`retriever`; None: never grounded).

    `warm` loads the embedding model, for doors whose policy waits for it before retrieving.
    """

    def __init__(self, retriever: Retriever | None, kv: KeyValue, *, warm: WarmUp | None = None) -> None:
        self.retriever = retriever
        self.kv = kv
        self.warm = warm
        self._slots = asyncio.Semaphore(RETRIEVAL_CONCURRENCY)
        self._warming: asyncio.Task[None] | None = None
        self.warmed = warm is None  # the embedding model is loaded (nothing to load without `warm`)

    def warm_up(self) -> asyncio.Task[None] | None:
        """Start loading the embedding model, once (again after a failure); the shared task, None if nothing to
        load. Panics that arrive meanwhile wait for it within their budget."""
        if self.warm is None or self.retriever is None:
            return None
        if self._warming is None or (self._warming.done() and not self.warmed):
            self._warming = asyncio.create_task(self._load_model(), name="warm-embedder")
        return self._warming

    async def _load_model(self) -> None:
        assert self.warm is not None
        try:
            await self.warm()
        except Exception:  # the search will try to load it itself
            log.warning("warming up the embedder failed", exc_info=True)
        else:
            self.warmed = True

    async def ground(self, request: PanicRequest, policy: PanicPolicy, deadline: float) -> Grounding:
        """Passages and canon names for the request, within the policy's retrieval budget (and the deadline)."""
        retriever = self.retriever
        if retriever is None:
            return Grounding()
        loop = asyncio.get_running_loop()
        warming = self._warming is not None and not self._warming.done()
        if self.warm is not None and (policy.wait_for_warm or warming):
            # a patient door waits for the model until its deadline; one that arrives while the bot is warming
            # it up waits for half of what is left, keeping the rest for retrieval and the model
            until = deadline if policy.wait_for_warm else loop.time() + (deadline - loop.time()) / 2
            if not await self._warm_up(until):
                return Grounding(skipped="warming")
        query, context, remember = await self._query(request)
        budget = max(MIN_BUDGET, min(policy.retrieve_seconds, (deadline - loop.time()) / 3))
        found, _ = await asyncio.gather(self._search(retriever, request, query, context, budget), remember)
        if isinstance(found, str):
            return Grounding(skipped=found)
        passages, canon = found
        clashes = CanonIndex.from_canon(canon)  # every canon name, hidden ones too; the party as names no NPC takes
        roster = canon.names()
        if request.player_safe_only:
            passages = [p for p in passages if p.player_safe]
            visible_text = " ".join(p.text for p in passages)
            visible = [name for name in roster if name and name in visible_text]
            shown = set(visible)
            canon = Canon(
                people=tuple(n for n in canon.people if n in shown),
                places=tuple(n for n in canon.places if n in shown),
                groups=tuple(n for n in canon.groups if n in shown),
                party=canon.party,
                other=tuple(n for n in canon.other if n in shown),
            )
        else:
            visible = list(roster)
        return Grounding(list(passages), visible, clashes, canon)

    async def _warm_up(self, until: float) -> bool:
        """Wait for the embedding model to load (starting it if need be) until loop time `until`; False when it is
        still loading then. A failed load counts as done: the search will try again itself."""
        task = self.warm_up()
        if task is None or task.done():
            return True
        await asyncio.wait([task], timeout=max(0.0, until - asyncio.get_running_loop().time()))
        if not task.done():
            log.warning("the embedder was still warming up; answering without the notes")
        return task.done()

    async def _search(
        self, retriever: Retriever, request: PanicRequest, query: str, context: list[str], budget: float
    ) -> tuple[list[Passage], Canon] | str:
        """Passages and typed canon within `budget` seconds; why not when memory is slow ("timeout") or failing
        ("unavailable"): the answer is then ungrounded."""
        try:
            async with asyncio.timeout(budget), self._slots:
                passages, canon = await asyncio.gather(
                    retriever.search(
                        request.scope,
                        query,
                        PASSAGES_K,
                        player_safe_only=request.player_safe_only,
                        context=context,
                    ),
                    retriever.canon(request.scope),
                )
        except TimeoutError:
            log.warning("retrieval for guild %s took over %.2f s; answering ungrounded", request.scope, budget)
            return "timeout"
        except Exception:  # a dead vector store, embedder or database: answer ungrounded, as when memory is slow
            log.warning("retrieval failed for guild %s; answering ungrounded", request.scope, exc_info=True)
            return "unavailable"
        return list(passages), canon

    async def _query(self, request: PanicRequest) -> tuple[str, list[str], Awaitable[None]]:
        """Retrieval query (the kind and the details), its context (the guild's last two detailed queries, kept
        in the kv store: they steer the search without lengthening the query, and memory remembers their
        vectors), and the kv write that adds this query to them (for the caller to run alongside the search)."""
        scope = request.scope
        key = f"panic:recent:{scope.guild_id}" + ("" if scope.is_default else f":c{scope.campaign_id}")
        raw = await soft("recent panics", self.kv.get(key), None)
        try:
            recent = [str(item) for item in json.loads(raw)] if raw else []
        except ValueError:
            recent = []
        details = request.details.strip()[:200]
        query = f"{KIND_LABELS[request.kind]} {details}".strip()
        context = [r for r in recent[-2:] if r != query]
        if not details:
            return query, context, nothing()
        updated = [*(r for r in recent if r != query), query][-RECENT_MAX:]
        remember = soft("recent panics", self.kv.set(key, json.dumps(updated).encode(), ttl=RECENT_TTL), None)
        return query, context, remember
