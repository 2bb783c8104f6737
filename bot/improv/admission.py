"""Admission: the per-user cooldown and the guild's quota, checked before a panic is acknowledged."""

from __future__ import annotations

from dataclasses import dataclass

from bot.billing.types import Entitlements, QuotaDecision
from bot.errors import UserFacingError
from bot.improv.soft import soft
from bot.improv.types import PanicRequest
from bot.kv import KeyValue

__all__ = ["Admission", "Admitter", "CooldownActive"]

QUOTA_SECONDS = 1.0  # the quota may touch the database once


class CooldownActive(UserFacingError):
    """The user panicked a moment ago."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"Deep breath! You can panic again in {max(1, round(retry_after))} s.", title="Slow down")
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Admission:
    """A panic let past the cooldown before it was acknowledged; `quota` is its decision when already counted.

    The doors admit a panic before acknowledging it, so a refusal (cooldown, exhausted quota) can be shown
    privately even where answers are public: ephemerality is fixed when the interaction is acknowledged.
    """

    counted: bool = False
    quota: QuotaDecision | None = None

    @property
    def refused(self) -> bool:
        """Whether the quota was counted and found spent (the answer will come from the tables)."""
        return self.quota is not None and not self.quota.allowed


class Admitter:
    """Cooldowns in the key-value store, quotas from billing (None: unlimited); both fail open when down."""

    def __init__(self, kv: KeyValue, entitlements: Entitlements | None, *, cooldown_seconds: float) -> None:
        self.kv = kv
        self.entitlements = entitlements
        self.cooldown_seconds = cooldown_seconds

    async def admit(self, request: PanicRequest, *, count_quota: bool = False) -> Admission:
        """Check the cooldown (and count the quota when asked) before the interaction is acknowledged.

        Raises `CooldownActive` when the user panicked a moment ago (nothing counted against the quota).
        Both are one key-value round trip each, so acknowledgement stays immediate.
        """
        if request.check_cooldown:
            await self.check_cooldown(request)
        if not count_quota:
            return Admission()
        return Admission(counted=True, quota=await self.consume_quota(request.guild_id))

    async def quota(self, request: PanicRequest, admission: Admission) -> QuotaDecision | None:
        """The panic's quota decision: counted at admission, or now."""
        if admission.counted:
            return admission.quota
        return await self.consume_quota(request.guild_id)

    async def check_cooldown(self, request: PanicRequest) -> None:
        """`CooldownActive` when this user panicked in this guild less than the cooldown ago."""
        seconds = self.cooldown_seconds
        if seconds <= 0:
            return
        key = f"panic:cooldown:{request.guild_id}:{request.user_id}"
        count = await soft("cooldown", self.kv.incr(key, 1, ttl=seconds), 1)
        if count > 1:
            remaining = await soft("cooldown", self.kv.ttl(key), None)
            raise CooldownActive(remaining if remaining is not None else seconds)

    async def consume_quota(self, guild_id: int) -> QuotaDecision | None:
        """Count one panic against the guild's plan (None when unlimited or billing is down)."""
        if self.entitlements is None:
            return None
        return await soft("quota", self.entitlements.consume_panic(guild_id), None, seconds=QUOTA_SECONDS)
