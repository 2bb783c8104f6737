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

    async def lookup(self, guild_id: int) -> GuildPrefs | None:
        """The guild's prefs: cached, read within `wait`, else the last known; None when never read."""
        hit = self._items.get(guild_id)
        now = time.monotonic()
        if hit is not None and hit[0] > now:
            return hit[1]
        try:
            async with asyncio.timeout(self.wait):
                prefs = await self._load(guild_id)
        except Exception as exc:
            fallback = "the last known" if hit is not None else "the defaults"
            log.warning("guild %s: settings unavailable (%s); using %s", guild_id, type(exc).__name__, fallback)
            return None if hit is None else hit[1]
        self._items[guild_id] = (now + self.ttl, prefs)
        return prefs

    async def get(self, guild_id: int) -> GuildPrefs:
        """The guild's prefs as `lookup` finds them, or the defaults when they have never been read."""
        return await self.lookup(guild_id) or DEFAULT_PREFS

    def put(self, guild_id: int, prefs: GuildPrefs) -> None:
        """Cache prefs just written."""
        self._items[guild_id] = (time.monotonic() + self.ttl, prefs)

    def drop(self, guild_id: int) -> None:
        """Forget the guild's cached prefs (they just changed)."""
        self._items.pop(guild_id, None)
