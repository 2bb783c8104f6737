"""The `KeyValue` contract, run against the in-process store and the real Redis alike."""

from __future__ import annotations

import asyncio

import pytest

from bot.kv import KeyValue, LockBusy, MemoryKeyValue, RedisKeyValue, hold_lock


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def kv(request: pytest.FixtureRequest) -> KeyValue:
    """Each contract test runs on `MemoryKeyValue` and on `RedisKeyValue` (unique prefix, cleaned up)."""
    if request.param == "memory":
        return MemoryKeyValue()
    store: RedisKeyValue = request.getfixturevalue("redis_kv")
    return store


async def test_both_implementations_satisfy_the_protocol(kv: KeyValue) -> None:
    assert isinstance(kv, KeyValue)


async def test_get_returns_what_set_stored(kv: KeyValue) -> None:
    await kv.set("greeting", b"hello \xff")
    assert await kv.get("greeting") == b"hello \xff"


async def test_get_of_a_missing_key_is_none(kv: KeyValue) -> None:
    assert await kv.get("nothing-here") is None


async def test_set_overwrites(kv: KeyValue) -> None:
    await kv.set("k", b"one")
    await kv.set("k", b"two")
    assert await kv.get("k") == b"two"


async def test_delete_removes_keys_and_ignores_missing_ones(kv: KeyValue) -> None:
    await kv.set("a", b"1")
    await kv.set("b", b"2")
    await kv.delete("a", "b", "never-set")
    assert await kv.get("a") is None
    assert await kv.get("b") is None


async def test_value_expires_after_its_ttl(kv: KeyValue) -> None:
    await kv.set("short", b"x", ttl=0.05)
    await asyncio.sleep(0.2)
    assert await kv.get("short") is None


async def test_ttl_reports_remaining_seconds(kv: KeyValue) -> None:
    await kv.set("k", b"x", ttl=60)
    remaining = await kv.ttl("k")
    assert remaining is not None
    assert 0 < remaining <= 60


async def test_ttl_is_none_without_expiry_or_key(kv: KeyValue) -> None:
    await kv.set("forever", b"x")
    assert await kv.ttl("forever") is None
    assert await kv.ttl("missing") is None


async def test_set_without_ttl_clears_an_earlier_expiry(kv: KeyValue) -> None:
    await kv.set("k", b"x", ttl=60)
    await kv.set("k", b"y")
    assert await kv.ttl("k") is None


async def test_incr_counts_from_zero_and_by_amount(kv: KeyValue) -> None:
    assert await kv.incr("n") == 1
    assert await kv.incr("n") == 2
    assert await kv.incr("n", 5) == 7
    assert await kv.get("n") == b"7"


async def test_incr_sets_ttl_only_when_it_creates_the_key(kv: KeyValue) -> None:
    await kv.incr("quota", ttl=30)
    await kv.incr("quota", ttl=3600)
    remaining = await kv.ttl("quota")
    assert remaining is not None
    assert remaining <= 30


async def test_incr_without_ttl_never_expires(kv: KeyValue) -> None:
    await kv.incr("n")
    assert await kv.ttl("n") is None


async def test_incr_restarts_after_the_window_expires(kv: KeyValue) -> None:
    await kv.incr("window", ttl=0.05)
    await kv.incr("window", ttl=0.05)
    await asyncio.sleep(0.2)
    assert await kv.incr("window", ttl=0.05) == 1


async def test_concurrent_incr_gives_distinct_values(kv: KeyValue) -> None:
    results = await asyncio.gather(*(kv.incr("race", ttl=60) for _ in range(50)))
    assert sorted(results) == list(range(1, 51))


async def test_acquire_is_exclusive_until_released(kv: KeyValue) -> None:
    token = await kv.acquire("lock", ttl=30)
    assert token is not None
    assert await kv.acquire("lock", ttl=30) is None
    assert await kv.release("lock", token) is True
    assert await kv.acquire("lock", ttl=30) is not None


async def test_release_with_a_foreign_token_keeps_the_lock(kv: KeyValue) -> None:
    token = await kv.acquire("lock", ttl=30)
    assert token is not None
    assert await kv.release("lock", "not-the-token") is False
    assert await kv.acquire("lock", ttl=30) is None


async def test_lock_frees_itself_after_its_ttl(kv: KeyValue) -> None:
    stale = await kv.acquire("lock", ttl=0.05)
    assert stale is not None
    await asyncio.sleep(0.2)
    fresh = await kv.acquire("lock", ttl=30)
    assert fresh is not None
    assert await kv.release("lock", stale) is False  # the expired holder cannot free the new one
    assert await kv.acquire("lock", ttl=30) is None


async def test_renew_extends_the_lease_of_its_holder(kv: KeyValue) -> None:
    token = await kv.acquire("lock", ttl=0.3)
    assert token is not None
    assert await kv.renew("lock", token, ttl=30) is True
    remaining = await kv.ttl("lock")
    assert remaining is not None
    assert remaining > 1
    await asyncio.sleep(0.5)  # past the first TTL: the renewed lease still holds
    assert await kv.acquire("lock", ttl=30) is None
    assert await kv.release("lock", token) is True


async def test_renew_with_a_foreign_token_changes_nothing(kv: KeyValue) -> None:
    token = await kv.acquire("lock", ttl=0.1)
    assert token is not None
    assert await kv.renew("lock", "not-the-token", ttl=30) is False
    await asyncio.sleep(0.3)
    assert await kv.acquire("lock", ttl=30) is not None


async def test_renew_of_an_expired_lease_fails(kv: KeyValue) -> None:
    stale = await kv.acquire("lock", ttl=0.05)
    assert stale is not None
    await asyncio.sleep(0.2)
    assert await kv.renew("lock", stale, ttl=30) is False
    assert await kv.ttl("lock") is None  # not brought back to life


async def test_concurrent_acquire_has_one_winner(kv: KeyValue) -> None:
    tokens = await asyncio.gather(*(kv.acquire("lock", ttl=30) for _ in range(20)))
    assert sum(token is not None for token in tokens) == 1


async def test_hold_lock_raises_lock_busy_while_held(kv: KeyValue) -> None:
    async with hold_lock(kv, "lock", ttl=30):
        with pytest.raises(LockBusy):
            async with hold_lock(kv, "lock", ttl=30):
                pass


async def test_hold_lock_releases_on_exit_even_after_an_error(kv: KeyValue) -> None:
    with pytest.raises(RuntimeError):
        async with hold_lock(kv, "lock", ttl=30):
            raise RuntimeError("boom")
    assert await kv.acquire("lock", ttl=30) is not None


async def test_push_keeps_only_the_newest_max_len_items(kv: KeyValue) -> None:
    lengths = [await kv.push("pool", f"item{i}".encode(), max_len=3) for i in range(5)]
    assert lengths == [1, 2, 3, 3, 3]
    assert await kv.length("pool") == 3


async def test_pop_returns_oldest_first_then_none(kv: KeyValue) -> None:
    for i in range(5):
        await kv.push("pool", f"item{i}".encode(), max_len=3)
    popped = [await kv.pop("pool") for _ in range(4)]
    assert popped == [b"item2", b"item3", b"item4", None]
    assert await kv.length("pool") == 0


async def test_length_and_pop_of_a_missing_list(kv: KeyValue) -> None:
    assert await kv.length("no-list") == 0
    assert await kv.pop("no-list") is None


async def test_ping_answers(kv: KeyValue) -> None:
    assert await kv.ping() is True


async def test_redis_ping_is_false_when_the_server_is_down() -> None:
    kv = RedisKeyValue.from_url("redis://127.0.0.1:1/0", timeout=0.5)
    try:
        assert await kv.ping() is False
    finally:
        await kv.aclose()
