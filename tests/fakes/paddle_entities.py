"""Paddle's entities as its OpenAPI spec shapes them (prices, products, totals, transactions), for the fake Paddle
in `tests/fakes/paddle.py`."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = [
    "ID_PATTERN",
    "PAYMENT_METHODS",
    "PERIOD",
    "PRORATION_MODES",
    "FakePrice",
    "adjusted_totals",
    "fixed_id",
    "money",
    "paddle_id",
    "totals",
    "transaction",
    "transaction_totals",
    "ts",
]

PRORATION_MODES = (
    "prorated_immediately",
    "prorated_next_billing_period",
    "full_immediately",
    "full_next_billing_period",
    "do_not_bill",
)
# `payment_method_type` in Paddle's spec (what a checkout may offer)
PAYMENT_METHODS = ("alipay", "apple_pay", "bancontact", "card", "google_pay", "ideal", "korea_local", "paypal")
PERIOD = timedelta(days=30)
ID_PATTERN = re.compile(r"[a-z]{3,6}_[a-z\d]{26}")


def paddle_id(prefix: str) -> str:
    """A Paddle-style id (`txn_…`, 26 characters after the prefix)."""
    return f"{prefix}_01" + secrets.token_hex(12)


def fixed_id(prefix: str, name: str) -> str:
    """A readable Paddle id for tests: `fixed_id("pri", "gm")` is `pri_01gm000…` (26 characters after `_`)."""
    return f"{prefix}_01{name}".ljust(len(prefix) + 27, "0")


def ts(value: datetime) -> str:
    """RFC 3339 with microseconds and `Z`, as Paddle writes times."""
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def money(amount: int, currency: str) -> dict[str, str]:
    return {"amount": str(amount), "currency_code": currency}


def totals(amount: int) -> dict[str, str]:
    return {"subtotal": str(amount), "discount": "0", "tax": "0", "total": str(amount)}


def transaction_totals(amount: int, currency: str) -> dict[str, Any]:
    return {
        **totals(amount),
        "grand_total": str(amount),
        "grand_total_tax": "0",  # newer than the vendored spec; the SDK requires it
        "fee": None,
        "credit": "0",
        "credit_to_balance": "0",
        "balance": str(amount),
        "earnings": None,
        "currency_code": currency,
    }


def adjusted_totals(amount: int, currency: str) -> dict[str, Any]:
    return {
        "subtotal": str(amount),
        "tax": "0",
        "total": str(amount),
        "grand_total": str(amount),
        "grand_total_tax": "0",
        "fee": None,
        "earnings": None,
        "retained_fee": "0",
        "currency_code": currency,
    }


@dataclass(frozen=True, slots=True)
class FakePrice:
    """A monthly recurring price of the seller's catalogue."""

    name: str
    amount: int  # in the currency's minor unit (cents)
    currency: str = "USD"
    product_id: str = "pro_01improvpanicbutton0000000"  # = fixed_id("pro", "improvpanicbutton")
    product_name: str = "Improv Panic Button"

    def product(self, created: str) -> dict[str, Any]:
        """Paddle's product entity."""
        return {
            "id": self.product_id,
            "name": self.product_name,
            "description": None,
            "type": "standard",
            "tax_category": "standard",
            "image_url": None,
            "custom_data": None,
            "status": "active",
            "import_meta": None,
            "created_at": created,
            "updated_at": created,
        }

    def price(self, price_id: str, created: str) -> dict[str, Any]:
        """Paddle's price entity."""
        return {
            "id": price_id,
            "product_id": self.product_id,
            "description": self.name,
            "type": "standard",
            "name": self.name,
            "billing_cycle": {"interval": "month", "frequency": 1},
            "trial_period": None,
            "tax_mode": "account_setting",
            "unit_price": money(self.amount, self.currency),
            "unit_price_overrides": [],
            "quantity": {"minimum": 1, "maximum": 1},
            "status": "active",
            "custom_data": None,
            "import_meta": None,
            "created_at": created,
            "updated_at": created,
        }


def transaction(
    txn_id: str,
    *,
    now: str,
    lines: list[tuple[str, int, FakePrice]],
    details: dict[str, Any],
    currency: str,
    origin: str = "api",
    custom_data: dict[str, Any] | None = None,
    subscription_id: str | None = None,
    customer_id: str | None = None,
    address_id: str | None = None,
    billing_period: dict[str, str] | None = None,
    checkout_url: str | None = None,
    catalogue_created: str,
) -> dict[str, Any]:
    """Paddle's transaction entity; `draft` (no customer or address yet) until paid. `lines`: (price id,
    quantity, price)."""
    return {
        "id": txn_id,
        "status": "draft",
        "customer_id": customer_id,
        "address_id": address_id,
        "business_id": None,
        "custom_data": custom_data,
        "origin": origin,
        "collection_mode": "automatic",
        "subscription_id": subscription_id,
        "invoice_id": None,
        "invoice_number": None,
        "billing_details": None,
        "billing_period": billing_period,
        "currency_code": currency,
        "discount_id": None,
        "created_at": now,
        "updated_at": now,
        "billed_at": None,
        "revised_at": None,
        "items": [
            {"price": price.price(pid, catalogue_created), "quantity": q, "proration": None} for pid, q, price in lines
        ],
        "details": details,
        "payments": [],
        "checkout": {"url": checkout_url} if checkout_url else None,
        "available_payment_methods": list(PAYMENT_METHODS),
    }
