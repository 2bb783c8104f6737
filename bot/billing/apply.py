"""Apply one verified, parsed webhook event inside the caller's transaction.

Rules (see docs in PADDLE.md):
- the event id goes into the ledger in the same transaction as the effect; a duplicate has no effect;
- a subscription snapshot replaces the stored one only when its `occurred_at` is newer (order is not guaranteed);
- the guild is bound through the server-side checkout record (`transaction id → guild`), never through
  `custom_data` alone (the buyer's browser can change it); unbound events are kept for review;
- `transaction.*` events bind and mark checkouts but never set a subscription's status;
- unknown event types are stored and acknowledged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.billing.events import (
    SUBSCRIPTION_EVENTS,
    TRANSACTION_EVENTS,
    Envelope,
    SubscriptionData,
    TransactionData,
    guild_id_from_custom_data,
)
from bot.billing.ledger import insert_ignore, record_event
from bot.billing.plans import PlanCatalog
from db.base import utcnow
from db.models.billing import BillingCheckout, BillingSubscription, WebhookEvent

__all__ = ["Applied", "Outcome", "apply_event"]

log = logging.getLogger(__name__)

Outcome = Literal["applied", "duplicate", "stale", "stored", "invalid"]


@dataclass(frozen=True, slots=True)
class Applied:
    """What happened to one event."""

    outcome: Outcome
    guild_id: int | None = None
    subscription_id: str | None = None
    note: str = ""


async def apply_event(
    session: AsyncSession,
    envelope: Envelope,
    payload: dict[str, Any],
    *,
    plans: PlanCatalog,
    now: datetime | None = None,
) -> Applied:
    """Record `envelope` in the ledger and apply it; call inside `sessionmaker.begin()`."""
    fresh = await record_event(
        session,
        event_id=envelope.event_id,
        event_type=envelope.event_type,
        occurred_at=envelope.occurred_at,
        notification_id=envelope.notification_id,
        payload=payload,
    )
    if not fresh:
        return Applied("duplicate", note="duplicate event_id; already processed")
    try:
        if envelope.event_type in SUBSCRIPTION_EVENTS:
            result = await _apply_subscription(session, envelope, SubscriptionData.model_validate(envelope.data), plans)
        elif envelope.event_type in TRANSACTION_EVENTS:
            result = await _apply_transaction(session, envelope, TransactionData.model_validate(envelope.data))
        else:
            result = Applied("stored", note="unhandled event type; stored for review")
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in err["loc"]) for err in exc.errors()[:5])
        result = Applied("invalid", note=f"data did not validate ({fields}); stored for review")
        log.warning("webhook %s (%s): data did not validate: %s", envelope.event_id, envelope.event_type, fields)
    await session.execute(
        update(WebhookEvent)
        .where(WebhookEvent.event_id == envelope.event_id)
        .values(
            processed_at=None if result.outcome == "invalid" else (now or utcnow()),
            guild_id=result.guild_id,
            note=result.note[:2000],
        )
    )
    return result


async def _locked_subscription(session: AsyncSession, subscription_id: str) -> BillingSubscription:
    """The subscription row, created empty when missing, locked for this transaction (PostgreSQL)."""
    await session.execute(
        insert_ignore(session, BillingSubscription, {"id": subscription_id, "updated_at": utcnow()}, "id")
    )
    stmt = (
        select(BillingSubscription)
        .where(BillingSubscription.id == subscription_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.execute(stmt)).scalar_one()


async def _apply_subscription(
    session: AsyncSession, envelope: Envelope, data: SubscriptionData, plans: PlanCatalog
) -> Applied:
    row = await _locked_subscription(session, data.id)
    notes: list[str] = []
    claimed = guild_id_from_custom_data(data.custom_data)

    if data.transaction_id and row.transaction_id is None:
        row.transaction_id = data.transaction_id
    if row.guild_id is None and row.transaction_id is not None:
        checkout = await session.get(BillingCheckout, row.transaction_id)
        if checkout is not None:
            row.guild_id = checkout.guild_id
    if row.guild_id is not None and claimed is not None and claimed != row.guild_id:
        notes.append(f"custom_data guild_id {claimed} differs from the checkout record's {row.guild_id}; ignored")
        log.warning("subscription %s: custom_data guild differs from the checkout record", data.id)

    outcome: Outcome
    if row.snapshot_at is None or envelope.occurred_at > row.snapshot_at:
        _copy_snapshot(row, envelope, data, plans)
        outcome = "applied"
    else:
        outcome = "stale"
        notes.append(f"older than the stored snapshot ({row.snapshot_at.isoformat()}); not applied")

    if row.guild_id is None:
        notes.append(
            "no checkout record binds this subscription to a guild"
            + (f" (custom_data claims {claimed})" if claimed is not None else "")
            + "; snapshot kept, stored for review"
        )
        if outcome == "applied":
            outcome = "stored"
    return Applied(outcome, row.guild_id, data.id, "; ".join(notes))


def _copy_snapshot(row: BillingSubscription, envelope: Envelope, data: SubscriptionData, plans: PlanCatalog) -> None:
    previous_status = row.status
    row.status = data.status
    row.customer_id = data.customer_id or row.customer_id
    match = plans.for_prices(data.price_ids)
    row.price_id = match[0] if match else (data.price_ids[0] if data.price_ids else row.price_id)
    period = data.current_billing_period
    row.period_starts_at = period.starts_at if period else None
    row.period_ends_at = period.ends_at if period else None
    change = data.scheduled_change
    row.scheduled_action = change.action[:16] if change else None
    row.scheduled_at = change.effective_at if change else None
    row.canceled_at = data.canceled_at
    if data.status == "past_due":
        if previous_status != "past_due" or row.past_due_since is None:
            row.past_due_since = envelope.occurred_at
    else:
        row.past_due_since = None
    row.snapshot_at = envelope.occurred_at
    row.snapshot_event_id = envelope.event_id


async def _apply_transaction(session: AsyncSession, envelope: Envelope, data: TransactionData) -> Applied:
    checkout = await session.get(BillingCheckout, data.id)
    notes: list[str] = []
    guild_id = checkout.guild_id if checkout is not None else None
    claimed = guild_id_from_custom_data(data.custom_data)
    if checkout is not None:
        if envelope.event_type in ("transaction.completed", "transaction.paid") and checkout.completed_at is None:
            checkout.completed_at = envelope.occurred_at
        if claimed is not None and claimed != checkout.guild_id:
            notes.append(
                f"custom_data guild_id {claimed} differs from the checkout record's {checkout.guild_id}; ignored"
            )
    if data.subscription_id:
        row = await _locked_subscription(session, data.subscription_id)
        if row.transaction_id is None and checkout is not None:
            row.transaction_id = data.id
        if row.guild_id is None and guild_id is not None:
            row.guild_id = guild_id
            notes.append(f"bound subscription {data.subscription_id} to guild {guild_id}")
        elif guild_id is None:
            guild_id = row.guild_id
    if guild_id is None:
        notes.append("no checkout record for this transaction; stored for review")
        return Applied("stored", None, data.subscription_id, "; ".join(notes))
    return Applied("applied", guild_id, data.subscription_id, "; ".join(notes))
