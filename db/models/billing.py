"""Billing state: Paddle subscriptions per guild, checkouts the bot created, the webhook ledger, usage per period."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, utcnow

__all__ = ["BillingCheckout", "BillingSubscription", "BillingUsage", "WebhookEvent"]


class BillingSubscription(Base):
    """Newest known snapshot of one Paddle subscription, and the guild it is bound to (None until bound).

    The guild binding comes from the server-side checkout record, never from `custom_data` alone; the snapshot
    columns change only for an event whose `occurred_at` is newer than `snapshot_at`.
    """

    __tablename__ = "billing_subscriptions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sub_…
    guild_id: Mapped[int | None] = mapped_column(BigInteger, index=True, default=None)
    transaction_id: Mapped[str | None] = mapped_column(String(64), default=None)  # txn_… that created it
    customer_id: Mapped[str | None] = mapped_column(String(64), default=None)
    status: Mapped[str | None] = mapped_column(String(16), default=None)
    price_id: Mapped[str | None] = mapped_column(String(64), default=None)
    period_starts_at: Mapped[datetime | None] = mapped_column(default=None)
    period_ends_at: Mapped[datetime | None] = mapped_column(default=None)
    scheduled_action: Mapped[str | None] = mapped_column(String(16), default=None)
    scheduled_at: Mapped[datetime | None] = mapped_column(default=None)
    canceled_at: Mapped[datetime | None] = mapped_column(default=None)
    past_due_since: Mapped[datetime | None] = mapped_column(default=None)
    snapshot_at: Mapped[datetime | None] = mapped_column(default=None)  # occurred_at of the applied event
    snapshot_event_id: Mapped[str | None] = mapped_column(String(64), default=None)
    # a downgrade keeps the plan already paid for until the period ends (bot/billing/apply.py)
    kept_price_id: Mapped[str | None] = mapped_column(String(64), default=None)
    kept_until: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class BillingCheckout(Base):
    """A checkout transaction the bot created: the server-side record of which guild is paying."""

    __tablename__ = "billing_checkouts"

    transaction_id: Mapped[str] = mapped_column(String(64), primary_key=True)  # txn_…
    guild_id: Mapped[int] = mapped_column(BigInteger, index=True)
    price_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(BigInteger, default=None)  # who paid: may open the portal
    user_name: Mapped[str | None] = mapped_column(String(100), default=None)  # their display name, for refusals
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)


class WebhookEvent(Base):
    """Every verified webhook, once per `event_id`, inserted in the same transaction as its effect."""

    __tablename__ = "webhook_events"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)  # evt_…
    event_type: Mapped[str] = mapped_column(String(64), index=True)
    occurred_at: Mapped[datetime]
    notification_id: Mapped[str | None] = mapped_column(String(64), default=None)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(default=None)
    guild_id: Mapped[int | None] = mapped_column(BigInteger, index=True, default=None)
    note: Mapped[str] = mapped_column(Text, default="")


class BillingUsage(Base):
    """Panics counted for a guild in one billing period (the key-value counter is seeded from here)."""

    __tablename__ = "billing_usage"

    guild_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    period_start: Mapped[datetime] = mapped_column(primary_key=True)
    panics: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
