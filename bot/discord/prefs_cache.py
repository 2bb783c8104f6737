"""Per-process cache of guilds' prefs (`bot.prefs.GuildPrefs`), which the bot holds for its checks and /panic."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from bot.prefs import DEFAULT_PREFS, GuildPrefs

__all__ = ["PREFS_SECONDS", "SETTINGS_TTL", "PrefsCache"]

log = logging.getLogger(__name__)

SETTINGS_TTL = 30.0  # seconds a guild's prefs are served from the cache before they are read again
PREFS_SECONDS = 0.5  # longest a read waits for a guild's prefs before using the last known ones (or none)


class PrefsCache:
    """Per-process cache of `GuildPrefs`, dropped on change and read again after `ttl` seconds.

    Reads wait at most `wait` seconds: with the database slow or down, the guild's last known prefs stand in
    (however old), so a GM by role stays a GM and public answers stay public; `lookup` says when there are none.
    """

    def __init__(
        self, load: Callable[[int], Awaitable[GuildPrefs]], *, ttl: float = SETTINGS_TTL, wait: float = PREFS_SECONDS
    ) -> None:
        self._load = load
        self.ttl = ttl
        self.wait = wait
        self._items: dict[int, tuple[float, GuildPrefs]] = {}
        self._reading: dict[int, tuple[float, asyncio.Task[GuildPrefs]]] = {}  # the guild's latest read, started
        self._changed: dict[int, float] = {}  # when the guild's prefs last changed here: older reads are stale
        self._pending: set[asyncio.Task[GuildPrefs]] = set()  # every read still going, for `aclose`

    async def lookup(self, guild_id: int) -> GuildPrefs | None:
        """The guild's prefs: cached, read within `wait`, else the last known; None when never read."""
        hit = self._items.get(guild_id)
        now = time.monotonic()
        if hit is not None and hit[0] > now:
            return hit[1]
        latest = self._reading.get(guild_id)
        if latest is not None and latest[0] + self.wait > now:  # lookups within one wait share a read
            reading = latest[1]
        else:  # an older read that is still going keeps going (and caches what it finds); this one starts afresh
            reading = asyncio.ensure_future(self._load(guild_id))
            self._reading[guild_id] = (now, reading)
            self._pending.add(reading)
            reading.add_done_callback(lambda task: self._read(guild_id, now, task))
        try:
            # shielded: a read that outlives the wait goes on (and fills the cache when it ends), because
            # cancelling it would first wait for its own clean-up (a session's rollback queued behind a busy
            # database), which is how a 0.5 s wait once took 20 s
            return await asyncio.wait_for(asyncio.shield(reading), self.wait)
        except Exception as exc:
            fallback = "the last known" if hit is not None else "the defaults"
            log.warning("guild %s: settings unavailable (%s); using %s", guild_id, type(exc).__name__, fallback)
            return None if hit is None else hit[1]

    def _read(self, guild_id: int, started: float, task: asyncio.Task[GuildPrefs]) -> None:
        """A read ended (maybe after its lookup stopped waiting): cache what it found, unless the prefs changed
        here since it started."""
        self._pending.discard(task)
        latest = self._reading.get(guild_id)
        if latest is not None and latest[1] is task:
            del self._reading[guild_id]
        if task.cancelled() or task.exception() is not None or started < self._changed.get(guild_id, started):
            return
        self._items[guild_id] = (time.monotonic() + self.ttl, task.result())

    async def aclose(self, grace: float = 1.0) -> None:
        """Cancel the reads still going (a hung database) and give their clean-up `grace` seconds."""
        pending = list(self._pending)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=grace)

    async def get(self, guild_id: int) -> GuildPrefs:
        """The guild's prefs as `lookup` finds them, or the defaults when they have never been read."""
        return await self.lookup(guild_id) or DEFAULT_PREFS

    def put(self, guild_id: int, prefs: GuildPrefs) -> None:
        """Cache prefs just written."""
        self._changed[guild_id] = time.monotonic()
        self._items[guild_id] = (self._changed[guild_id] + self.ttl, prefs)

    def drop(self, guild_id: int) -> None:
        """Forget the guild's cached prefs (they just changed)."""
        self._changed[guild_id] = time.monotonic()
        self._items.pop(guild_id, None)
