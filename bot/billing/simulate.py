"""Paddle-shaped, correctly signed webhook deliveries (for tests, the benchmark and local trials).

The shapes follow Paddle's own example payloads (see `tests/data/paddle/openapi-webhook-examples`), trimmed to
the fields a subscription or transaction snapshot always carries.
"""

from __future__ import annotations

import json
import secrets
import time
from datetime import datetime
from typing import Any

from bot.billing.signature import sign

__all__ = ["event_id", "signed", "subscription_event", "transaction_event"]


def _ts(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="microseconds").replace("+00:00", "Z")


def event_id() -> str:
    """A fresh Paddle-style event id."""
    return "evt_" + secrets.token_hex(13)


def subscription_event(
    event_type: str,
    *,
    subscription_id: str,
    status: str,
    occurred_at: datetime,
    price_id: str,
    customer_id: str = "ctm_01hv6y1jedq4p1n0yqn5ba3ky4",
    guild_id: int | None = None,
    transaction_id: str | None = None,
    period: tuple[datetime, datetime] | None = None,
    scheduled_cancel_at: datetime | None = None,
    canceled_at: datetime | None = None,
    evt: str | None = None,
) -> dict[str, Any]:
    """A `subscription.*` envelope with a full snapshot."""
    data: dict[str, Any] = {
        "id": subscription_id,
        "status": status,
        "customer_id": customer_id,
        "address_id": "add_01hv8gq3318ktkfengj2r75gfx",
        "business_id": None,
        "currency_code": "USD",
        "collection_mode": "automatic",
        "custom_data": {"guild_id": str(guild_id)} if guild_id is not None else None,
        "items": [
            {
                "price": {"id": price_id, "name": "Monthly", "status": "active", "product_id": "pro_improv"},
                "status": "active",
                "quantity": 1,
                "recurring": True,
            }
        ],
        "billing_cycle": {"interval": "month", "frequency": 1},
        "current_billing_period": (
            {"starts_at": _ts(period[0]), "ends_at": _ts(period[1])} if period is not None else None
        ),
        "next_billed_at": _ts(period[1]) if period is not None and scheduled_cancel_at is None else None,
        "scheduled_change": (
            {"action": "cancel", "effective_at": _ts(scheduled_cancel_at), "resume_at": None}
            if scheduled_cancel_at is not None
            else None
        ),
        "canceled_at": _ts(canceled_at),
        "paused_at": None,
        "discount": None,
        "import_meta": None,
    }
    if event_type == "subscription.created":
        data["transaction_id"] = transaction_id
    return {
        "event_id": evt or event_id(),
        "event_type": event_type,
        "occurred_at": _ts(occurred_at),
        "notification_id": "ntf_" + secrets.token_hex(13),
        "data": data,
    }


def transaction_event(
    event_type: str,
    *,
    transaction_id: str,
    status: str,
    occurred_at: datetime,
    subscription_id: str | None,
    guild_id: int | None = None,
    evt: str | None = None,
) -> dict[str, Any]:
    """A `transaction.*` envelope (only the fields billing reads, plus identity)."""
    return {
        "event_id": evt or event_id(),
        "event_type": event_type,
        "occurred_at": _ts(occurred_at),
        "notification_id": "ntf_" + secrets.token_hex(13),
        "data": {
            "id": transaction_id,
            "status": status,
            "customer_id": "ctm_01hv6y1jedq4p1n0yqn5ba3ky4",
            "subscription_id": subscription_id,
            "custom_data": {"guild_id": str(guild_id)} if guild_id is not None else None,
            "origin": "web",
            "currency_code": "USD",
        },
    }


def signed(payload: dict[str, Any] | bytes, secret: str, *, at: float | None = None) -> tuple[bytes, str]:
    """The body as Paddle serialises it (ASCII-escaped) and its `Paddle-Signature` header value."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload, separators=(",", ":")).encode()
    ts = int(time.time() if at is None else at)
    return body, f"ts={ts};h1={sign(secret, body, ts)}"
