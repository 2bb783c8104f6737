"""Pydantic models of Paddle Billing webhook envelopes and the parts of their data that billing uses.

Parsing is lenient by design: only the fields billing acts on are modelled, extra fields are ignored, and an
unknown `event_type` still parses as a generic `Envelope` (its `data` stays a plain dict). The raw body goes
through `parse_payload` first, which refuses anything but a JSON object nested at most `MAX_JSON_DEPTH` deep.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "MAX_JSON_DEPTH",
    "SUBSCRIPTION_EVENTS",
    "TRANSACTION_EVENTS",
    "BillingPeriod",
    "Envelope",
    "ScheduledChange",
    "SubscriptionData",
    "SubscriptionStatus",
    "TransactionData",
    "guild_id_from_custom_data",
    "parse_payload",
]

# Paddle's envelopes nest about six deep (data.items[].price.unit_price.amount); custom data adds a little.
MAX_JSON_DEPTH = 64

SubscriptionStatus = Literal["active", "trialing", "past_due", "paused", "canceled"]

SUBSCRIPTION_EVENTS = frozenset(
    {
        "subscription.created",
        "subscription.activated",
        "subscription.updated",
        "subscription.trialing",
        "subscription.past_due",
        "subscription.paused",
        "subscription.resumed",
        "subscription.canceled",
        "subscription.imported",
    }
)
TRANSACTION_EVENTS = frozenset(
    {
        "transaction.completed",
        "transaction.paid",
        "transaction.payment_failed",
        "transaction.past_due",
        "transaction.billed",
        "transaction.canceled",
        "transaction.created",
        "transaction.ready",
        "transaction.updated",
        "transaction.revised",
    }
)


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Envelope(_Lenient):
    """Every notification: identity, type, time, and the entity snapshot as a dict."""

    event_id: str = Field(min_length=1, max_length=64)
    event_type: str = Field(min_length=1, max_length=64)
    occurred_at: AwareDatetime
    notification_id: str | None = Field(default=None, max_length=64)
    data: dict[str, Any]


class BillingPeriod(_Lenient):
    """A subscription's current period."""

    starts_at: AwareDatetime
    ends_at: AwareDatetime


class ScheduledChange(_Lenient):
    """A change Paddle will make at `effective_at` (cancel, pause or resume)."""

    action: str
    effective_at: AwareDatetime
    resume_at: AwareDatetime | None = None


class _Price(_Lenient):
    id: str


class _SubscriptionItem(_Lenient):
    price: _Price
    status: str | None = None
    quantity: int = 1


class SubscriptionData(_Lenient):
    """The subscription snapshot carried by every `subscription.*` event."""

    id: str = Field(min_length=1, max_length=64)
    status: SubscriptionStatus
    customer_id: str | None = Field(default=None, max_length=64)
    transaction_id: str | None = Field(default=None, max_length=64)  # only on subscription.created
    custom_data: dict[str, Any] | None = None
    items: list[_SubscriptionItem] = Field(default_factory=list)
    current_billing_period: BillingPeriod | None = None
    scheduled_change: ScheduledChange | None = None
    next_billed_at: AwareDatetime | None = None
    canceled_at: AwareDatetime | None = None
    paused_at: AwareDatetime | None = None

    @field_validator("custom_data", mode="before")
    @classmethod
    def _dict_or_none(cls, value: Any) -> Any:
        return value if isinstance(value, dict) else None

    @property
    def price_ids(self) -> list[str]:
        """Price ids of the subscription's items, in order."""
        return [item.price.id for item in self.items]


class TransactionData(_Lenient):
    """The fields of a `transaction.*` snapshot used to bind a subscription to the guild that checked out."""

    id: str = Field(min_length=1, max_length=64)
    status: str
    customer_id: str | None = None
    subscription_id: str | None = None
    custom_data: dict[str, Any] | None = None

    @field_validator("custom_data", mode="before")
    @classmethod
    def _dict_or_none(cls, value: Any) -> Any:
        return value if isinstance(value, dict) else None


def guild_id_from_custom_data(custom_data: dict[str, Any] | None) -> int | None:
    """The guild id the bot put in `custom_data` (a string snowflake); None when absent or not a snowflake."""
    if not custom_data:
        return None
    value = custom_data.get("guild_id")
    if isinstance(value, str) and value.isascii() and value.isdigit() and 1 <= len(value) <= 20:
        number = int(value)
        return number if 0 < number < 2**63 else None
    return None


def parse_payload(body: bytes, *, max_depth: int = MAX_JSON_DEPTH) -> dict[str, Any]:
    """The body as a JSON object; `ValueError` when it is not JSON, not an object, or nested deeper than
    `max_depth` (the C parser's own recursion guard stops absurd depths before they cost anything)."""
    try:
        payload = json.loads(body)
    except RecursionError:
        raise ValueError("JSON nested too deep") from None
    if not isinstance(payload, dict):
        raise ValueError("not a JSON object")
    # fewer brackets than the limit cannot nest deeper than it: the usual delivery skips the walk
    if body.count(b"{") + body.count(b"[") > max_depth and _deeper_than(payload, max_depth):
        raise ValueError("JSON nested too deep")
    return payload


def _deeper_than(root: dict[str, Any], limit: int) -> bool:
    """Whether any container sits more than `limit` levels down (the root is level 1); iterative, so a deep
    document cannot exhaust the stack."""
    stack: list[tuple[dict[str, Any] | list[Any], int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, dict | list):
                if depth >= limit:
                    return True
                stack.append((child, depth + 1))
    return False


def parse_time(value: str) -> datetime:
    """Parse an RFC 3339 timestamp as Paddle sends it (helper for tools and tests)."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
