"""Plans and their limits, from the `PADDLE_PLANS` setting (JSON).

```json
{"free": {"name": "Free", "monthly_panics": 30, "memory_bytes": 2097152, "upload_bytes": 1048576},
 "paid": {"pri_01abc…": {"name": "Game Master", "monthly_panics": 1000,
                         "memory_bytes": 52428800, "upload_bytes": 10485760}}}
```
A limit of `null` means unlimited. Paid plans are keyed by Paddle price id; a subscription's plan is the first of
its items' prices found here.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["SELF_HOSTED", "Plan", "PlanCatalog"]

MiB = 1024 * 1024


class Plan(BaseModel):
    """What a guild on this plan may do."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    monthly_panics: int | None = Field(default=None, ge=0, description="panics per billing period; null: unlimited")
    memory_bytes: int | None = Field(default=None, ge=0, description="campaign notes kept; null: unlimited")
    upload_bytes: int = Field(default=25 * MiB, ge=1, description="largest single file imported")

    @property
    def unlimited(self) -> bool:
        """Whether nothing is metered."""
        return self.monthly_panics is None and self.memory_bytes is None

    @property
    def allowance(self) -> tuple[float, float, int]:
        """What the plan allows, to order plans: panics, then notes, then uploads (unlimited is infinite)."""
        inf = float("inf")
        panics = inf if self.monthly_panics is None else self.monthly_panics
        return panics, inf if self.memory_bytes is None else self.memory_bytes, self.upload_bytes


SELF_HOSTED = Plan(name="Self-hosted", monthly_panics=None, memory_bytes=None, upload_bytes=25 * MiB)


class PlanCatalog(BaseModel):
    """The free plan and the paid plans by Paddle price id."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    free: Plan = Plan(name="Free", monthly_panics=30, memory_bytes=2 * MiB, upload_bytes=1 * MiB)
    paid: dict[str, Plan] = Field(default_factory=dict)

    def for_prices(self, price_ids: Iterable[str]) -> tuple[str, Plan] | None:
        """The first configured paid plan among `price_ids`, as (price id, plan)."""
        for price_id in price_ids:
            plan = self.paid.get(price_id)
            if plan is not None:
                return price_id, plan
        return None

    def is_downgrade(self, from_price: str | None, to_price: str | None) -> bool:
        """Whether moving between two paid prices allows less (False when either is not a paid plan here)."""
        old, new = self.paid.get(from_price or ""), self.paid.get(to_price or "")
        return old is not None and new is not None and new.allowance < old.allowance

    def key_of(self, price_id: str | None) -> str:
        """Stable key naming a plan: the price id, or "free"."""
        return price_id if price_id is not None and price_id in self.paid else "free"
