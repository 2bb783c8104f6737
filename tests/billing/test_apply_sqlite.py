"""The webhook's apply path on the embedded SQLite database (the PostgreSQL tests are in test_webhook.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import SecretStr
from sqlalchemy import select

from bot.billing.plans import Plan, PlanCatalog
from bot.billing.simulate import signed, subscription_event, transaction_event
from bot.billing.webhook import WebhookReply, process_webhook
from bot.services import Services
from db.base import utcnow
from db.models.billing import BillingCheckout, BillingSubscription, WebhookEvent

SECRET = "pdl_ntfset_01improvtest_sqlite_secret"
PRICE = "pri_01improv_gm_monthly"
PLANS = PlanCatalog(paid={PRICE: Plan(name="Game Master", monthly_panics=5)})


async def deliver(services: Services, event: dict[str, Any]) -> WebhookReply:
    body, header = signed(event, SECRET)
    return await process_webhook(
        body, header, secrets=[SecretStr(SECRET)], tolerance_seconds=5, engine=services.engine, plans=PLANS
    )


async def test_lifecycle_out_of_order_and_duplicates_on_sqlite(services: Services) -> None:
    assert services.engine.dialect.name == "sqlite"
    guild, txn, sid = 10**17 + 7, "txn_sqlite_1", "sub_sqlite_1"
    async with services.sessionmaker.begin() as session:
        session.add(BillingCheckout(transaction_id=txn, guild_id=guild, price_id=PRICE))
    now = utcnow()
    period = (now - timedelta(days=1), now + timedelta(days=29))

    def sub(kind: str, status: str, minutes: int, **extra: Any) -> dict[str, Any]:
        return subscription_event(
            f"subscription.{kind}",
            subscription_id=sid,
            status=status,
            occurred_at=now - timedelta(hours=1) + timedelta(minutes=minutes),
            price_id=PRICE,
            period=None if status == "canceled" else period,
            **extra,
        )

    past_due = sub("past_due", "past_due", 10)
    newest = sub("canceled", "canceled", 20)
    created = sub("created", "active", 0, guild_id=guild, transaction_id=txn)
    completed = transaction_event(
        "transaction.completed",
        transaction_id=txn,
        status="completed",
        occurred_at=now - timedelta(minutes=59),
        subscription_id=sid,
        guild_id=guild,
    )

    # the newest arrives first and binds nothing yet; the transaction binds the guild; older ones are stale
    assert (await deliver(services, past_due)).body["outcome"] == "stored"
    assert (await deliver(services, completed)).body["outcome"] == "applied"
    assert (await deliver(services, newest)).body["outcome"] == "applied"
    assert (await deliver(services, created)).body["outcome"] == "stale"
    replay = await deliver(services, newest)
    assert (replay.status, replay.body["outcome"]) == (200, "duplicate")
    unknown = dict(created, event_id="evt_sqlite_unknown", event_type="adjustment.created")
    assert (await deliver(services, unknown)).body["outcome"] == "stored"

    async with services.sessionmaker() as session:
        row = await session.get(BillingSubscription, sid)
        checkout = await session.get(BillingCheckout, txn)
        events = {e.event_id: e for e in (await session.execute(select(WebhookEvent))).scalars()}
    assert row is not None
    assert checkout is not None
    assert (row.guild_id, row.transaction_id, row.status) == (guild, txn, "canceled")
    assert row.snapshot_event_id == newest["event_id"]
    assert row.past_due_since is None
    assert checkout.completed_at is not None
    assert set(events) == {e["event_id"] for e in (past_due, completed, newest, created, unknown)}
    assert events[completed["event_id"]].guild_id == guild
    assert "older than the stored snapshot" in events[created["event_id"]].note
    assert events[unknown["event_id"]].processed_at is not None
