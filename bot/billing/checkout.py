"""Checkouts and the customer portal through Paddle's official SDK (synchronous, so it runs in a thread)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import requests
from paddle_billing import Client, Environment, Options
from paddle_billing.Entities.Shared import CustomData
from paddle_billing.Exceptions.ApiError import ApiError
from paddle_billing.Resources.CustomerPortalSessions.Operations import CreateCustomerPortalSession
from paddle_billing.Resources.Transactions.Operations import CreateTransaction
from paddle_billing.Resources.Transactions.Operations.Create import TransactionCreateItem
from paddle_billing.Undefined import Undefined

from bot.errors import UserFacingError

__all__ = ["PaddleGateway", "PaddleUnavailable"]

log = logging.getLogger(__name__)


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


class PaddleGateway:
    """The two Paddle API calls the bot makes; one SDK client for the process, calls serialised in a thread."""

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
