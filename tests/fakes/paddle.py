"""A loopback fake of the two Paddle Billing API calls the bot makes, for the real `paddle-python-sdk` to talk to.

`POST /transactions` and `POST /customers/{customer_id}/portal-sessions`, answered with Paddle's own response
fixtures (`tests/data/paddle/python-sdk/api-responses`) adjusted to the request: a new `txn_…` id, the
request's items and `custom_data`, and a checkout URL carrying `?_ptxn=<id>` the way Paddle's default payment
link does. Errors use Paddle's error envelope. Point the SDK at it with `PADDLE_API_BASE_URL=<fake.url>`.
"""

from __future__ import annotations

import copy
import json
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

__all__ = ["API_KEY", "PAYMENT_LINK", "FakePaddle", "running_paddle"]

API_KEY = "pdl_sdbx_apikey_01fake_improvtestkey"
PAYMENT_LINK = "https://improv.example.test/pay"


@dataclass
class Recorded:
    """One request the fake received."""

    method: str
    path: str
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass
class FakePaddle:
    """State of the fake: templates, what it was asked, and an optional forced failure."""

    fixtures: Path
    requests: list[Recorded] = field(default_factory=list)
    fail_status: int | None = None  # answer every call with this Paddle error status
    url: str = ""

    def _template(self, name: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.fixtures / name).read_text())
        return data

    def _error(self, status: int, code: str, detail: str) -> web.Response:
        body = {
            "error": {
                "type": "request_error" if status < 500 else "api_error",
                "code": code,
                "detail": detail,
                "documentation_url": f"https://developer.paddle.com/v1/errors/shared/{code}",
            },
            "meta": {"request_id": secrets.token_hex(8)},
        }
        return web.json_response(body, status=status)

    async def _record(self, request: web.Request) -> tuple[dict[str, Any], web.Response | None]:
        raw = await request.read()
        body = json.loads(raw) if raw else {}
        self.requests.append(Recorded(request.method, request.path, body, dict(request.headers)))
        if request.headers.get("Authorization") != f"Bearer {API_KEY}":
            return body, self._error(403, "forbidden", "You aren't permitted to perform this request.")
        if self.fail_status is not None:
            return body, self._error(self.fail_status, "internal_error", "Forced failure from the fake.")
        return body, None

    async def create_transaction(self, request: web.Request) -> web.Response:
        body, error = await self._record(request)
        if error is not None:
            return error
        items = body.get("items")
        if not isinstance(items, list) or not items or not all(isinstance(i, dict) and "price_id" in i for i in items):
            return self._error(400, "bad_request", "items: at least one item with a price_id is required")
        response = copy.deepcopy(self._template("transaction_full_entity.json"))
        txn = "txn_" + secrets.token_hex(13)
        data = response["data"]
        data.update(
            id=txn,
            status="ready",
            custom_data=body.get("custom_data"),
            subscription_id=None,
            customer_id=None,
            address_id=None,
            invoice_id=None,
            invoice_number=None,
            checkout={"url": f"{PAYMENT_LINK}?_ptxn={txn}"},
        )
        template_item = data["items"][0]
        data["items"] = [
            {**copy.deepcopy(template_item), "price_id": i["price_id"], "quantity": i.get("quantity", 1)} for i in items
        ]
        return web.json_response(response, status=201)

    async def create_portal_session(self, request: web.Request) -> web.Response:
        body, error = await self._record(request)
        if error is not None:
            return error
        customer_id = request.match_info["customer_id"]
        response = copy.deepcopy(self._template("customer_portal_session_single.json"))
        data = response["data"]
        data["customer_id"] = customer_id
        data["id"] = "cpls_" + secrets.token_hex(13)
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
            for sub in body.get("subscription_ids", [])
        ]
        return web.json_response(response, status=201)


@asynccontextmanager
async def running_paddle(test_data: Path) -> AsyncIterator[FakePaddle]:
    """Serve a `FakePaddle` on 127.0.0.1 (an ephemeral port) for the block."""
    fake = FakePaddle(fixtures=test_data / "paddle" / "python-sdk" / "api-responses")
    app = web.Application()
    app.router.add_post("/transactions", fake.create_transaction)
    app.router.add_post("/customers/{customer_id}/portal-sessions", fake.create_portal_session)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    sockets = site._server.sockets if site._server is not None else []  # type: ignore[union-attr]
    port = sockets[0].getsockname()[1]
    fake.url = f"http://127.0.0.1:{port}"
    try:
        yield fake
    finally:
        await runner.cleanup()
