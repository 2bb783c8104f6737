"""The instant pool: a few pre-generated answers per guild, kind and audience, kept in the key-value store.

Keys carry the guild's campaign-memory version (`memory_version_key`), so importing or forgetting notes makes
the old pool unreachable at once (and the next refill deletes it). GM and player audiences have separate pools:
a result grounded in GM-only notes must never be served to a player. Keys also carry a fingerprint of the
guild's style (tone, length, content rating, game system), so answers pooled before `/panic settings` changed
are never served after it; a pool left behind by a change holds at most `size` entries and is deleted by the
next refill of that style (an old style is rarely chosen again, so such leftovers are few and small).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.improv.kinds import Improv, Kind, schema_for
from bot.improv.prompts import Style
from bot.improv.types import Source
from bot.kv import KeyValue
from bot.memory.scope import ScopeLike, as_scope
from bot.memory.types import memory_version_key

__all__ = ["Pool", "PoolEntry", "style_fingerprint"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PoolEntry:
    """A pre-generated answer waiting to be served."""

    kind: Kind
    improv: Improv
    sources: tuple[Source, ...]
    tokens_in: int
    tokens_out: int
    model: str

    def dumps(self) -> bytes:
        """Serialised for the key-value store."""
        return json.dumps(
            {
                "kind": self.kind,
                "improv": self.improv.model_dump(),
                "sources": [s.as_dict() for s in self.sources],
                "tokens_in": self.tokens_in,
                "tokens_out": self.tokens_out,
                "model": self.model,
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def loads(cls, raw: bytes) -> PoolEntry:
        """Inverse of `dumps` (raises on corrupt data)."""
        data: dict[str, Any] = json.loads(raw)
        kind: Kind = data["kind"]
        return cls(
            kind=kind,
            improv=schema_for(kind).model_validate(data["improv"]),
            sources=tuple(Source.from_dict(s) for s in data.get("sources", [])),
            tokens_in=int(data.get("tokens_in", 0)),
            tokens_out=int(data.get("tokens_out", 0)),
            model=str(data.get("model", "")),
        )


def _audience(player_safe_only: bool) -> str:
    return "players" if player_safe_only else "gm"


def style_fingerprint(style: Style | None) -> str:
    """A short stable digest of everything in a style that shapes an answer."""
    style = style or Style()
    text = "\x1f".join(
        [
            style.tone.strip().lower(),
            style.content_rating.strip().lower(),
            style.game_system.strip(),
            str(style.max_words),
        ]
    )
    return hashlib.blake2s(text.encode(), digest_size=6).hexdigest()


class Pool:
    """Per campaign+kind+audience list of ready answers, refilled under a lock so refills never overlap."""

    def __init__(self, kv: KeyValue, size: int, *, lock_seconds: float = 60.0) -> None:
        self.kv = kv
        self.size = size
        self.lock_seconds = lock_seconds

    async def version(self, scope: ScopeLike) -> int:
        """The guild's campaign-memory version (0 before any notes; bumped by a change to any of its campaigns)."""
        raw = await self.kv.get(memory_version_key(as_scope(scope).guild_id))
        try:
            return int(raw) if raw else 0
        except ValueError:
            return 0

    def key(
        self, scope: ScopeLike, kind: Kind, player_safe_only: bool, version: int, style: Style | None = None
    ) -> str:
        """List key for one pool (a named campaign's pools are its own: answers are grounded in its notes)."""
        scope = as_scope(scope)
        where = str(scope.guild_id) if scope.is_default else f"{scope.guild_id}-c{scope.campaign_id}"
        return f"pool:{where}:{kind}:{_audience(player_safe_only)}:{style_fingerprint(style)}:v{version}"

    async def take(
        self, scope: ScopeLike, kind: Kind, player_safe_only: bool, style: Style | None = None
    ) -> PoolEntry | None:
        """Pop a ready answer for the current notes and style, or None."""
        if self.size <= 0:
            return None
        key = self.key(scope, kind, player_safe_only, await self.version(scope), style)
        while True:
            raw = await self.kv.pop(key)
            if raw is None:
                return None
            try:
                return PoolEntry.loads(raw)
            except (ValueError, KeyError, TypeError):
                log.warning("dropping a corrupt pool entry in %s", key)

    async def give_back(
        self, scope: ScopeLike, player_safe_only: bool, entry: PoolEntry, style: Style | None = None
    ) -> None:
        """Return an unused entry (e.g. taken for a panic that was then refused)."""
        key = self.key(scope, entry.kind, player_safe_only, await self.version(scope), style)
        await self.kv.push(key, entry.dumps(), max(1, self.size))

    async def length(self, scope: ScopeLike, kind: Kind, player_safe_only: bool, style: Style | None = None) -> int:
        """How many answers are ready for the current notes and style."""
        key = self.key(scope, kind, player_safe_only, await self.version(scope), style)
        return await self.kv.length(key)

    async def refill(
        self,
        scope: ScopeLike,
        kind: Kind,
        player_safe_only: bool,
        make: Callable[[], Awaitable[PoolEntry | None]],
        style: Style | None = None,
    ) -> int:
        """Top the pool up to `size` with `make()` (at most `size` calls); returns how many were added.

        Returns 0 at once when another refill of the same pool holds the lock. Stops at the first `None`
        (the model is failing: the tables need no pool) and when the notes change underneath.
        """
        if self.size <= 0:
            return 0
        version = await self.version(scope)
        key = self.key(scope, kind, player_safe_only, version, style)
        token = await self.kv.acquire(f"lock:{key}", self.lock_seconds)
        if token is None:
            return 0
        added = 0
        try:
            if version > 0:
                await self.kv.delete(self.key(scope, kind, player_safe_only, version - 1, style))
            for _ in range(self.size):
                if await self.kv.length(key) >= self.size:
                    break
                entry = await make()
                if entry is None or await self.version(scope) != version:
                    break
                await self.kv.push(key, entry.dumps(), self.size)
                added += 1
        finally:
            await self.kv.release(f"lock:{key}", token)
        return added
