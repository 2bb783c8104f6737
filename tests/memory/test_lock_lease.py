"""The guild's write lock is a lease: renewed while its holder lives, freed soon after the holder dies."""

from __future__ import annotations

import asyncio
import secrets
import sys
import textwrap

import pytest
from redis.asyncio import Redis

from bot.kv import KeyValue, MemoryKeyValue, RedisKeyValue
from bot.memory.errors import ImportBusy
from bot.memory.mutation import guild_lock, lock_key


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def kv(request: pytest.FixtureRequest) -> KeyValue:
    """The lease runs on the in-process store and on the real Redis."""
    if request.param == "memory":
        return MemoryKeyValue()
    store: RedisKeyValue = request.getfixturevalue("redis_kv")
    return store


async def test_a_live_holder_keeps_the_guild_past_the_lease_ttl(kv: KeyValue) -> None:
    async with guild_lock(kv, 42, ttl=0.6):
        await asyncio.sleep(1.8)  # three TTLs: only the heartbeat keeps the lease
        with pytest.raises(ImportBusy):
            async with guild_lock(kv, 42, ttl=0.6):
                pass
    async with guild_lock(kv, 42, ttl=0.6):  # released on exit
        pass


async def test_a_holder_that_stops_renewing_frees_the_guild_within_the_ttl(kv: KeyValue) -> None:
    token = await kv.acquire(lock_key(7), 0.3)  # a holder that died right after taking the lock
    assert token is not None
    with pytest.raises(ImportBusy):
        async with guild_lock(kv, 7, ttl=0.3):
            pass
    async with guild_lock(kv, 7, ttl=0.3, wait=2.0):
        pass


@pytest.mark.redis
async def test_a_guild_whose_importer_was_killed_with_sigkill_imports_again_within_the_lease(redis_url: str) -> None:
    prefix = f"improv-test:{secrets.token_hex(6)}:"
    holder = textwrap.dedent(
        f"""
        import asyncio
        from bot.kv import RedisKeyValue
        from bot.memory.mutation import guild_lock

        async def main() -> None:
            kv = RedisKeyValue.from_url({redis_url!r})
            kv._prefix = {prefix!r}
            async with guild_lock(kv, 99, ttl=1.5):
                print("held", flush=True)
                await asyncio.sleep(600)

        asyncio.run(main())
        """
    )
    process = await asyncio.create_subprocess_exec(sys.executable, "-c", holder, stdout=asyncio.subprocess.PIPE)
    client: Redis = Redis.from_url(redis_url)
    kv = RedisKeyValue(client, prefix=prefix)
    try:
        assert process.stdout is not None
        assert (await process.stdout.readline()).strip() == b"held"
        await asyncio.sleep(2.0)  # longer than the TTL: the live holder renewed it
        with pytest.raises(ImportBusy):
            async with guild_lock(kv, 99, ttl=1.5):
                pass
        process.kill()
        await process.wait()
        async with guild_lock(kv, 99, ttl=1.5, wait=10.0):  # the lease frees it, not a 30-minute TTL
            pass
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await client.delete(prefix + lock_key(99))
        await kv.aclose()
