"""Nothing is lost while PostgreSQL is away: panics answered during the outage keep working buttons and reach the
history once the database is back, from this process's memory or, with Redis, from another process.

The database sits behind a loopback proxy (`tests.support.outage`) that refuses connections and cuts open ones,
then comes back on the same port; everything else is real (PostgreSQL, Redis, discord.py's dispatch).
"""

from __future__ import annotations

import random
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from redis.asyncio import Redis
from sqlalchemy.engine import make_url

from bot.improv.recorder import Recorder, Unavailable, new_improv_id
from bot.improv.tables import roll
from bot.improv.types import PanicRequest, PanicResult
from bot.kv import RedisKeyValue
from bot.services import open_services
from bot.settings import Settings
from bot.tasks import BackgroundTasks
from db.engine import create_engine, create_sessionmaker
from db.migrate import upgrade
from tests.fixtures_services import create_database, drop_database
from tests.support.discord import running_bot
from tests.support.outage import Outage, outage_proxy

pytestmark = pytest.mark.postgres

GUILD = 4242


@pytest_asyncio.fixture(loop_scope="session")
async def database(pg_url: str) -> AsyncIterator[tuple[str, Outage]]:
    """A fresh, migrated PostgreSQL database reached through a proxy that can take it down: (url, proxy)."""
    direct = make_url(pg_url).set(database=f"improv_test_outage_{secrets.token_hex(4)}")
    await create_database(direct.render_as_string(hide_password=False))
    try:
        async with outage_proxy(direct.host or "127.0.0.1", direct.port or 5432) as proxy:
            url = direct.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
            engine = create_engine(url)
            try:
                await upgrade(engine)
            finally:
                await engine.dispose()
            yield url, proxy
    finally:
        await drop_database(direct.render_as_string(hide_password=False))


@pytest_asyncio.fixture(loop_scope="session")
async def clean_redis(redis_url: str) -> AsyncIterator[str]:
    """The test Redis with no spilled panics before or after (the bot's own key prefix)."""

    async def clear() -> None:
        client: Redis = Redis.from_url(redis_url)
        try:
            keys = [key async for key in client.scan_iter(match="improv:panic:record*")]
            if keys:
                await client.delete(*keys)
        finally:
            await client.aclose()

    await clear()
    yield redis_url
    await clear()


def _answered(embed: dict[str, object]) -> bool:
    return "offline tables" in str(embed.get("footer")) and bool(embed.get("fields"))


async def test_a_panic_during_an_outage_keeps_its_buttons_and_reaches_the_history(
    tmp_path: Path, database: tuple[str, Outage]
) -> None:
    url, proxy = database
    settings = Settings.embedded(tmp_path, panic_cooldown_seconds=0, database_url=url)
    async with open_services(settings) as services, running_bot(services) as sim:
        await proxy.refuse()
        asked = await sim.slash("panic npc", details="the innkeeper")
        await sim.settle()
        assert _answered(asked.message.embeds[0])
        assert services.improv.recorder.pending == 1

        during = await sim.click(asked.message, "Reveal to table")  # read from memory while the database is away
        assert "Shared with the table" in during.last.content

        await proxy.restore()
        rerolled = await sim.click(asked.message, "Reroll")
        await sim.settle()
        after = await sim.click(asked.message, "Reveal to table")  # now from the database

        history = await services.improv.recent(sim.guild_id)
        assert services.improv.recorder.pending == 0
        assert [p.details for p in history] == ["the innkeeper", "the innkeeper"]
        assert _answered(rerolled.message.embeds[0])
        assert "Shared with the table" in after.last.content
        title = asked.message.embeds[0]["title"]
        assert [m.embeds[0]["title"] for m in sim.channel_messages()] == [title, title]


async def test_a_restarted_bot_writes_what_an_outage_left_in_redis(
    tmp_path: Path, database: tuple[str, Outage], clean_redis: str
) -> None:
    url, proxy = database
    settings = Settings.embedded(tmp_path, panic_cooldown_seconds=0, database_url=url, redis_url=clean_redis)
    async with open_services(settings) as services, running_bot(services) as sim:
        await proxy.refuse()
        asked = await sim.slash("panic npc", details="the ferryman")
        await sim.settle()
        assert _answered(asked.message.embeds[0])
        fake = sim.fake
    # the process is gone (its memory with it); Discord still shows the answer and its buttons

    await proxy.restore()
    async with open_services(settings) as services, running_bot(services, fake=fake) as sim:
        revealed = await sim.click(asked.message, "Reveal to table")
        rerolled = await sim.click(asked.message, "Reroll")
        await sim.settle()
        history = await services.improv.recent(sim.guild_id)
        reroll = next(
            str(b["custom_id"]) for b in asked.message.buttons() if b["custom_id"].startswith("panic:reroll:")
        )
        stored = await services.improv.load(int(reroll.rsplit(":", 1)[1]), sim.guild_id)

    assert "Shared with the table" in revealed.last.content
    assert _answered(rerolled.message.embeds[0])
    assert [p.details for p in history] == ["the ferryman", "the ferryman"]
    assert stored.details == "the ferryman"
    assert stored.improv.title == asked.message.embeds[0]["title"]


def _record(recorder: Recorder, n: int) -> int:
    request = PanicRequest(guild_id=GUILD, user_id=7, kind="npc", details=f"panic {n}")
    result = PanicResult(
        improv_id=new_improv_id(),
        kind="npc",
        details=request.details,
        improv=roll("npc", rng=random.Random(n)),
        engine="tables",
    )
    recorder.record(request, result)
    return result.improv_id


@pytest.mark.parametrize("spilled", [False, True], ids=["memory", "redis"])
async def test_a_long_outage_keeps_memory_bounded(
    spilled: bool, database: tuple[str, Outage], redis_kv: RedisKeyValue
) -> None:
    url, proxy = database
    engine = create_engine(url)
    tasks = BackgroundTasks()
    recorder = Recorder(
        create_sessionmaker(engine), tasks, spill=redis_kv if spilled else None, max_pending=10, retry_seconds=3600
    )
    try:
        await proxy.refuse()
        ids = [_record(recorder, n) for n in range(30)]
        await tasks.drain(timeout=30)
        assert recorder.pending == 10  # the newest ten, whatever the outage's length
        assert (await recorder.load(ids[-1], GUILD)).details == "panic 29"
        if spilled:
            assert recorder.dropped == 0
            assert (await recorder.load(ids[0], GUILD)).details == "panic 0"  # from Redis
        else:
            assert recorder.dropped == 20
            with pytest.raises(Unavailable):
                await recorder.load(ids[0], GUILD)

        await proxy.restore()
        _record(recorder, 30)
        await tasks.drain(timeout=30)
        history = await recorder.recent(GUILD, limit=100)
        assert recorder.pending == 0
        expected = range(31) if spilled else range(21, 31)  # the 31st pushed out the oldest kept
        assert sorted(int(p.details.split()[1]) for p in history) == list(expected)
    finally:
        recorder.close()
        await tasks.aclose()
        await engine.dispose()


async def test_without_redis_a_lost_answer_says_try_again_then_gone(
    tmp_path: Path, database: tuple[str, Outage]
) -> None:
    url, proxy = database
    settings = Settings.embedded(tmp_path, panic_cooldown_seconds=0, database_url=url)
    async with open_services(settings) as services, running_bot(services) as sim:
        await proxy.refuse()
        asked = await sim.slash("panic npc", details="the ferryman")
        fake = sim.fake
    # restarted without Redis during the outage: that answer was only in the old process's memory

    async with open_services(settings) as services, running_bot(services, fake=fake) as sim:
        during = await sim.click(asked.message, "Reroll")
        await proxy.restore()
        after = await sim.click(asked.message, "Reveal to table")

    assert during.last.ephemeral
    assert during.last.embeds[0]["title"] == "Try again soon"
    assert after.last.ephemeral
    assert after.last.embeds[0]["title"] == "Gone"


async def test_answers_still_waiting_are_written_at_shutdown(database: tuple[str, Outage]) -> None:
    url, _ = database
    engine = create_engine(url)
    tasks = BackgroundTasks()
    recorder = Recorder(create_sessionmaker(engine), tasks, delay=0.5)
    try:
        _record(recorder, 1)
        recorder.close()
        await tasks.aclose()
        assert [p.details for p in await recorder.recent(GUILD)] == ["panic 1"]
    finally:
        await engine.dispose()
