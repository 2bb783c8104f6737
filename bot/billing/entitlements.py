"""Which plan a guild is on now, and its panic quota (atomic in the key-value store, persisted in the database).

The quota counter key includes the start of the billing period, so usage resets when the period does. When the
counter is missing (a new period, a flushed Redis) it is seeded once, under a lock, from the database row. The
row is written behind the counter (within `USAGE_SAVE_DELAY`, and at shutdown), off the panic's path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.billing.ledger import insert_ignore
from bot.billing.plans import SELF_HOSTED, Plan, PlanCatalog
from bot.billing.types import QuotaDecision
from bot.kv import KV_ERRORS, KeyValue
from db.base import utcnow
from db.dialect import greatest_for
from db.models.billing import BillingSubscription, BillingUsage

__all__ = ["BillingEntitlements", "GuildPlan", "month_bounds", "resolve_plan"]

log = logging.getLogger(__name__)

GRANTING = frozenset({"active", "trialing"})
_OUTAGE: tuple[type[BaseException], ...] = (SQLAlchemyError, *KV_ERRORS)
USAGE_SAVE_DELAY = 1.0  # seconds a counted panic waits before its usage is written to the database


@dataclass(frozen=True, slots=True)
class GuildPlan:
    """A guild's plan right now and the period its usage counts against."""

    guild_id: int
    plan_key: str  # "self-hosted", "free" or the Paddle price id
    plan: Plan
    status: str  # "self-hosted", "free", or the subscription's Paddle status
    period_start: datetime
    period_end: datetime | None
    subscription_id: str | None = None
    customer_id: str | None = None
    renews: bool = False  # False when a cancellation is scheduled or there is no subscription
    access_until: datetime | None = None  # scheduled cancellation, or end of the past-due grace
    next_plan: Plan | None = None  # after a downgrade: the plan from `next_plan_at` (the paid period's end)
    next_plan_at: datetime | None = None

    @property
    def paid(self) -> bool:
        """Whether a paid subscription grants this plan."""
        return self.plan_key not in ("free", "self-hosted")


def month_bounds(now: datetime) -> tuple[datetime, datetime]:
    """The calendar month (UTC) containing `now`: the free plan's period."""
    start = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + timedelta(days=32)).replace(day=1)
    return start, end


def _grants(row: BillingSubscription, now: datetime, grace: timedelta) -> tuple[bool, datetime | None]:
    """Whether `row` grants its plan at `now`, and until when access is known to last."""
    if row.status in GRANTING:
        if row.scheduled_action == "cancel" and row.scheduled_at is not None:
            return now < row.scheduled_at, row.scheduled_at
        return True, None
    if row.status == "past_due":
        until = (row.past_due_since or now) + grace
        return now < until, until
    return False, None  # paused, canceled, or no snapshot yet


def resolve_plan(
    guild_id: int,
    rows: Sequence[BillingSubscription],
    plans: PlanCatalog,
    *,
    now: datetime,
    grace: timedelta,
    billing_enabled: bool,
) -> GuildPlan:
    """The plan `rows` (the guild's subscriptions) grant at `now`; the free plan when none does."""
    month_start, month_end = month_bounds(now)
    if not billing_enabled:
        return GuildPlan(guild_id, "self-hosted", SELF_HOSTED, "self-hosted", month_start, None)
    best: tuple[BillingSubscription, Plan, datetime | None] | None = None
    for row in rows:
        plan = plans.paid.get(row.price_id or "")
        if plan is None:
            continue
        ok, until = _grants(row, now, grace)
        if ok and (best is None or (row.snapshot_at or now) > (best[0].snapshot_at or now)):
            best = (row, plan, until)
    if best is not None:
        row, plan, until = best
        start = row.period_starts_at if row.period_starts_at and row.period_starts_at <= now else month_start
        end = row.period_ends_at if row.period_starts_at and row.period_starts_at <= now else month_end
        key, next_plan = row.price_id or "", None
        kept = plans.paid.get(row.kept_price_id or "")
        if kept is not None and row.kept_until is not None and now < row.kept_until:
            key, plan, next_plan = row.kept_price_id or "", kept, plan  # downgraded: the paid-for plan lasts
        return GuildPlan(
            guild_id,
            key,
            plan,
            row.status or "active",
            start,
            end,
            subscription_id=row.id,
            customer_id=row.customer_id,
            renews=row.status in GRANTING and until is None,
            access_until=until,
            next_plan=next_plan,
            next_plan_at=row.kept_until if next_plan is not None else None,
        )
    latest = max(rows, key=lambda r: r.snapshot_at or datetime.min.replace(tzinfo=UTC), default=None)
    status = latest.status if latest is not None and latest.status else "free"
    return GuildPlan(
        guild_id,
        "free",
        plans.free,
        status,
        month_start,
        month_end,
        subscription_id=latest.id if latest is not None else None,
        customer_id=latest.customer_id if latest is not None else None,
    )


class BillingEntitlements:
    """Implements `bot.billing.types.Entitlements` over the database and the key-value store."""

    def __init__(
        self,
        *,
        plans: PlanCatalog,
        sessionmaker: async_sessionmaker[AsyncSession],
        kv: KeyValue,
        billing_enabled: bool,
        grace: timedelta,
        cache_seconds: float = 30,
        clock: Callable[[], datetime] = utcnow,
        save_delay: float = USAGE_SAVE_DELAY,
    ) -> None:
        self.plans = plans
        self._sessionmaker = sessionmaker
        self._kv = kv
        self.billing_enabled = billing_enabled
        self._grace = grace
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._cache: dict[int, tuple[float, GuildPlan]] = {}
        # usage counted in the store but not yet in the database: (guild, period start) -> count
        self._unsaved: dict[tuple[int, datetime], int] = {}
        self._saver: asyncio.Task[None] | None = None
        self._save_delay = save_delay
        self._closing = asyncio.Event()

    # --- plan ----------------------------------------------------------------------------------------
    async def plan_for(self, guild_id: int, *, fresh: bool = False) -> GuildPlan:
        """The guild's plan now, cached in-process for `cache_seconds` unless `fresh`."""
        if not self.billing_enabled:
            return resolve_plan(guild_id, [], self.plans, now=self._clock(), grace=self._grace, billing_enabled=False)
        hit = self._cache.get(guild_id)
        if hit is not None and not fresh and hit[0] > time.monotonic():
            return hit[1]
        async with self._sessionmaker() as session:
            rows = (
                (await session.execute(select(BillingSubscription).where(BillingSubscription.guild_id == guild_id)))
                .scalars()
                .all()
            )
        plan = resolve_plan(guild_id, rows, self.plans, now=self._clock(), grace=self._grace, billing_enabled=True)
        if self._cache_seconds > 0:
            self._cache[guild_id] = (time.monotonic() + self._cache_seconds, plan)
        return plan

    def invalidate(self, guild_id: int | None = None) -> None:
        """Forget cached plans (one guild, or all)."""
        if guild_id is None:
            self._cache.clear()
        else:
            self._cache.pop(guild_id, None)

    # --- quota ---------------------------------------------------------------------------------------
    @staticmethod
    def counter_key(guild_id: int, period_start: datetime) -> str:
        """Key-value key of the guild's panic counter for the period starting at `period_start`."""
        return f"billing:panics:{guild_id}:{int(period_start.timestamp())}"

    def _counter_ttl(self, plan: GuildPlan) -> float:
        end = plan.period_end or month_bounds(self._clock())[1]
        return max(3600.0, (end - self._clock()).total_seconds() + 7 * 86400)

    async def _seed(self, key: str, plan: GuildPlan) -> None:
        """Create the counter from the database's usage row, exactly once across processes."""
        lock = await self._kv.acquire(key + ":seed", ttl=10)
        if lock is None:
            for _ in range(100):  # another process is seeding: wait for it (≤ 2 s)
                await asyncio.sleep(0.02)
                if await self._kv.get(key) is not None:
                    return
            return
        try:
            if await self._kv.get(key) is not None:
                return
            used = await self._db_usage(plan.guild_id, plan.period_start)
            await self._kv.incr(key, used, ttl=self._counter_ttl(plan))
        finally:
            await self._kv.release(key + ":seed", lock)

    async def _db_usage(self, guild_id: int, period_start: datetime) -> int:
        async with self._sessionmaker() as session:
            value = await session.scalar(
                select(BillingUsage.panics).where(
                    BillingUsage.guild_id == guild_id, BillingUsage.period_start == period_start
                )
            )
        return int(value or 0)

    async def _persist(self, usage: dict[tuple[int, datetime], int]) -> None:
        """Raise each guild's database count to the given value in one transaction (never lower it: the count is
        monotonic per period, so out-of-order or repeated saves are harmless)."""
        async with self._sessionmaker.begin() as session:
            greatest = greatest_for(session)
            for (guild_id, period_start), used in usage.items():
                await session.execute(
                    insert_ignore(
                        session,
                        BillingUsage,
                        {"guild_id": guild_id, "period_start": period_start, "panics": 0, "updated_at": utcnow()},
                        "guild_id",
                        "period_start",
                    )
                )
                await session.execute(
                    update(BillingUsage)
                    .where(BillingUsage.guild_id == guild_id, BillingUsage.period_start == period_start)
                    .values(panics=greatest(BillingUsage.panics, used), updated_at=utcnow())
                    .execution_options(synchronize_session=False)
                )

    def _save_soon(self, guild_id: int, period_start: datetime, used: int) -> None:
        """Queue `used` for the database; one saver writes whatever is queued after `save_delay`, so the write
        stays off the panic's path and panics in the same moment share one transaction."""
        key = (guild_id, period_start)
        self._unsaved[key] = max(used, self._unsaved.get(key, 0))
        if self._saver is None or self._saver.done():
            self._saver = asyncio.create_task(self._save_later(), name="billing-usage")

    async def _save_later(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), self._save_delay)
        try:
            await self.flush()
        except Exception:  # not an outage (those stay queued): a bug; the store still counts the usage
            log.exception("saving panic usage failed")

    async def flush(self) -> None:
        """Write the queued usage now. On a database outage it stays queued for the next save (the store still
        counts it)."""
        while self._unsaved:
            batch, self._unsaved = self._unsaved, {}
            try:
                await self._persist(batch)
            except _OUTAGE:
                log.warning("could not save panic usage for %d guilds (the store still counts it)", len(batch))
                for key, used in batch.items():
                    self._unsaved[key] = max(used, self._unsaved.get(key, 0))
                return

    async def aclose(self) -> None:
        """Save the queued usage (at shutdown)."""
        self._closing.set()
        if self._saver is not None:
            await self._saver
        await self.flush()

    async def consume_panic(self, guild_id: int) -> QuotaDecision:
        """Atomically count one panic; refused (and not counted) when the period's quota is spent.

        If the database or the store fails, the panic is allowed (logged): a billing outage must not break the
        button.
        """
        try:
            plan = await self.plan_for(guild_id)
            limit = plan.plan.monthly_panics
            key = self.counter_key(guild_id, plan.period_start)
            if await self._kv.get(key) is None:
                await self._seed(key, plan)
            used = await self._kv.incr(key, 1, ttl=self._counter_ttl(plan))
            if limit is not None and used > limit:
                await self._kv.incr(key, -1)
                return QuotaDecision(allowed=False, used=limit, limit=limit, plan=plan.plan.name)
        except _OUTAGE:
            log.warning("quota check failed for guild %s; allowing the panic", guild_id, exc_info=True)
            return QuotaDecision(allowed=True, used=0, limit=None, plan="unknown")
        self._save_soon(guild_id, plan.period_start, used)
        return QuotaDecision(allowed=True, used=used, limit=limit, plan=plan.plan.name)

    async def panics_used(self, plan: GuildPlan) -> int:
        """Panics counted so far in the plan's period (store first, database when the store has no counter or does
        not answer)."""
        try:
            raw = await self._kv.get(self.counter_key(plan.guild_id, plan.period_start))
        except KV_ERRORS as exc:
            log.warning("usage counter unreadable (%s); counting from the database", type(exc).__name__)
            raw = None
        if raw is not None:
            return int(raw)
        return await self._db_usage(plan.guild_id, plan.period_start)

    async def memory_limit_bytes(self, guild_id: int) -> int | None:
        """Bytes of campaign notes the guild may keep; None when unlimited."""
        return (await self.plan_for(guild_id)).plan.memory_bytes

    async def upload_limit_bytes(self, guild_id: int) -> int:
        """Largest single file the guild may import."""
        return (await self.plan_for(guild_id)).plan.upload_bytes
