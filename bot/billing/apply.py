"""Apply one verified, parsed webhook event inside the caller's transaction.

Rules (the facts behind them are in docs/paddle-facts.md):
- the event id goes into the ledger in the same transaction as the effect; a duplicate has no effect;
- a subscription snapshot replaces the stored one only when its `occurred_at` is newer (order is not guaranteed);
- the guild is bound through the server-side checkout record (`transaction id → guild`), never through
  `custom_data` alone (the buyer's browser can change it); unbound events are kept for review;
- `transaction.*` events bind and mark checkouts but never set a subscription's status;
- unknown event types are stored and acknowledged.

This is the webhook's hot path, so it speaks SQLAlchemy Core over one connection with statements built once per
dialect, in as few round trips as the rules allow. A new subscription event takes three statements: the ledger
insert (which also tells a duplicate from a new event), one upsert that creates, locks and reads the
subscription row, and one write of the snapshot together with the ledger's outcome (a single statement on
PostgreSQL, two on SQLite). A duplicate stops after the first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

from pydantic import ValidationError
from sqlalchemy import Insert, Select, Table, Update, bindparam, func, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.billing.events import (
    SUBSCRIPTION_EVENTS,
    TRANSACTION_EVENTS,
    Envelope,
    SubscriptionData,
    TransactionData,
    guild_id_from_custom_data,
)
from bot.billing.ledger import ledger_values, record_event
from bot.billing.plans import PlanCatalog
from db.base import utcnow
from db.dialect import insert_for
from db.models.billing import BillingCheckout, BillingSubscription, WebhookEvent

__all__ = ["Applied", "Outcome", "apply_event"]

log = logging.getLogger(__name__)

Outcome = Literal["applied", "duplicate", "stale", "stored", "invalid"]
_WriteKind = Literal["snapshot", "binding"]
_SubWrite = tuple[_WriteKind, dict[str, Any]]

_SUBS = cast(Table, BillingSubscription.__table__)
_EVENTS = cast(Table, WebhookEvent.__table__)
_CHECKOUTS = cast(Table, BillingCheckout.__table__)

_BINDING_COLUMNS = ("guild_id", "transaction_id")
_LEDGER_COLUMNS = tuple(
    ledger_values(event_id="", event_type="", occurred_at=utcnow(), notification_id=None, payload={})
)
# Columns a newer snapshot replaces.
_SNAPSHOT_COLUMNS = (
    "status",
    "customer_id",
    "price_id",
    "period_starts_at",
    "period_ends_at",
    "scheduled_action",
    "scheduled_at",
    "canceled_at",
    "past_due_since",
    "snapshot_at",
    "snapshot_event_id",
    "kept_price_id",
    "kept_until",
)


@dataclass(frozen=True, slots=True)
class Applied:
    """What happened to one event."""

    outcome: Outcome
    guild_id: int | None = None
    subscription_id: str | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class _Statements:
    """The hot path's statements for one dialect (built once; SQLAlchemy caches their compiled forms)."""

    lock_subscription: Insert
    # PostgreSQL: the ledger insert and the subscription lock in one statement; no row back means duplicate
    record_and_lock: Insert | None
    finish_event: Update
    # the subscription write for a new snapshot / for a binding change only, each alone and (PostgreSQL) riding
    # along the ledger update as a CTE: WITH s AS (UPDATE billing_subscriptions …) UPDATE webhook_events …
    writes: dict[_WriteKind, Update]
    finish_with: dict[_WriteKind, Update] | None
    complete_checkout: Update
    find_checkout: Select[Any]


def _build(dialect: str) -> _Statements:
    insert = insert_for(dialect)
    # Create the row when missing, else take its row lock with a no-op update; either way return its current
    # values. One round trip instead of INSERT … DO NOTHING then SELECT … FOR UPDATE, and PostgreSQL's
    # ON CONFLICT DO UPDATE always locks (and returns) the newest committed version of the row.
    lock = (
        insert(_SUBS)
        .values(id=bindparam("l_id"), updated_at=bindparam("l_now", type_=_SUBS.c.updated_at.type))
        .on_conflict_do_update(index_elements=[_SUBS.c.id], set_={"updated_at": _SUBS.c.updated_at})
        .returning(*_SUBS.c)
    )

    def write(columns: tuple[str, ...]) -> Update:
        values: dict[str, Any] = {name: bindparam(f"s_{name}", type_=_SUBS.c[name].type) for name in columns}
        values["updated_at"] = bindparam("s_now", type_=_SUBS.c.updated_at.type)
        return update(_SUBS).where(_SUBS.c.id == bindparam("s_id")).values(values)

    finish = (
        update(_EVENTS)
        .where(_EVENTS.c.event_id == bindparam("e_id"))
        .values(
            processed_at=bindparam("e_processed_at", type_=_EVENTS.c.processed_at.type),
            guild_id=bindparam("e_guild_id", type_=_EVENTS.c.guild_id.type),
            note=bindparam("e_note", type_=_EVENTS.c.note.type),
        )
    )
    writes: dict[_WriteKind, Update] = {
        "snapshot": write(_BINDING_COLUMNS + _SNAPSHOT_COLUMNS),
        "binding": write(_BINDING_COLUMNS),
    }
    finish_with: dict[_WriteKind, Update] | None = None
    if dialect == "postgresql":
        finish_with = {kind: finish.add_cte(w.returning(_SUBS.c.id).cte("s")) for kind, w in writes.items()}
    record_and_lock: Insert | None = None
    if dialect == "postgresql":
        # WITH led AS (INSERT INTO webhook_events … ON CONFLICT DO NOTHING RETURNING event_id)
        # INSERT INTO billing_subscriptions SELECT :id, :now FROM led ON CONFLICT DO UPDATE … RETURNING *
        led = (
            postgresql.insert(_EVENTS)
            .values({name: bindparam(f"w_{name}", type_=_EVENTS.c[name].type) for name in _LEDGER_COLUMNS})
            .on_conflict_do_nothing(index_elements=[_EVENTS.c.event_id])
            .returning(_EVENTS.c.event_id)
            .cte("led")
        )
        new_row = select(
            bindparam("l_id", type_=_SUBS.c.id.type), bindparam("l_now", type_=_SUBS.c.updated_at.type)
        ).select_from(led)
        record_and_lock = (
            postgresql.insert(_SUBS)
            .from_select([_SUBS.c.id, _SUBS.c.updated_at], new_row)
            .on_conflict_do_update(index_elements=[_SUBS.c.id], set_={"updated_at": _SUBS.c.updated_at})
            .returning(*_SUBS.c)
            .add_cte(led)
        )
    completed_type = _CHECKOUTS.c.completed_at.type
    return _Statements(
        lock_subscription=lock,
        record_and_lock=record_and_lock,
        finish_event=finish,
        writes=writes,
        finish_with=finish_with,
        # mark a checkout completed (first time only) and learn its guild, in one statement
        complete_checkout=update(_CHECKOUTS)
        .where(_CHECKOUTS.c.transaction_id == bindparam("c_id"))
        .values(completed_at=func.coalesce(_CHECKOUTS.c.completed_at, bindparam("c_at", type_=completed_type)))
        .returning(_CHECKOUTS.c.guild_id),
        find_checkout=select(_CHECKOUTS.c.guild_id).where(_CHECKOUTS.c.transaction_id == bindparam("c_id")),
    )


_STATEMENTS: dict[str, _Statements] = {}


def _statements(conn: AsyncConnection) -> _Statements:
    dialect = conn.dialect.name
    built = _STATEMENTS.get(dialect)
    if built is None:
        built = _STATEMENTS[dialect] = _build(dialect)
    return built


async def apply_event(
    conn: AsyncConnection,
    envelope: Envelope,
    payload: dict[str, Any],
    *,
    plans: PlanCatalog,
    now: datetime | None = None,
) -> Applied:
    """Record `envelope` in the ledger and apply it; call inside `engine.begin()` (one transaction)."""
    stmts = _statements(conn)
    duplicate = Applied("duplicate", note="duplicate event_id; already processed")
    ledger = ledger_values(
        event_id=envelope.event_id,
        event_type=envelope.event_type,
        occurred_at=envelope.occurred_at,
        notification_id=envelope.notification_id,
        payload=payload,
    )
    # validate first (pure CPU), so that a valid subscription event can be recorded and locked in one go
    sub_data: SubscriptionData | None = None
    txn_data: TransactionData | None = None
    invalid: Applied | None = None
    try:
        if envelope.event_type in SUBSCRIPTION_EVENTS:
            sub_data = SubscriptionData.model_validate(envelope.data)
        elif envelope.event_type in TRANSACTION_EVENTS:
            txn_data = TransactionData.model_validate(envelope.data)
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in err["loc"]) for err in exc.errors()[:5])
        invalid = Applied("invalid", note=f"data did not validate ({fields}); stored for review")

    sub_write: _SubWrite | None = None
    if sub_data is not None and stmts.record_and_lock is not None:
        params = {f"w_{name}": value for name, value in ledger.items()}
        params |= {"l_id": sub_data.id, "l_now": utcnow()}
        locked = (await conn.execute(stmts.record_and_lock, params)).mappings().one_or_none()
        if locked is None:
            return duplicate
        result, sub_write = await _apply_subscription(conn, stmts, envelope, sub_data, plans, dict(locked))
    else:
        if not await record_event(conn, ledger):
            return duplicate
        if sub_data is not None:
            row = await _locked_subscription(conn, stmts, sub_data.id)
            result, sub_write = await _apply_subscription(conn, stmts, envelope, sub_data, plans, row)
        elif txn_data is not None:
            result, sub_write = await _apply_transaction(conn, stmts, envelope, txn_data)
        elif invalid is not None:
            result = invalid
            log.warning("webhook %s (%s): %s", envelope.event_id, envelope.event_type, invalid.note)
        else:
            result = Applied("stored", note="unhandled event type; stored for review")
    finish: dict[str, Any] = {
        "e_id": envelope.event_id,
        "e_processed_at": None if result.outcome == "invalid" else (now or utcnow()),
        "e_guild_id": result.guild_id,
        "e_note": result.note[:2000],
    }
    if sub_write is None:
        await conn.execute(stmts.finish_event, finish)
    elif stmts.finish_with is not None:
        kind, params = sub_write
        await conn.execute(stmts.finish_with[kind], finish | params)
    else:
        kind, params = sub_write
        await conn.execute(stmts.writes[kind], params)
        await conn.execute(stmts.finish_event, finish)
    return result


async def _locked_subscription(conn: AsyncConnection, stmts: _Statements, subscription_id: str) -> dict[str, Any]:
    """The subscription row as a dict, created empty when missing, locked for this transaction (PostgreSQL)."""
    result = await conn.execute(stmts.lock_subscription, {"l_id": subscription_id, "l_now": utcnow()})
    return dict(result.mappings().one())


async def _checkout_guild(conn: AsyncConnection, stmts: _Statements, transaction_id: str) -> int | None:
    value = await conn.scalar(stmts.find_checkout, {"c_id": transaction_id})
    return None if value is None else int(value)


def _write(kind: _WriteKind, row: dict[str, Any]) -> _SubWrite:
    columns = _BINDING_COLUMNS + _SNAPSHOT_COLUMNS if kind == "snapshot" else _BINDING_COLUMNS
    params = {f"s_{name}": row[name] for name in columns}
    params["s_id"] = row["id"]
    params["s_now"] = utcnow()
    return kind, params


async def _apply_subscription(
    conn: AsyncConnection,
    stmts: _Statements,
    envelope: Envelope,
    data: SubscriptionData,
    plans: PlanCatalog,
    row: dict[str, Any],
) -> tuple[Applied, _SubWrite | None]:
    """Apply a snapshot to the locked subscription `row` (a dict, updated in place)."""
    before = (row["guild_id"], row["transaction_id"])
    notes: list[str] = []
    claimed = guild_id_from_custom_data(data.custom_data)

    if data.transaction_id and row["transaction_id"] is None:
        row["transaction_id"] = data.transaction_id
    if row["guild_id"] is None and row["transaction_id"] is not None:
        row["guild_id"] = await _checkout_guild(conn, stmts, row["transaction_id"])
    if row["guild_id"] is not None and claimed is not None and claimed != row["guild_id"]:
        notes.append(f"custom_data guild_id {claimed} differs from the checkout record's {row['guild_id']}; ignored")
        log.warning("subscription %s: custom_data guild differs from the checkout record", data.id)

    outcome: Outcome
    write: _SubWrite | None = None
    snapshot_at: datetime | None = row["snapshot_at"]
    if snapshot_at is None or envelope.occurred_at > snapshot_at:
        _copy_snapshot(row, envelope, data, plans)
        write = _write("snapshot", row)
        outcome = "applied"
    else:
        outcome = "stale"
        notes.append(f"older than the stored snapshot ({snapshot_at.isoformat()}); not applied")
        if (row["guild_id"], row["transaction_id"]) != before:
            write = _write("binding", row)

    if row["guild_id"] is None:
        notes.append(
            "no checkout record binds this subscription to a guild"
            + (f" (custom_data claims {claimed})" if claimed is not None else "")
            + "; snapshot kept, stored for review"
        )
        if outcome == "applied":
            outcome = "stored"
    return Applied(outcome, row["guild_id"], data.id, "; ".join(notes)), write


def _kept_plan(row: dict[str, Any], data: SubscriptionData, new_price: str | None, plans: PlanCatalog) -> None:
    """A downgrade within the period already paid for keeps the better plan until that period ends (Paddle
    replaces the items at once; the bot downgrades with `full_next_billing_period`, so nothing is refunded)."""
    period = data.current_billing_period
    same_period = period is not None and row["period_starts_at"] == period.starts_at
    candidates = [row["price_id"] if row["status"] in ("active", "trialing", "past_due") else None]
    if row["kept_until"] is not None and period is not None and row["kept_until"] >= period.ends_at:
        candidates.append(row["kept_price_id"])
    best = None
    for price in candidates:
        if plans.is_downgrade(price, new_price) and (best is None or plans.is_downgrade(price, best)):
            best = price
    if same_period and best is not None and period is not None and data.status != "canceled":
        row["kept_price_id"], row["kept_until"] = best, period.ends_at
    else:
        row["kept_price_id"], row["kept_until"] = None, None


def _copy_snapshot(row: dict[str, Any], envelope: Envelope, data: SubscriptionData, plans: PlanCatalog) -> None:
    previous_status = row["status"]
    match = plans.for_prices(data.price_ids)
    new_price = match[0] if match else (data.price_ids[0] if data.price_ids else row["price_id"])
    _kept_plan(row, data, new_price, plans)
    row["status"] = data.status
    row["customer_id"] = data.customer_id or row["customer_id"]
    row["price_id"] = new_price
    period = data.current_billing_period
    row["period_starts_at"] = period.starts_at if period else None
    row["period_ends_at"] = period.ends_at if period else None
    change = data.scheduled_change
    row["scheduled_action"] = change.action[:16] if change else None
    row["scheduled_at"] = change.effective_at if change else None
    row["canceled_at"] = data.canceled_at
    if data.status == "past_due":
        if previous_status != "past_due" or row["past_due_since"] is None:
            row["past_due_since"] = envelope.occurred_at
    else:
        row["past_due_since"] = None
    row["snapshot_at"] = envelope.occurred_at
    row["snapshot_event_id"] = envelope.event_id


async def _apply_transaction(
    conn: AsyncConnection, stmts: _Statements, envelope: Envelope, data: TransactionData
) -> tuple[Applied, _SubWrite | None]:
    if envelope.event_type in ("transaction.completed", "transaction.paid"):
        value = await conn.scalar(stmts.complete_checkout, {"c_id": data.id, "c_at": envelope.occurred_at})
        checkout_guild = None if value is None else int(value)
    else:
        checkout_guild = await _checkout_guild(conn, stmts, data.id)
    notes: list[str] = []
    guild_id = checkout_guild
    claimed = guild_id_from_custom_data(data.custom_data)
    if checkout_guild is not None and claimed is not None and claimed != checkout_guild:
        notes.append(f"custom_data guild_id {claimed} differs from the checkout record's {checkout_guild}; ignored")
    write: _SubWrite | None = None
    if data.subscription_id:
        row = await _locked_subscription(conn, stmts, data.subscription_id)
        before = (row["guild_id"], row["transaction_id"])
        if row["transaction_id"] is None and checkout_guild is not None:
            row["transaction_id"] = data.id
        if row["guild_id"] is None and guild_id is not None:
            row["guild_id"] = guild_id
            notes.append(f"bound subscription {data.subscription_id} to guild {guild_id}")
        elif guild_id is None:
            guild_id = row["guild_id"]
        if (row["guild_id"], row["transaction_id"]) != before:
            write = _write("binding", row)
    if guild_id is None:
        notes.append("no checkout record for this transaction; stored for review")
        return Applied("stored", None, data.subscription_id, "; ".join(notes)), write
    return Applied("applied", guild_id, data.subscription_id, "; ".join(notes)), write
