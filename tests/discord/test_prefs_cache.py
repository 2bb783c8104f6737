"""The prefs behind the GM check: cached per process, dropped on change, the defaults when they cannot be read."""

from __future__ import annotations

import asyncio

import pytest

from bot.discord.prefs_cache import PrefsCache
from bot.improv.prompts import Style
from bot.prefs import DEFAULT_PREFS, GuildPrefs

GUILD = 42
PREFS = GuildPrefs(gm_role_id=7, players_may_panic=True, public_by_default=False, style=Style(), button_kind="loot")


class Loader:
    """Counts loads; answers `PREFS`, raises, or never answers."""

    def __init__(self, mode: str = "ok") -> None:
        self.mode = mode
        self.calls = 0

    async def __call__(self, guild_id: int) -> GuildPrefs:
        self.calls += 1
        if self.mode == "fail":
            raise ConnectionRefusedError("database down")
        if self.mode == "hang":
            await asyncio.Event().wait()
        return PREFS


async def test_prefs_are_read_once_then_served_from_the_cache() -> None:
    load = Loader()
    cache = PrefsCache(load)
    assert await cache.get(GUILD) == PREFS
    assert await cache.get(GUILD) == PREFS
    assert load.calls == 1


async def test_dropped_or_expired_prefs_are_read_again() -> None:
    load = Loader()
    cache = PrefsCache(load)
    await cache.get(GUILD)
    cache.drop(GUILD)
    await cache.get(GUILD)
    assert load.calls == 2
    expired = PrefsCache(load, ttl=0)
    await expired.get(GUILD)
    await expired.get(GUILD)
    assert load.calls == 4


@pytest.mark.parametrize("mode", ["fail", "hang"])
async def test_unreadable_prefs_are_the_defaults_and_not_cached(mode: str, caplog: pytest.LogCaptureFixture) -> None:
    load = Loader(mode)
    cache = PrefsCache(load, wait=0.05)
    assert await cache.get(GUILD) == DEFAULT_PREFS
    load.mode = "ok"
    assert await cache.get(GUILD) == PREFS
    assert "using the defaults" in caplog.text


@pytest.mark.parametrize("mode", ["fail", "hang"])
async def test_unreadable_prefs_are_the_last_known_once_read(mode: str) -> None:
    load = Loader()
    cache = PrefsCache(load, ttl=0, wait=0.05)
    assert await cache.lookup(GUILD) == PREFS
    load.mode = mode
    assert await cache.lookup(GUILD) == PREFS
    assert await cache.get(GUILD) == PREFS
    assert load.calls == 3  # expired: each read still tries the database first


async def test_never_read_and_unreadable_prefs_are_unknown() -> None:
    cache = PrefsCache(Loader("hang"), wait=0.05)
    assert await cache.lookup(GUILD) is None


class SlowToLetGo:
    """A read that hangs, and whose clean-up when cancelled waits too (a session's rollback queued behind a busy
    database); `finished` once it is really over."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.finished = False

    async def __call__(self, guild_id: int) -> GuildPrefs:
        try:
            await self.release.wait()
            return PREFS
        finally:
            await self.release.wait()  # cancelled or not, the clean-up waits for the database
            self.finished = True


async def test_the_wait_holds_even_when_the_read_cannot_let_go() -> None:
    load = SlowToLetGo()
    cache = PrefsCache(load, wait=0.05)
    assert await cache.lookup(GUILD) is None  # answered at the wait, with the read still going
    assert not load.finished
    load.release.set()  # the database answers: the read that outlived its lookup fills the cache
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert load.finished
    assert await cache.lookup(GUILD) == PREFS


async def test_a_read_older_than_a_change_is_not_cached() -> None:
    load = SlowToLetGo()
    cache = PrefsCache(load, wait=0.05)
    assert await cache.lookup(GUILD) is None
    newer = GuildPrefs(gm_role_id=9, players_may_panic=False, public_by_default=True, style=Style(), button_kind="npc")
    cache.put(GUILD, newer)  # a command changed the prefs while the old read was still going
    load.release.set()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert await cache.lookup(GUILD) == newer
