"""Key-value service: Redis in production, an in-process store with the same semantics by default.

Used for cooldowns, quotas, locks and the instant pool. Values are bytes; callers encode.
"""

from __future__ import annotations

import secrets
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Protocol, runtime_checkable

from redis.asyncio import Redis
from redis.exceptions import RedisError

__all__ = ["KV_ERRORS", "KeyValue", "LockBusy", "MemoryKeyValue", "RedisKeyValue", "hold_lock"]

#: what a dead, hung or refusing key-value store raises (Redis's socket timeouts are short: see `from_url`)
KV_ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError, TimeoutError)


class LockBusy(Exception):
    """Another holder has the lock."""


@runtime_checkable
class KeyValue(Protocol):
    """The operations the bot needs from a key-value store."""

    async def get(self, key: str) -> bytes | None:
        """The value at `key`, or None when missing or expired."""

    async def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        """Store `value` at `key`, expiring after `ttl` seconds when given."""

    async def delete(self, *keys: str) -> None:
        """Remove keys (missing keys are ignored)."""

    async def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        """Atomically add `amount` and return the new value; `ttl` applies when the key is created."""

    async def ttl(self, key: str) -> float | None:
        """Seconds until `key` expires; None when it is missing or never expires."""

    async def acquire(self, key: str, ttl: float) -> str | None:
        """Set-if-absent lock with a TTL; returns a token for `release`, or None when held elsewhere."""

    async def release(self, key: str, token: str) -> bool:
        """Release the lock only if `token` still holds it."""

    async def renew(self, key: str, token: str, ttl: float) -> bool:
        """Extend the lock to expire `ttl` seconds from now, only if `token` still holds it (a lease)."""

    async def push(self, key: str, value: bytes, max_len: int) -> int:
        """Append to the list at `key`, keeping at most the newest `max_len` items; returns the length."""

    async def pop(self, key: str) -> bytes | None:
        """Remove and return the oldest item of the list at `key`."""

    async def length(self, key: str) -> int:
        """Number of items in the list at `key`."""

    async def ping(self) -> bool:
        """Whether the store answers."""

    async def aclose(self) -> None:
        """Release connections."""


@asynccontextmanager
async def hold_lock(kv: KeyValue, key: str, ttl: float) -> AsyncIterator[str]:
    """Hold `key` for the block, raising `LockBusy` when someone else has it."""
    token = await kv.acquire(key, ttl)
    if token is None:
        raise LockBusy(key)
    try:
        yield token
    finally:
        await kv.release(key, token)


class MemoryKeyValue:
    """In-process store for one machine. Operations never await, so each one is atomic on the loop."""

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self._clock = clock or time.monotonic
        self._values: dict[str, bytes | int | deque[bytes]] = {}
        self._expires: dict[str, float] = {}

    def _alive(self, key: str) -> bool:
        deadline = self._expires.get(key)
        if deadline is not None and deadline <= self._clock():
            self._values.pop(key, None)
            self._expires.pop(key, None)
        return key in self._values

    def _expire_in(self, key: str, ttl: float | None) -> None:
        if ttl is None:
            self._expires.pop(key, None)
        else:
            self._expires[key] = self._clock() + ttl

    async def get(self, key: str) -> bytes | None:
        if not self._alive(key):
            return None
        value = self._values[key]
        if isinstance(value, int):
            return str(value).encode()
        if isinstance(value, deque):
            raise TypeError(f"{key} holds a list")
        return value

    async def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        self._values[key] = bytes(value)
        self._expire_in(key, ttl)

    async def delete(self, *keys: str) -> None:
        for key in keys:
            self._values.pop(key, None)
            self._expires.pop(key, None)

    async def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        if self._alive(key):
            current = self._values[key]
            number = current if isinstance(current, int) else int(current)  # type: ignore[arg-type]
            self._values[key] = number + amount
        else:
            self._values[key] = amount
            self._expire_in(key, ttl)
        result = self._values[key]
        assert isinstance(result, int)
        return result

    async def ttl(self, key: str) -> float | None:
        if not self._alive(key) or key not in self._expires:
            return None
        return max(0.0, self._expires[key] - self._clock())

    async def acquire(self, key: str, ttl: float) -> str | None:
        if self._alive(key):
            return None
        token = secrets.token_hex(8)
        self._values[key] = token.encode()
        self._expire_in(key, ttl)
        return token

    async def release(self, key: str, token: str) -> bool:
        if self._alive(key) and self._values[key] == token.encode():
            await self.delete(key)
            return True
        return False

    async def renew(self, key: str, token: str, ttl: float) -> bool:
        if self._alive(key) and self._values[key] == token.encode():
            self._expire_in(key, ttl)
            return True
        return False

    async def push(self, key: str, value: bytes, max_len: int) -> int:
        items = self._values.get(key) if self._alive(key) else None
        if not isinstance(items, deque):
            items = deque()
            self._values[key] = items
        items.append(bytes(value))
        while len(items) > max_len:
            items.popleft()
        return len(items)

    async def pop(self, key: str) -> bytes | None:
        items = self._values.get(key) if self._alive(key) else None
        if not isinstance(items, deque) or not items:
            return None
        value = items.popleft()
        if not items:
            await self.delete(key)
        return value

    async def length(self, key: str) -> int:
        items = self._values.get(key) if self._alive(key) else None
        return len(items) if isinstance(items, deque) else 0

    async def ping(self) -> bool:
        return True

    async def aclose(self) -> None:
        self._values.clear()
        self._expires.clear()


_INCR_WITH_TTL = """
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if tonumber(ARGV[2]) > 0 and value == tonumber(ARGV[1]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return value
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

_PUSH_TRIM = """
local n = redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
return math.min(n, tonumber(ARGV[2]))
"""


class RedisKeyValue:
    """Redis implementation; multi-step operations are Lua scripts, so they are atomic across processes."""

    def __init__(self, redis: Redis, prefix: str = "improv:") -> None:
        self._redis = redis
        self._prefix = prefix
        self._incr = redis.register_script(_INCR_WITH_TTL)
        self._release = redis.register_script(_RELEASE)
        self._push = redis.register_script(_PUSH_TRIM)
        self._renew = redis.register_script(_RENEW)

    @classmethod
    def from_url(cls, url: str, *, timeout: float = 0.5) -> RedisKeyValue:
        """Connect lazily to `url` with short socket timeouts: a healthy Redis answers in well under a
        millisecond, and a dead one must not eat the panic's 3-second acknowledgement window."""
        client: Redis = Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, health_check_interval=30
        )
        return cls(client)

    def _k(self, key: str) -> str:
        return self._prefix + key

    async def get(self, key: str) -> bytes | None:
        value = await self._redis.get(self._k(key))
        return value.encode() if isinstance(value, str) else value

    async def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        px = int(ttl * 1000) if ttl is not None else None
        await self._redis.set(self._k(key), value, px=px)

    async def delete(self, *keys: str) -> None:
        if keys:
            await self._redis.delete(*(self._k(k) for k in keys))

    async def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        px = int(ttl * 1000) if ttl is not None else 0
        return int(await self._incr(keys=[self._k(key)], args=[amount, px]))

    async def ttl(self, key: str) -> float | None:
        ms = int(await self._redis.pttl(self._k(key)))
        return None if ms < 0 else ms / 1000

    async def acquire(self, key: str, ttl: float) -> str | None:
        token = secrets.token_hex(8)
        ok = await self._redis.set(self._k(key), token, px=int(ttl * 1000), nx=True)
        return token if ok else None

    async def release(self, key: str, token: str) -> bool:
        return bool(await self._release(keys=[self._k(key)], args=[token]))

    async def renew(self, key: str, token: str, ttl: float) -> bool:
        return bool(await self._renew(keys=[self._k(key)], args=[token, int(ttl * 1000)]))

    async def push(self, key: str, value: bytes, max_len: int) -> int:
        return int(await self._push(keys=[self._k(key)], args=[value, max_len]))

    async def pop(self, key: str) -> bytes | None:
        value = await self._redis.lpop(self._k(key))
        if isinstance(value, list):
            value = value[0] if value else None
        return value.encode() if isinstance(value, str) else value

    async def length(self, key: str) -> int:
        return int(await self._redis.llen(self._k(key)))

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except Exception:
            return False

    async def aclose(self) -> None:
        await self._redis.aclose()
