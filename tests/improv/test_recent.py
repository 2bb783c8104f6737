"""Recent answers per guild and kind: read from the panic history, appended as answers are made, bounded, and
failing open (a slow or dead history never holds a panic past its short first wait)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

from bot.improv.kinds import Improv, Kind
from bot.improv.recent import Answer, RecentAnswers
from bot.improv.recorder import Recorder, new_improv_id
from bot.improv.tables import roll
from bot.improv.types import PanicRequest, PanicResult
from bot.memory.scope import CampaignScope, ScopeLike, as_scope
from bot.settings import Settings
from bot.tasks import BackgroundTasks
from tests.improv.conftest import open_improviser

GUILD = 31


def answer(seed: int, kind: Kind = "npc") -> Improv:
    return roll(kind, rng=random.Random(seed))


def made_now(improv: Improv) -> Answer:
    return Answer(new_improv_id(), improv)


class History:
    """A panic history to read from: answers by (campaign, kind), newest first; `gate` holds reads back."""

    def __init__(self) -> None:
        self.rows: dict[tuple[CampaignScope, Kind], list[Answer]] = {}
        self.reads = 0
        self.gate: asyncio.Event | None = None
        self.broken = False

    def add(self, guild_id: ScopeLike, kind: Kind, improv: Improv) -> int:
        improv_id = new_improv_id()
        self.rows.setdefault((as_scope(guild_id), kind), []).insert(0, Answer(improv_id, improv))
        return improv_id

    async def read(self, guild_id: CampaignScope, kind: Kind, limit: int) -> list[Answer]:
        self.reads += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.broken:
            raise ConnectionRefusedError("database down")
        return self.rows.get((guild_id, kind), [])[:limit]


async def test_answers_come_back_most_recent_first_from_history_and_from_this_process() -> None:
    history, tasks = History(), BackgroundTasks()
    older = [answer(n) for n in range(3)]
    for improv in older:
        history.add(GUILD, "npc", improv)
    recent = RecentAnswers(history.read, tasks)
    made = answer(99)
    recent.add(GUILD, "npc", made_now(made))
    assert [a.improv for a in await recent.get(GUILD, "npc", wait=5)] == [made, *reversed(older)]
    assert [a.improv for a in await recent.get(GUILD, "loot", wait=5)] == []  # per kind
    assert [a.improv for a in await recent.get(GUILD + 1, "npc", wait=5)] == []  # per guild
    await tasks.drain()


async def test_each_guild_and_kind_keeps_only_its_last_answers() -> None:
    history, tasks = History(), BackgroundTasks()
    recent = RecentAnswers(history.read, tasks, size=4)
    made = [answer(n) for n in range(10)]
    for improv in made:
        recent.add(GUILD, "npc", made_now(improv))
    assert [a.improv for a in await recent.get(GUILD, "npc", wait=5)] == made[::-1][:4]
    await tasks.drain()


async def test_only_so_many_guilds_are_kept_and_a_dropped_one_is_read_again() -> None:
    history, tasks = History(), BackgroundTasks()
    kept = answer(1)
    history.add(1, "npc", kept)
    recent = RecentAnswers(history.read, tasks, max_keys=2)
    for guild in (1, 2, 3):
        await recent.get(guild, "npc", wait=5)
    reads = history.reads
    assert [a.improv for a in await recent.get(1, "npc", wait=5)] == [kept]
    assert history.reads == reads + 1
    await tasks.drain()


async def test_a_hanging_history_holds_only_the_first_panic_and_only_briefly() -> None:
    history, tasks = History(), BackgroundTasks()
    history.gate = asyncio.Event()  # the database never answers
    recent = RecentAnswers(history.read, tasks)
    made = answer(5)
    recent.add(GUILD, "npc", made_now(made))
    async with asyncio.timeout(10):  # a bound, not a measurement: only a wait of 60 s would trip it
        assert [a.improv for a in await recent.get(GUILD, "npc", wait=0.01)] == [made]
        assert [a.improv for a in await recent.get(GUILD, "npc", wait=60)] == [
            made
        ]  # its patience was spent by the first
    assert history.reads == 1  # one read in flight at a time
    history.gate.set()
    await tasks.drain()


async def test_a_failing_history_is_read_again_later_and_answers_go_on() -> None:
    history, tasks = History(), BackgroundTasks()
    history.broken = True
    recent = RecentAnswers(history.read, tasks, refresh_seconds=0.0)
    assert [a.improv for a in await recent.get(GUILD, "npc", wait=5)] == []
    history.broken = False
    stored = answer(8)
    history.add(GUILD, "npc", stored)
    recent.prefetch(GUILD, "npc")  # the failed read is stale at once here: read again in the background
    await tasks.drain()
    assert [a.improv for a in await recent.get(GUILD, "npc", wait=5)] == [stored]
    await tasks.drain()


async def test_answers_another_process_made_count_after_a_refresh() -> None:
    history, tasks = History(), BackgroundTasks()
    recent = RecentAnswers(history.read, tasks, refresh_seconds=0.0)
    mine = answer(1)
    recent.add(GUILD, "npc", made_now(mine))
    assert [a.improv for a in await recent.get(GUILD, "npc", wait=5)] == [mine]
    theirs = answer(2)
    history.add(GUILD, "npc", theirs)  # written by another process
    recent.prefetch(GUILD, "npc")
    await tasks.drain()
    assert [a.improv for a in await recent.get(GUILD, "npc", wait=5)] == [theirs, mine]
    await tasks.drain()


def record(recorder: Recorder, improv: Improv, kind: Kind = "npc", *, player_safe: bool = False) -> int:
    request = PanicRequest(guild_id=GUILD, user_id=1, kind=kind, player_safe_only=player_safe)
    result = PanicResult(improv_id=new_improv_id(), kind=kind, details="", improv=improv, engine="tables")
    recorder.record(request, result)
    return result.improv_id


async def test_the_recorder_counts_answers_still_waiting_for_their_write(
    make_settings: Callable[..., Settings],
) -> None:
    async with open_improviser(make_settings()) as (services, _, _):
        slow = BackgroundTasks()
        waiting = Recorder(services.sessionmaker, slow, delay=3600.0)  # its writes wait an hour
        first = answer(1)
        first_id = record(waiting, first)
        record(waiting, answer(2, "loot"), "loot")
        try:
            assert await waiting.answers(GUILD, "npc", 30) == [Answer(first_id, first)]
            assert await Recorder(services.sessionmaker, services.tasks).answers(GUILD, "npc", 30) == []  # unwritten
        finally:
            await slow.aclose(grace=0)


async def test_the_recorder_reads_stored_answers_by_guild_and_kind(make_settings: Callable[..., Settings]) -> None:
    async with open_improviser(make_settings()) as (services, _, _):
        recorder = Recorder(services.sessionmaker, services.tasks)
        made = [answer(n) for n in range(3)]
        ids = [record(recorder, improv, player_safe=n == 2) for n, improv in enumerate(made)]
        record(recorder, answer(9, "loot"), "loot")
        await services.tasks.drain(timeout=30)
        other_process = Recorder(services.sessionmaker, services.tasks)
        expected = [Answer(ids[2], made[2], player_safe=True), Answer(ids[1], made[1])]  # newest first
        assert await other_process.answers(GUILD, "npc", 2) == expected
        assert len(await other_process.answers(GUILD, "loot", 30)) == 1
        assert await other_process.answers(GUILD + 1, "npc", 30) == []
