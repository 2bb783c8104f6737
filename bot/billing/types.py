"""Plain values that cross the billing boundary (the panic and campaign paths read these)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["Entitlements", "QuotaDecision"]


@dataclass(frozen=True, slots=True)
class QuotaDecision:
    """Outcome of counting one panic against a guild's monthly quota."""

    allowed: bool
    used: int
    limit: int | None  # None: unlimited (self-hosted or an unlimited plan)
    plan: str

    @property
    def remaining(self) -> int | None:
        """Panics left this period, None when unlimited."""
        return None if self.limit is None else max(0, self.limit - self.used)


class Entitlements(Protocol):
    """What the bot process asks of billing."""

    async def consume_panic(self, guild_id: int) -> QuotaDecision:
        """Atomically count one panic; `allowed` is False (and nothing counted) when the quota is spent."""

    async def memory_limit_bytes(self, guild_id: int) -> int | None:
        """How many bytes of notes the guild may keep; None when unlimited."""

    async def upload_limit_bytes(self, guild_id: int) -> int:
        """Largest single file the guild may import."""
