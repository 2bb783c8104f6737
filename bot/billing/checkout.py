"""Checkouts, plan changes and the customer portal through Paddle's official SDK (synchronous, so it runs in a
thread)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests
from paddle_billing import Client, Environment, Options
from paddle_billing.Entities.Shared import CustomData
from paddle_billing.Entities.Subscriptions import SubscriptionProrationBillingMode
from paddle_billing.Exceptions.ApiError import ApiError
from paddle_billing.Resources.CustomerPortalSessions.Operations import CreateCustomerPortalSession
from paddle_billing.Resources.Subscriptions.Operations import PreviewUpdateSubscription, UpdateSubscription
from paddle_billing.Resources.Subscriptions.Operations.Update import SubscriptionUpdateItem
from paddle_billing.Resources.Transactions.Operations import CreateTransaction
from paddle_billing.Resources.Transactions.Operations.Create import TransactionCreateItem
from paddle_billing.Undefined import Undefined

from bot.errors import UserFacingError

__all__ = ["DOWNGRADE_MODE", "UPGRADE_MODE", "ChangePreview", "PaddleGateway", "PaddleUnavailable", "format_money"]

log = logging.getLogger(__name__)

# Paddle changes a plan by replacing the subscription's items at once; the proration mode says what is billed when.
UPGRADE_MODE = "prorated_immediately"  # charge the difference for the rest of the period now
DOWNGRADE_MODE = "full_next_billing_period"  # nothing now, no refund; the lower price from the next renewal
_ZERO_DECIMAL = frozenset({"JPY", "KRW"})  # Paddle amounts are in the currency's minor unit
# Paddle error codes with a better explanation than "refused"
_REFUSALS = {
    "subscription_update_when_canceled": "This subscription has been canceled, so its plan can't change. Nothing "
    "was charged; once it has ended, `/billing upgrade` starts a new one.",
    "subscription_payment_declined": "The payment for the change was declined, so the plan did not change. Update "
    "the payment method with `/billing manage`, then try again.",
    "subscription_locked_renewal": "Paddle is renewing this subscription right now. Nothing was charged; try again "
    "in a few minutes.",
    "subscription_locked_processing": "Paddle is still processing the last change. Nothing was charged; try again "
    "in a few minutes.",
    "subscription_locked_pending_changes": "This subscription has a change scheduled (a cancellation or a pause), "
    "so its plan can't change now. Nothing was charged; open `/billing manage` to see it.",
}


def format_money(amount: str | int, currency: str) -> str:
    """`"1234", "USD"` → `"12.34 USD"` (Paddle sends amounts in the minor unit, as strings)."""
    value = int(amount)
    if currency in _ZERO_DECIMAL:
        return f"{value:,} {currency}"
    sign = "-" if value < 0 else ""
    return f"{sign}{abs(value) // 100:,}.{abs(value) % 100:02d} {currency}"


class PaddleUnavailable(UserFacingError):
    """Paddle could not be reached or refused the request; nothing was charged."""

    def __init__(
        self, message: str = "Paddle isn't answering right now. Nothing was charged; try again in a minute."
    ) -> None:
        super().__init__(message, title="Billing unavailable")


@dataclass(frozen=True, slots=True)
class _BaseUrl:
    """Stands in for `paddle_billing.Environment`: the SDK only reads `.base_url` from it."""

    base_url: str


@dataclass(frozen=True, slots=True)
class CreatedCheckout:
    """A transaction Paddle created for a checkout."""

    transaction_id: str
    url: str


@dataclass(frozen=True, slots=True)
class ChangePreview:
    """What Paddle says a plan change will bill (amounts in the minor unit, as Paddle sends them)."""

    currency: str
    due_now: int  # charged at once (0 when nothing is)
    credit_now: int  # credited for the unused part of the old plan
    next_billed_at: datetime | None
    next_amount: int | None  # the next renewal's total

    def describe(self) -> str:
        """One or two sentences for the user."""
        money = format_money
        if self.due_now > 0:
            text = f"**{money(self.due_now, self.currency)}** is charged now"
            text += (
                f" (the new plan for the rest of this period, less {money(self.credit_now, self.currency)} unused)."
                if self.credit_now
                else "."
            )
        elif self.due_now < 0 or self.credit_now:
            text = f"Nothing is charged now; {money(abs(self.due_now) or self.credit_now, self.currency)} is credited."
        else:
            text = "Nothing is charged now."
        if self.next_amount is not None and self.next_billed_at is not None:
            text += f" From {self.next_billed_at:%Y-%m-%d}: {money(self.next_amount, self.currency)} each period."
        return text


class PaddleGateway:
    """The Paddle API calls the bot makes; one SDK client for the process, calls serialised in a thread."""

    def __init__(
        self, api_key: str, *, environment: str = "sandbox", base_url: str | None = None, timeout: float = 15
    ) -> None:
        env: Any = _BaseUrl(base_url.rstrip("/")) if base_url else Environment(environment)
        quiet = logging.getLogger("bot.billing.paddle_sdk")  # the SDK logs every failure at ERROR; we log our own
        quiet.propagate = False
        quiet.addHandler(logging.NullHandler())
        self._client = Client(api_key, options=Options(env), timeout=timeout, retry_count=2, logger=quiet)
        self._lock = asyncio.Lock()  # the SDK's requests session and headers are not thread-safe

    def close(self) -> None:
        """Close the SDK's HTTP session."""
        self._client.client.close()

    async def _call(self, what: str, fn: Any, *args: Any) -> Any:
        async with self._lock:
            try:
                return await asyncio.to_thread(fn, *args)
            except ApiError as exc:
                log.warning("paddle %s refused: %s %s", what, exc.error_code, exc.detail)
                if exc.response is not None and exc.response.status_code >= 500:
                    raise PaddleUnavailable() from None
                if exc.error_code in _REFUSALS:
                    raise PaddleUnavailable(_REFUSALS[exc.error_code]) from None
                raise PaddleUnavailable(
                    "Paddle refused the request (" + str(exc.error_code) + "). Nothing was charged; the bot owner "
                    "has been told in the logs."
                ) from None
            except requests.RequestException as exc:
                log.warning("paddle %s failed: %s", what, type(exc).__name__)
                raise PaddleUnavailable() from None

    async def create_checkout(self, guild_id: int, price_id: str) -> CreatedCheckout:
        """Create a transaction for one `price_id` with the guild in `custom_data`; its checkout URL pays for it."""
        operation = CreateTransaction(
            items=[TransactionCreateItem(price_id=price_id, quantity=1)],
            custom_data=CustomData({"guild_id": str(guild_id)}),
        )
        transaction = await self._call("transactions.create", self._client.transactions.create, operation)
        url = transaction.checkout.url if transaction.checkout is not None else None
        if not url:
            log.error("paddle transaction %s has no checkout URL: set a default payment link", transaction.id)
            raise PaddleUnavailable("Checkout isn't set up yet on this bot's Paddle account. Nothing was charged.")
        return CreatedCheckout(transaction_id=str(transaction.id), url=str(url))

    async def portal_url(self, customer_id: str, subscription_id: str | None) -> str:
        """A fresh (temporary) customer-portal link; never cache it."""
        operation = CreateCustomerPortalSession(subscription_ids=[subscription_id] if subscription_id else Undefined())
        session = await self._call(
            "customer_portal_sessions.create", self._client.customer_portal_sessions.create, customer_id, operation
        )
        return str(session.urls.general.overview)

    @staticmethod
    def _items_change(price_id: str, mode: str) -> dict[str, Any]:
        return {
            "items": [SubscriptionUpdateItem(price_id=price_id, quantity=1)],
            "proration_billing_mode": SubscriptionProrationBillingMode(mode),
        }

    async def preview_change(self, subscription_id: str, price_id: str, mode: str) -> ChangePreview:
        """What replacing the subscription's items with `price_id` under proration `mode` would bill."""
        operation = PreviewUpdateSubscription(**self._items_change(price_id, mode))
        preview = await self._call(
            "subscriptions.preview_update", self._client.subscriptions.preview_update, subscription_id, operation
        )
        currency = str(preview.currency_code.value)
        due = credit = 0
        summary = preview.update_summary
        if summary is not None:
            amount = int(summary.result.amount)
            due = amount if summary.result.action.value == "charge" else -amount
            credit = int(summary.credit.amount)
        if preview.immediate_transaction is None and due > 0:
            due = 0  # billed later (a `*_next_billing_period` mode), not now
        upcoming = preview.next_transaction
        return ChangePreview(
            currency=currency,
            due_now=due,
            credit_now=credit,
            next_billed_at=preview.next_billed_at,
            next_amount=int(upcoming.details.totals.grand_total or upcoming.details.totals.total)
            if upcoming is not None
            else None,
        )

    async def change_plan(self, subscription_id: str, price_id: str, mode: str) -> None:
        """Replace the subscription's items with `price_id` (Paddle bills per `mode`; the webhook follows)."""
        operation = UpdateSubscription(**self._items_change(price_id, mode))
        await self._call("subscriptions.update", self._client.subscriptions.update, subscription_id, operation)
