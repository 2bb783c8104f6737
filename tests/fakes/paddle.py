"""A loopback fake of the Paddle Billing API calls the bot makes, for the real `paddle-python-sdk` to talk to.

`POST /transactions`, `POST /customers/{customer_id}/portal-sessions`, `GET|PATCH /subscriptions/{id}` and
`PATCH /subscriptions/{id}/preview`, answered with entities shaped by Paddle's OpenAPI spec (the vendored part is
`tests/fakes/specs/paddle-openapi-subset.json`; `tests/billing/test_fake_paddle.py` validates every answer against
it and parses it with the SDK's models). Like Paddle:

- a new transaction has no customer or address yet, so it is `draft`; its `checkout.url` is the account's default
  payment link + `?_ptxn=<id>` (`default_payment_link`; tests may pass the web site's `<base>/pay`);
- prices must exist (`prices`); changing a subscription's items needs a valid `proration_billing_mode`, and a
  canceled subscription can't be updated; refusals use Paddle's error envelope and codes;
- a plan change replaces the subscription's items at once whatever the proration mode: the mode only says what is
  billed when (`prorated_immediately` collects the difference now, `full_next_billing_period` bills the new price
  from the next renewal).

What the buyer does in the browser is `complete_checkout` (pays a draft transaction: a customer, a completed
transaction and a new subscription). Everything Paddle would notify is appended to `notifications` as a webhook
envelope, for the test to sign and post. Point the SDK at the fake with `PADDLE_API_BASE_URL=<fake.url>`.
"""

from __future__ import annotations

import copy
import json
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.fakes.loopback import serve_loopback
from tests.fakes.paddle_entities import (
    ID_PATTERN,
    PAYMENT_METHODS,
    PERIOD,
    PRORATION_MODES,
    FakePrice,
    adjusted_totals,
    fixed_id,
    money,
    paddle_id,
    totals,
    transaction,
    transaction_totals,
    ts,
)

__all__ = ["API_KEY", "PAYMENT_LINK", "PAYMENT_METHODS", "FakePaddle", "FakePrice", "fixed_id", "running_paddle"]

API_KEY = "pdl_sdbx_apikey_01fake_improvtestkey"
PAYMENT_LINK = "https://improv.example.test/pay"


@dataclass
class Recorded:
    """One request the fake received."""

    method: str
    path: str
    body: dict[str, Any]
    headers: dict[str, str]


class Refused(Exception):
    """A request Paddle refuses: its HTTP status and Paddle's error code, detail and field errors."""

    def __init__(self, status: int, code: str, detail: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.errors = status, code, detail, errors


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class FakePaddle:
    """State of the fake: the catalogue, what exists, what it was asked, what it would notify."""

    fixtures: Path
    prices: dict[str, FakePrice]
    default_payment_link: str = PAYMENT_LINK
    requests: list[Recorded] = field(default_factory=list)
    fail_status: int | None = None  # answer every call with this Paddle error status
    decline_payments: bool = False  # the saved payment method is declined (a change charging now is refused)
    url: str = ""
    transactions: dict[str, dict[str, Any]] = field(default_factory=dict)
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    notifications: list[dict[str, Any]] = field(default_factory=list)  # webhook envelopes, oldest first
    clock: Callable[[], datetime] = _utcnow
    catalogue_created: str = "2024-01-01T00:00:00.000000Z"

    def __post_init__(self) -> None:
        bad = [p for p in self.prices if not ID_PATTERN.fullmatch(p) or not p.startswith("pri_")]
        bad += [p.product_id for p in self.prices.values() if not ID_PATTERN.fullmatch(p.product_id)]
        if bad:
            raise ValueError(f"not Paddle ids (prefix_ + 26 of [a-z0-9]): {bad}")

    # --- answers ---------------------------------------------------------------------------------------
    @staticmethod
    def error_body(status: int, code: str, detail: str, errors: list[dict[str, str]] | None = None) -> dict[str, Any]:
        """Paddle's error envelope."""
        error: dict[str, Any] = {
            "type": "request_error" if status < 500 else "api_error",
            "code": code,
            "detail": detail,
            "documentation_url": f"https://developer.paddle.com/errors/shared/{code}",
        }
        if errors:
            error["errors"] = errors
        return {"error": error, "meta": {"request_id": secrets.token_hex(16)}}

    def _answer(self, data: dict[str, Any], status: int = 200) -> web.Response:
        return web.json_response({"data": data, "meta": {"request_id": secrets.token_hex(16)}}, status=status)

    async def _handle(
        self, request: web.Request, action: Callable[[dict[str, Any]], tuple[dict[str, Any], int]]
    ) -> web.Response:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = None
        self.requests.append(Recorded(request.method, request.path, body or {}, dict(request.headers)))
        try:
            if request.headers.get("Authorization") != f"Bearer {API_KEY}":
                raise Refused(403, "forbidden", "You aren't permitted to perform this request.")
            if self.fail_status is not None:
                raise Refused(self.fail_status, "internal_error", "Forced failure from the fake.")
            if not isinstance(body, dict):
                raise Refused(
                    400, "bad_request", "Invalid request.", [{"field": "(root)", "message": "must be an object"}]
                )
            data, status = action(body)
        except Refused as exc:
            return web.json_response(self.error_body(exc.status, exc.code, exc.detail, exc.errors), status=exc.status)
        return self._answer(data, status)

    def _price(self, price_id: Any, field_name: str) -> FakePrice:
        if not isinstance(price_id, str) or not price_id.startswith("pri_") or not ID_PATTERN.fullmatch(price_id):
            raise Refused(
                400, "bad_request", "Invalid request.", [{"field": field_name, "message": "must be a price id"}]
            )
        price = self.prices.get(price_id)
        if price is None:
            raise Refused(404, "not_found", f"Entity {price_id} not found")
        return price

    def _items(self, body: dict[str, Any]) -> list[tuple[str, int]]:
        items = body.get("items")
        if not isinstance(items, list) or not 1 <= len(items) <= 100:
            raise Refused(400, "bad_request", "Invalid request.", [{"field": "items", "message": "1 to 100 items"}])
        out: list[tuple[str, int]] = []
        for n, item in enumerate(items):
            if not isinstance(item, dict):
                raise Refused(400, "bad_request", "Invalid request.", [{"field": f"items[{n}]", "message": "object"}])
            self._price(item.get("price_id"), f"items[{n}].price_id")
            quantity = item.get("quantity", 1)
            if not isinstance(quantity, int) or quantity < 1:
                raise Refused(
                    400, "bad_request", "Invalid request.", [{"field": f"items[{n}].quantity", "message": ">= 1"}]
                )
            out.append((item["price_id"], quantity))
        return out

    # --- transactions -----------------------------------------------------------------------------------
    def _line(self, price_id: str, quantity: int, amount: int, proration: dict[str, Any] | None) -> dict[str, Any]:
        price = self.prices[price_id]
        return {
            "price_id": price_id,
            "quantity": quantity,
            "proration": proration,
            "tax_rate": "0",
            "unit_totals": totals(price.amount),
            "totals": totals(amount),
            "product": price.product(self.catalogue_created),
        }

    def _create_transaction(self, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
        items = self._items(body)
        custom_data = body.get("custom_data")
        if custom_data is not None and not isinstance(custom_data, dict):
            raise Refused(400, "bad_request", "Invalid request.", [{"field": "custom_data", "message": "object"}])
        currency = self.prices[items[0][0]].currency
        now = ts(self.clock())
        txn = paddle_id("txn")
        lines = [self._line(pid, q, self.prices[pid].amount * q, None) for pid, q in items]
        total = sum(int(line["totals"]["total"]) for line in lines)
        data = transaction(
            txn,
            now=now,
            lines=[(pid, q, self.prices[pid]) for pid, q in items],
            details={
                "tax_rates_used": [{"tax_rate": "0", "totals": totals(total)}],
                "totals": transaction_totals(total, currency),
                "adjusted_totals": adjusted_totals(total, currency),
                "payout_totals": None,
                "adjusted_payout_totals": None,
                "line_items": [{"id": paddle_id("txnitm"), **line} for line in lines],
            },
            currency=currency,
            custom_data=custom_data,
            checkout_url=f"{self.default_payment_link}?_ptxn={txn}",
            catalogue_created=self.catalogue_created,
        )
        self.transactions[txn] = data
        return copy.deepcopy(data), 201

    def _notify(self, event_type: str, data: dict[str, Any]) -> None:
        """Queue the webhook Paddle sends; subscription snapshots leave out the temporary `management_urls`."""
        if event_type.startswith("subscription."):
            data = {k: v for k, v in data.items() if k != "management_urls"}
        self.notifications.append(
            {
                "event_id": paddle_id("evt"),
                "event_type": event_type,
                "occurred_at": ts(self.clock()),
                "notification_id": paddle_id("ntf"),
                "data": copy.deepcopy(data),
            }
        )

    def _pay(self, txn: dict[str, Any], customer_id: str, address_id: str) -> None:
        now = ts(self.clock())
        txn.update(
            status="completed",
            customer_id=customer_id,
            address_id=address_id,
            billed_at=now,
            updated_at=now,
            payments=[
                {
                    "payment_attempt_id": secrets.token_hex(16),
                    "stored_payment_method_id": secrets.token_hex(16),
                    "payment_method_id": paddle_id("paymtd"),
                    "amount": txn["details"]["totals"]["grand_total"],
                    "status": "captured",
                    "error_code": None,
                    "method_details": {
                        "type": "card",
                        "card": {
                            "type": "visa",
                            "last4": "4242",
                            "expiry_month": 12,
                            "expiry_year": 2030,
                            "cardholder_name": "Sam Sample",
                        },
                    },
                    "created_at": now,
                    "captured_at": now,
                }
            ],
        )

    def complete_checkout(self, transaction_id: str, *, customer_id: str | None = None) -> dict[str, Any]:
        """What the buyer's payment on the checkout does: the draft transaction gets a customer and an address
        and is completed, and a subscription is created from it (its `custom_data` copied). Paddle notifies
        `transaction.completed` and `subscription.created`. Returns the subscription."""
        txn = self.transactions[transaction_id]
        if txn["status"] != "draft":
            raise ValueError(f"{transaction_id} is {txn['status']}, not a checkout waiting for payment")
        now = self.clock()
        customer = customer_id or paddle_id("ctm")
        address = paddle_id("add")
        sub_id = paddle_id("sub")
        period = {"starts_at": ts(now), "ends_at": ts(now + PERIOD)}
        self._pay(txn, customer, address)
        txn.update(subscription_id=sub_id, billing_period=period)
        sub = {
            "id": sub_id,
            "status": "active",
            "customer_id": customer,
            "address_id": address,
            "business_id": None,
            "currency_code": txn["currency_code"],
            "created_at": ts(now),
            "updated_at": ts(now),
            "started_at": ts(now),
            "first_billed_at": ts(now),
            "next_billed_at": period["ends_at"],
            "paused_at": None,
            "canceled_at": None,
            "discount": None,
            "collection_mode": "automatic",
            "billing_details": None,
            "current_billing_period": period,
            "billing_cycle": {"interval": "month", "frequency": 1},
            "scheduled_change": None,
            "management_urls": {
                "update_payment_method": f"https://sandbox-customer-portal.paddle.com/cpl_fake?action=update&subscription_id={sub_id}",
                "cancel": f"https://sandbox-customer-portal.paddle.com/cpl_fake?action=cancel&subscription_id={sub_id}",
            },
            "items": [self._sub_item(i["price"]["id"], i["quantity"], now, period) for i in txn["items"]],
            "custom_data": copy.deepcopy(txn["custom_data"]),
            "import_meta": None,
        }
        self.subscriptions[sub_id] = sub
        self._notify("transaction.completed", txn)
        self._notify("subscription.created", {**sub, "transaction_id": transaction_id})
        return copy.deepcopy(sub)

    def cancel_now(self, subscription_id: str) -> dict[str, Any]:
        """Cancel a subscription at once (as the portal or the dashboard can); notifies `subscription.canceled`."""
        sub = self.subscriptions[subscription_id]
        now = ts(self.clock())
        sub.update(
            status="canceled",
            canceled_at=now,
            updated_at=now,
            current_billing_period=None,
            next_billed_at=None,
            management_urls=None,
        )
        for item in sub["items"]:
            item["status"] = "inactive"
        self._notify("subscription.canceled", sub)
        return copy.deepcopy(sub)

    def _sub_item(self, price_id: str, quantity: int, now: datetime, period: dict[str, str]) -> dict[str, Any]:
        price = self.prices[price_id]
        return {
            "status": "active",
            "quantity": quantity,
            "recurring": True,
            "created_at": ts(now),
            "updated_at": ts(now),
            "previously_billed_at": ts(now),
            "next_billed_at": period["ends_at"],
            "trial_dates": None,
            "price": price.price(price_id, self.catalogue_created),
            "product": price.product(self.catalogue_created),
        }

    # --- subscriptions ----------------------------------------------------------------------------------
    def _subscription(self, subscription_id: str) -> dict[str, Any]:
        sub = self.subscriptions.get(subscription_id)
        if sub is None:
            raise Refused(404, "not_found", f"Entity {subscription_id} not found")
        return sub

    def _get_subscription(self, subscription_id: str) -> tuple[dict[str, Any], int]:
        return copy.deepcopy(self._subscription(subscription_id)), 200

    def _change(self, subscription_id: str, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Validate an items change; the updated subscription (a copy) and the preview's billing fields."""
        sub = self._subscription(subscription_id)
        unknown = sorted(set(body) - {"items", "proration_billing_mode", "custom_data"})
        if unknown:
            raise Refused(
                400,
                "bad_request",
                "Invalid request.",
                [{"field": f, "message": "not supported by this fake"} for f in unknown],
            )
        if sub["status"] == "canceled":
            raise Refused(
                400, "subscription_update_when_canceled", "cannot update subscription, as subscription is canceled"
            )
        items = self._items(body)
        mode = body.get("proration_billing_mode")
        if mode not in PRORATION_MODES:
            message = (
                "is required when changing items" if mode is None else f"must be one of {', '.join(PRORATION_MODES)}"
            )
            raise Refused(
                400, "bad_request", "Invalid request.", [{"field": "proration_billing_mode", "message": message}]
            )
        currencies = {self.prices[pid].currency for pid, _ in items}
        if currencies != {sub["currency_code"]}:
            raise Refused(
                400,
                "bad_request",
                "Invalid request.",
                [{"field": "items", "message": "prices must be in the subscription's currency"}],
            )
        now = self.clock()
        period = sub["current_billing_period"]
        starts = datetime.fromisoformat(period["starts_at"].replace("Z", "+00:00"))
        ends = datetime.fromisoformat(period["ends_at"].replace("Z", "+00:00"))
        rate = max(0.0, min(1.0, (ends - now) / (ends - starts)))
        old = {i["price"]["id"]: i["quantity"] for i in sub["items"]}
        new = dict(items)
        currency = sub["currency_code"]
        old_amount = sum(self.prices[p].amount * q for p, q in old.items() if p in self.prices)
        new_amount = sum(self.prices[p].amount * q for p, q in new.items())
        prorated = mode.startswith("prorated")
        charge = round(new_amount * rate) if prorated else (new_amount if mode == "full_immediately" else 0)
        credit = round(old_amount * rate) if prorated else 0
        updated = copy.deepcopy(sub)
        updated["items"] = [
            next((copy.deepcopy(i) for i in sub["items"] if i["price"]["id"] == pid and i["quantity"] == q), None)
            or self._sub_item(pid, q, now, period)
            for pid, q in items
        ]
        updated["updated_at"] = ts(now)
        if "custom_data" in body:
            updated["custom_data"] = body["custom_data"]
        proration = {"rate": f"{rate:.5f}", "billing_period": period} if prorated else None
        immediate = None
        if mode in ("prorated_immediately", "full_immediately") and charge - credit != 0:
            lines = [self._line(p, q, charge, proration) for p, q in items]
            immediate = self._next_transaction(period, lines, charge - credit, currency, credit)
        recurring_lines = [self._line(p, q, self.prices[p].amount * q, None) for p, q in items]
        next_period = {"starts_at": period["ends_at"], "ends_at": ts(ends + PERIOD)}
        pending = charge - credit if mode == "prorated_next_billing_period" else 0
        billing = {
            "immediate_transaction": immediate,
            "next_transaction": self._next_transaction(next_period, recurring_lines, new_amount + pending, currency, 0),
            "recurring_transaction_details": self._details(recurring_lines, new_amount, currency),
            "update_summary": (
                None
                if mode in ("full_next_billing_period", "do_not_bill")
                else {
                    "credit": money(credit, currency),
                    "charge": money(charge, currency),
                    "result": {
                        "action": "charge" if charge >= credit else "credit",
                        "amount": str(abs(charge - credit)),
                        "currency_code": currency,
                    },
                }
            ),
        }
        return updated, billing

    def _details(self, lines: list[dict[str, Any]], total: int, currency: str) -> dict[str, Any]:
        return {
            "tax_rates_used": [{"tax_rate": "0", "totals": totals(total)}],
            "totals": transaction_totals(total, currency),
            "line_items": lines,
        }

    def _next_transaction(
        self,
        period: dict[str, str],
        lines: list[dict[str, Any]],
        total: int,
        currency: str,
        credit: int,
    ) -> dict[str, Any]:
        details = self._details(lines, max(total, 0), currency)
        details["totals"]["credit"] = str(credit)
        return {"billing_period": period, "details": details, "adjustments": []}

    def _preview(self, subscription_id: str, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
        updated, billing = self._change(subscription_id, body)
        preview = {k: v for k, v in updated.items() if k != "id"}
        preview.update(billing)
        preview["consent_requirements"] = []
        return preview, 200

    def _update(self, subscription_id: str, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
        updated, billing = self._change(subscription_id, body)
        immediate = billing["immediate_transaction"]
        if immediate is not None and self.decline_payments:  # on_payment_failure defaults to prevent_change
            raise Refused(400, "subscription_payment_declined", "payment declined")
        self.subscriptions[subscription_id] = updated
        if immediate is not None:  # Paddle collects the difference from the saved payment method now
            amount = int(immediate["details"]["totals"]["total"])
            txn = transaction(
                paddle_id("txn"),
                now=ts(self.clock()),
                lines=[(i["price"]["id"], i["quantity"], self.prices[i["price"]["id"]]) for i in updated["items"]],
                details={
                    **immediate["details"],
                    "adjusted_totals": adjusted_totals(amount, updated["currency_code"]),
                    "payout_totals": None,
                    "adjusted_payout_totals": None,
                },
                currency=updated["currency_code"],
                origin="subscription_update",
                custom_data=updated["custom_data"],
                subscription_id=subscription_id,
                billing_period=immediate["billing_period"],
                catalogue_created=self.catalogue_created,
            )
            self._pay(txn, updated["customer_id"], updated["address_id"])
            self.transactions[txn["id"]] = txn
            self._notify("transaction.completed", txn)
        self._notify("subscription.updated", updated)
        return copy.deepcopy(updated), 200

    # --- customer portal --------------------------------------------------------------------------------
    def _portal_session(self, customer_id: str, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
        subscription_ids = body.get("subscription_ids", [])
        for sub in subscription_ids:
            if self._subscription(sub)["customer_id"] != customer_id:
                raise Refused(
                    400,
                    "bad_request",
                    "Invalid request.",
                    [{"field": "subscription_ids", "message": f"{sub} belongs to another customer"}],
                )
        response = json.loads((self.fixtures / "customer_portal_session_single.json").read_text())
        data: dict[str, Any] = response["data"]
        data["customer_id"] = customer_id
        data["id"] = paddle_id("cpls")
        data["created_at"] = ts(self.clock())
        token = secrets.token_hex(8)
        data["urls"]["general"]["overview"] = (
            f"https://customer-portal.paddle.com/cpl_fake?action=overview&token={token}"
        )
        data["urls"]["subscriptions"] = [
            {
                "id": sub,
                "cancel_subscription": f"https://customer-portal.paddle.com/cpl_fake?action=cancel_subscription&subscription_id={sub}",
                "update_subscription_payment_method": f"https://customer-portal.paddle.com/cpl_fake?action=update_subscription_payment_method&subscription_id={sub}",
            }
            for sub in subscription_ids
        ]
        return data, 201

    def app(self) -> web.Application:
        """The aiohttp application serving the fake's routes."""

        def route(action: Callable[..., tuple[dict[str, Any], int]], *keys: str) -> Any:
            async def handler(request: web.Request) -> web.Response:
                args = [request.match_info[k] for k in keys]
                return await self._handle(request, lambda body: action(*args, body) if keys else action(body))

            return handler

        async def get_subscription(request: web.Request) -> web.Response:
            sid = request.match_info["subscription_id"]
            return await self._handle(request, lambda _body: self._get_subscription(sid))

        app = web.Application()
        app.router.add_post("/transactions", route(self._create_transaction))
        app.router.add_post("/customers/{customer_id}/portal-sessions", route(self._portal_session, "customer_id"))
        app.router.add_get("/subscriptions/{subscription_id}", get_subscription)
        app.router.add_patch("/subscriptions/{subscription_id}", route(self._update, "subscription_id"))
        app.router.add_patch("/subscriptions/{subscription_id}/preview", route(self._preview, "subscription_id"))
        return app


@asynccontextmanager
async def running_paddle(
    test_data: Path, prices: dict[str, FakePrice], *, default_payment_link: str = PAYMENT_LINK
) -> AsyncIterator[FakePaddle]:
    """Serve a `FakePaddle` selling `prices` on 127.0.0.1 (an ephemeral port) for the block."""
    fake = FakePaddle(
        fixtures=test_data / "paddle" / "python-sdk" / "api-responses",
        prices=prices,
        default_payment_link=default_payment_link,
    )
    runner, port = await serve_loopback(fake.app())
    fake.url = f"http://127.0.0.1:{port}"
    try:
        yield fake
    finally:
        await runner.cleanup()
