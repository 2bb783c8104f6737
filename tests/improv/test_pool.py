"""The instant pool: keyed by notes version and audience, bounded refills, one refill per pool at a time."""

from __future__ import annotations

import asyncio

from bot.improv.pool import Pool, PoolEntry
from bot.improv.prompts import Style
from bot.improv.tables import roll
from bot.improv.types import Source
from bot.kv import MemoryKeyValue
from bot.memory.types import memory_version_key


def _entry() -> PoolEntry:
    return PoolEntry("npc", roll("npc"), (Source("notes.md", "NPCs"),), 10, 20, "m")


async def test_refill_fills_to_size_and_take_serves_in_order() -> None:
    pool = Pool(MemoryKeyValue(), 3)
    made = 0

    async def make() -> PoolEntry:
        nonlocal made
        made += 1
        return _entry()

    assert await pool.refill(1, "npc", False, make) == 3
    assert made == 3
    assert await pool.refill(1, "npc", False, make) == 0  # already full: no generation
    taken = await pool.take(1, "npc", False)
    assert taken is not None
    assert taken.sources[0].file == "notes.md"
    assert await pool.length(1, "npc", False) == 2


async def test_notes_change_invalidates_the_pool() -> None:
    kv = MemoryKeyValue()
    pool = Pool(kv, 2)

    async def make() -> PoolEntry:
        return _entry()

    await pool.refill(7, "loot", False, make)
    await kv.incr(memory_version_key(7))
    assert await pool.take(7, "loot", False) is None


async def test_gm_and_player_pools_are_separate() -> None:
    pool = Pool(MemoryKeyValue(), 2)

    async def make() -> PoolEntry:
        return _entry()

    await pool.refill(1, "npc", False, make)
    assert await pool.take(1, "npc", True) is None


async def test_each_style_has_its_own_pool() -> None:
    pool = Pool(MemoryKeyValue(), 2)

    async def make() -> PoolEntry:
        return _entry()

    balanced = Style()
    await pool.refill(1, "npc", False, make, balanced)
    for changed in (
        Style(tone="noir"),
        Style(max_words=60),
        Style(content_rating="g"),
        Style(game_system="Dungeon World"),
    ):
        assert await pool.take(1, "npc", False, changed) is None
    assert await pool.take(1, "npc", False, Style()) is not None  # an equal style finds it


async def test_concurrent_refills_of_one_pool_do_not_overlap() -> None:
    pool = Pool(MemoryKeyValue(), 3)
    running = 0
    peak = 0

    async def make() -> PoolEntry:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1
        return _entry()

    results = await asyncio.gather(*(pool.refill(1, "npc", False, make) for _ in range(5)))
    assert sorted(results) == [0, 0, 0, 0, 3]
    assert peak == 1


async def test_refill_stops_when_generation_fails() -> None:
    pool = Pool(MemoryKeyValue(), 3)
    calls = 0

    async def make() -> PoolEntry | None:
        nonlocal calls
        calls += 1
        return None

    assert await pool.refill(1, "npc", False, make) == 0
    assert calls == 1


async def test_corrupt_entries_are_dropped() -> None:
    kv = MemoryKeyValue()
    pool = Pool(kv, 2)
    await kv.push(pool.key(1, "npc", False, 0), b"not json", 2)
    assert await pool.take(1, "npc", False) is None
