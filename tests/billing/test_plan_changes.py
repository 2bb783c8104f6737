"""Plan changes as the webhook sees them: a downgrade keeps the plan already paid for until its period ends, an
upgrade applies at once; and the figures `/billing upgrade` shows."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.billing.checkout import ChangePreview, format_money
from bot.billing.entitlements import resolve_plan
from bot.billing.plans import Plan, PlanCatalog
from bot.billing.simulate import signed, subscription_event
from bot.billing.webhook import process_webhook
from bot.services import Services
from db.base import utcnow
from db.engine import create_sessionmaker
from db.models.billing import BillingCheckout, BillingSubscription

SECRET = "pdl_ntfset_01improvtest_plan_changes"
BASIC, PRO = "pri_01basic", "pri_01pro"
PLANS = PlanCatalog(
    paid={
        BASIC: Plan(name="Basic", monthly_panics=100, memory_bytes=1000),
        PRO: Plan(name="Pro", monthly_panics=1000, memory_bytes=1000),
    }
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> AsyncEngine:
    if request.param == "sqlite":
        services: Services = request.getfixturevalue("services")
        return services.engine
    pg: AsyncEngine = request.getfixturevalue("pg_engine")
    return pg


class Guild:
    """One guild's subscription, driven by `subscription.*` snapshots in order."""

    def __init__(self, engine: AsyncEngine, name: str) -> None:
        self.engine, self.sid, self.txn = engine, f"sub_01{name}", f"txn_01{name}"
        self.guild = 10**17 + sum(map(ord, name))
        self.now = utcnow()
        self.minutes = 0

    async def event(
        self, kind: str, price: str, *, status: str = "active", period: tuple[datetime, datetime] | None = None
    ) -> None:
        self.minutes += 1
        event = subscription_event(
            f"subscription.{kind}",
            subscription_id=self.sid,
            status=status,
            occurred_at=self.now - timedelta(hours=1) + timedelta(minutes=self.minutes),
            price_id=price,
            guild_id=self.guild,
            transaction_id=self.txn,
            period=None
            if status == "canceled"
            else (period or (self.now - timedelta(days=10), self.now + timedelta(days=20))),
        )
        body, header = signed(event, SECRET)
        reply = await process_webhook(
            body, header, secrets=[SecretStr(SECRET)], tolerance_seconds=5, engine=self.engine, plans=PLANS
        )
        assert reply.body["outcome"] == "applied", reply.body

    async def row(self) -> BillingSubscription:
        async with create_sessionmaker(self.engine)() as session:
            row = await session.get(BillingSubscription, self.sid)
        assert row is not None
        return row

    async def plan(self, at: datetime | None = None) -> tuple[str, str | None]:
        plan = resolve_plan(
            self.guild, [await self.row()], PLANS, now=at or self.now, grace=timedelta(days=7), billing_enabled=True
        )
        return plan.plan.name, plan.next_plan.name if plan.next_plan else None


async def subscribed(engine: AsyncEngine, name: str, price: str) -> Guild:
    guild = Guild(engine, name)
    async with create_sessionmaker(engine).begin() as session:
        session.add(BillingCheckout(transaction_id=guild.txn, guild_id=guild.guild, price_id=price))
    await guild.event("created", price)
    return guild


async def test_a_downgrade_keeps_the_paid_plan_until_the_period_ends(engine: AsyncEngine) -> None:
    g = await subscribed(engine, "downgrade", PRO)
    await g.event("updated", BASIC)
    row = await g.row()
    assert (row.price_id, row.kept_price_id) == (BASIC, PRO)
    assert row.kept_until == row.period_ends_at
    assert await g.plan() == ("Pro", "Basic")
    assert row.period_ends_at is not None
    assert await g.plan(at=row.period_ends_at + timedelta(seconds=1)) == ("Basic", None)

    # the renewal starts a new period at the lower plan
    renewed = (g.now + timedelta(days=20), g.now + timedelta(days=50))
    await g.event("updated", BASIC, period=renewed)
    row = await g.row()
    assert (row.kept_price_id, row.kept_until) == (None, None)


async def test_an_upgrade_applies_at_once_and_ends_a_kept_plan(engine: AsyncEngine) -> None:
    g = await subscribed(engine, "upgrade", BASIC)
    await g.event("updated", PRO)
    assert await g.plan() == ("Pro", None)
    await g.event("updated", BASIC)  # down again within the period: Pro was paid for, it stays
    assert await g.plan() == ("Pro", "Basic")
    await g.event("updated", PRO)  # and back up
    row = await g.row()
    assert (row.price_id, row.kept_price_id) == (PRO, None)


async def test_a_canceled_subscription_keeps_nothing(engine: AsyncEngine) -> None:
    g = await subscribed(engine, "canceled", PRO)
    await g.event("updated", BASIC)
    await g.event("canceled", BASIC, status="canceled")
    row = await g.row()
    assert (row.status, row.kept_price_id) == ("canceled", None)
    assert await g.plan() == ("Free", None)


def test_plans_are_ordered_by_what_they_allow() -> None:
    assert PLANS.is_downgrade(PRO, BASIC)
    assert not PLANS.is_downgrade(BASIC, PRO)
    assert not PLANS.is_downgrade(PRO, PRO)
    assert not PLANS.is_downgrade(PRO, "pri_01unknown")
    unlimited = Plan(name="Unlimited", monthly_panics=None, memory_bytes=None)
    assert unlimited.allowance > PLANS.paid[PRO].allowance


@pytest.mark.parametrize(
    ("preview", "says"),
    [
        (
            ChangePreview("USD", due_now=667, credit_now=333, next_billed_at=datetime(2026, 12, 20), next_amount=1500),
            ["**6.67 USD** is charged now", "less 3.33 USD unused", "From 2026-12-20: 15.00 USD each period."],
        ),
        (
            ChangePreview("EUR", due_now=0, credit_now=0, next_billed_at=datetime(2026, 12, 20), next_amount=500),
            ["Nothing is charged now.", "From 2026-12-20: 5.00 EUR each period."],
        ),
        (
            ChangePreview("JPY", due_now=-120, credit_now=300, next_billed_at=None, next_amount=None),
            ["120 JPY is credited"],
        ),
    ],
)
def test_the_preview_says_what_is_charged_when(preview: ChangePreview, says: list[str]) -> None:
    text = preview.describe()
    for part in says:
        assert part in text


def test_money_is_shown_in_major_units() -> None:
    assert format_money("123456", "USD") == "1,234.56 USD"
    assert format_money(5, "GBP") == "0.05 GBP"
    assert format_money("1500", "JPY") == "1,500 JPY"
    assert format_money(-250, "EUR") == "-2.50 EUR"
