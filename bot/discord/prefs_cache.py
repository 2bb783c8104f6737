"""Per-process cache of guilds' prefs (`bot.prefs.GuildPrefs`), which the bot holds for its checks and /panic."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from bot.prefs import DEFAULT_PREFS, GuildPrefs

__all__ = ["PREFS_SECONDS", "SETTINGS_TTL", "PrefsCache"]

log = logging.getLogger(__name__)

SETTINGS_TTL = 30.0  # seconds a guild's prefs are cached per process
PREFS_SECONDS = 0.5  # longest a read waits for a guild's prefs before using the defaults


class PrefsCache:
    """Per-process cache of `GuildPrefs`, dropped on change and after `ttl` seconds.

    Reads wait at most `wait` seconds: with the database slow or down a check gets the defaults (GMs are then
    told apart by their permissions alone), so a panic still answers.
    """

    def __init__(
        self, load: Callable[[int], Awaitable[GuildPrefs]], *, ttl: float = SETTINGS_TTL, wait: float = PREFS_SECONDS
    ) -> None:
        self._load = load
        self.ttl = ttl
        self.wait = wait
        self._items: dict[int, tuple[float, GuildPrefs]] = {}

    async def get(self, guild_id: int) -> GuildPrefs:
        """The guild's prefs (cached), or the defaults when they cannot be read in time."""
        hit = self._items.get(guild_id)
        now = time.monotonic()
        if hit is not None and hit[0] > now:
            return hit[1]
        try:
            async with asyncio.timeout(self.wait):
                prefs = await self._load(guild_id)
        except Exception as exc:
            log.warning("guild %s: settings unavailable (%s); using the defaults", guild_id, type(exc).__name__)
            return DEFAULT_PREFS
        self._items[guild_id] = (now + self.ttl, prefs)
        return prefs

    def drop(self, guild_id: int) -> None:
        """Forget the guild's cached prefs (they just changed)."""
        self._items.pop(guild_id, None)
