"""The fake Paddle answers as Paddle's OpenAPI spec says (vendored in `tests/fakes/specs/`), its answers parse with
the official SDK's models, and it refuses what Paddle refuses, with Paddle's error envelope."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import ClientSession
from jsonschema import Draft202012Validator
from paddle_billing.Entities.CustomerPortalSession import CustomerPortalSession
from paddle_billing.Entities.Event import Event
from paddle_billing.Entities.Subscription import Subscription
from paddle_billing.Entities.SubscriptionPreview import SubscriptionPreview
from paddle_billing.Entities.Transaction import Transaction
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.fakes.paddle import API_KEY, PAYMENT_METHODS, FakePaddle, FakePrice, fixed_id, running_paddle

SPEC_PATH = Path(__file__).parents[1] / "fakes" / "specs" / "paddle-openapi-subset.json"
SPEC: dict[str, Any] = json.loads(SPEC_PATH.read_text())
SPEC_URI = "urn:paddle-openapi"
REGISTRY = Registry().with_resource(SPEC_URI, Resource(contents=SPEC, specification=DRAFT202012))
BASIC, PRO = fixed_id("pri", "basic"), fixed_id("pri", "pro")
PRICES = {BASIC: FakePrice("Basic", 500), PRO: FakePrice("Pro", 1500)}
SDK_MODELS: dict[tuple[str, str], Any] = {
    ("post", "/transactions"): Transaction,
    ("post", "/customers/{customer_id}/portal-sessions"): CustomerPortalSession,
    ("get", "/subscriptions/{subscription_id}"): Subscription,
    ("patch", "/subscriptions/{subscription_id}"): Subscription,
    ("patch", "/subscriptions/{subscription_id}/preview"): SubscriptionPreview,
}


def _schema_for(method: str, path: str, status: int) -> dict[str, Any]:
    responses = SPEC["paths"][path][method]["responses"]
    answer = responses.get(str(status)) or responses["default"]
    if "$ref" in answer:
        answer = SPEC["components"]["responses"][answer["$ref"].rsplit("/", 1)[1]]
    schema: dict[str, Any] = answer["content"]["application/json"]["schema"]
    return schema


def validate(method: str, path: str, status: int, body: dict[str, Any]) -> None:
    """Check `body` against the spec's schema for that operation and status (errors: the error schema)."""
    schema = json.loads(json.dumps(_schema_for(method, path, status)).replace('"#/', f'"{SPEC_URI}#/'))
    errors = sorted(Draft202012Validator(schema, registry=REGISTRY).iter_errors(body), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message[:300]}" for e in errors[:10])


def validate_notification(envelope: dict[str, Any]) -> None:
    """Check a webhook envelope against the spec's schema for its event type, and parse it with the SDK."""
    schema = {"$ref": f"{SPEC_URI}#/components/schemas/{envelope['event_type']}"}
    errors = list(Draft202012Validator(schema, registry=REGISTRY).iter_errors(envelope))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message[:300]}" for e in errors[:10])
    Event.from_dict(envelope)


@dataclass
class Api:
    """Raw HTTP to the fake, every answer validated against the spec and (when 2xx) parsed by the SDK."""

    fake: FakePaddle
    http: ClientSession

    async def call(
        self, method: str, template: str, body: dict[str, Any] | None = None, **ids: str
    ) -> tuple[int, dict[str, Any]]:
        path = template.format(**ids)
        async with self.http.request(
            method.upper(), self.fake.url + path, json=body, headers={"Authorization": f"Bearer {API_KEY}"}
        ) as resp:
            status, answer = resp.status, await resp.json()
        validate(method, template, status, answer)
        if status < 300:
            SDK_MODELS[(method, template)].from_dict(answer["data"])
        return status, answer


@pytest_asyncio.fixture(loop_scope="session")
async def api(test_data: Path) -> AsyncIterator[Api]:
    async with running_paddle(test_data, PRICES) as fake, ClientSession() as http:
        yield Api(fake, http)


async def _subscribed(api: Api, price: str = BASIC) -> str:
    _, created = await api.call("post", "/transactions", {"items": [{"price_id": price, "quantity": 1}]})
    return str(api.fake.complete_checkout(created["data"]["id"])["id"])


def test_the_vendored_spec_is_a_valid_openapi_document() -> None:
    assert SPEC["openapi"].startswith("3.1")
    for path, methods in SPEC["paths"].items():
        for method in methods:
            Draft202012Validator.check_schema(_schema_for(method, path, 200))


async def test_a_new_transaction_is_a_draft_with_the_payment_link_and_spec_payment_methods(api: Api) -> None:
    api.fake.default_payment_link = "https://site.example.test/pay"
    status, body = await api.call(
        "post", "/transactions", {"items": [{"price_id": BASIC, "quantity": 1}], "custom_data": {"guild_id": "42"}}
    )
    assert status == 201
    data = body["data"]
    assert data["status"] == "draft"
    assert data["customer_id"] is None
    assert data["address_id"] is None
    assert data["checkout"]["url"] == f"https://site.example.test/pay?_ptxn={data['id']}"
    assert data["custom_data"] == {"guild_id": "42"}
    spec_methods = SPEC["components"]["schemas"]["payment_method_type"]["enum"]
    assert set(data["available_payment_methods"]) <= set(spec_methods) == set(PAYMENT_METHODS)
    assert data["details"]["totals"]["grand_total"] == "500"


async def test_a_completed_checkout_notifies_with_spec_shaped_entities(api: Api) -> None:
    sub_id = await _subscribed(api)
    kinds = [n["event_type"] for n in api.fake.notifications]
    assert kinds == ["transaction.completed", "subscription.created"]
    completed, created = api.fake.notifications
    assert completed["data"]["status"] == "completed"
    assert completed["data"]["payments"][0]["method_details"]["type"] == "card"
    assert created["data"]["id"] == sub_id
    assert created["data"]["transaction_id"] == completed["data"]["id"]
    Transaction.from_dict(completed["data"])
    Subscription.from_dict(created["data"])
    status, body = await api.call("get", "/subscriptions/{subscription_id}", subscription_id=sub_id)
    assert status == 200
    assert body["data"]["status"] == "active"


async def test_preview_then_update_replaces_the_items_on_the_same_subscription(api: Api) -> None:
    sub_id = await _subscribed(api)
    change = {"items": [{"price_id": PRO, "quantity": 1}], "proration_billing_mode": "prorated_immediately"}
    status, preview = await api.call(
        "patch", "/subscriptions/{subscription_id}/preview", change, subscription_id=sub_id
    )
    assert status == 200
    summary = preview["data"]["update_summary"]
    assert summary["result"]["action"] == "charge"
    assert 0 < int(summary["result"]["amount"]) <= 1000  # the prorated difference, at most a whole period's
    assert preview["data"]["immediate_transaction"] is not None
    assert api.fake.subscriptions[sub_id]["items"][0]["price"]["id"] == BASIC  # a preview changes nothing
    assert [n["event_type"] for n in api.fake.notifications][-1] == "subscription.created"

    status, updated = await api.call("patch", "/subscriptions/{subscription_id}", change, subscription_id=sub_id)
    assert status == 200
    assert [i["price"]["id"] for i in updated["data"]["items"]] == [PRO]
    assert updated["data"]["id"] == sub_id
    assert len(api.fake.subscriptions) == 1
    assert [n["event_type"] for n in api.fake.notifications][-2:] == ["transaction.completed", "subscription.updated"]
    charge = api.fake.notifications[-2]["data"]
    assert (charge["origin"], charge["subscription_id"], charge["status"]) == (
        "subscription_update",
        sub_id,
        "completed",
    )

    downgrade = {"items": [{"price_id": BASIC, "quantity": 1}], "proration_billing_mode": "full_next_billing_period"}
    status, preview = await api.call(
        "patch", "/subscriptions/{subscription_id}/preview", downgrade, subscription_id=sub_id
    )
    assert status == 200
    assert preview["data"]["immediate_transaction"] is None
    assert preview["data"]["next_transaction"]["details"]["totals"]["grand_total"] == "500"


@pytest.mark.parametrize(
    ("change", "status", "code", "field"),
    [
        (
            {"items": [{"price_id": fixed_id("pri", "unknown")}], "proration_billing_mode": "prorated_immediately"},
            404,
            "not_found",
            None,
        ),
        (
            {"items": [{"price_id": PRO}], "proration_billing_mode": "prorate_now"},
            400,
            "bad_request",
            "proration_billing_mode",
        ),
        ({"items": [{"price_id": PRO}]}, 400, "bad_request", "proration_billing_mode"),
        ({"items": [], "proration_billing_mode": "prorated_immediately"}, 400, "bad_request", "items"),
    ],
)
async def test_invalid_changes_are_refused_like_paddle(
    api: Api, change: dict[str, Any], status: int, code: str, field: str | None
) -> None:
    sub_id = await _subscribed(api)
    for template in ("/subscriptions/{subscription_id}/preview", "/subscriptions/{subscription_id}"):
        got, body = await api.call("patch", template, change, subscription_id=sub_id)
        assert (got, body["error"]["code"]) == (status, code)
        if field is not None:
            assert [e["field"] for e in body["error"]["errors"]] == [field]
    assert api.fake.subscriptions[sub_id]["items"][0]["price"]["id"] == BASIC


async def test_a_canceled_subscription_cannot_be_changed(api: Api) -> None:
    sub_id = await _subscribed(api)
    api.fake.cancel_now(sub_id)
    change = {"items": [{"price_id": PRO}], "proration_billing_mode": "prorated_immediately"}
    status, body = await api.call("patch", "/subscriptions/{subscription_id}", change, subscription_id=sub_id)
    assert status == 400
    assert body["error"]["code"] == "subscription_update_when_canceled"
    assert body["error"]["detail"] == "cannot update subscription, as subscription is canceled"


async def test_unknown_prices_and_subscriptions_and_bad_keys_are_refused(api: Api) -> None:
    status, body = await api.call("post", "/transactions", {"items": [{"price_id": fixed_id("pri", "nope")}]})
    assert (status, body["error"]["code"]) == (404, "not_found")
    status, body = await api.call("get", "/subscriptions/{subscription_id}", subscription_id=fixed_id("sub", "missing"))
    assert (status, body["error"]["code"]) == (404, "not_found")
    async with api.http.post(api.fake.url + "/transactions", json={"items": [{"price_id": BASIC}]}) as resp:
        answer = await resp.json()
    validate("post", "/transactions", resp.status, answer)
    assert (resp.status, answer["error"]["code"]) == (403, "forbidden")


async def test_the_portal_session_is_only_for_the_customers_own_subscriptions(api: Api) -> None:
    mine, theirs = await _subscribed(api), await _subscribed(api)
    customer = api.fake.subscriptions[mine]["customer_id"]
    template = "/customers/{customer_id}/portal-sessions"
    status, body = await api.call("post", template, {"subscription_ids": [mine]}, customer_id=customer)
    assert status == 201
    assert body["data"]["customer_id"] == customer
    status, body = await api.call("post", template, {"subscription_ids": [theirs]}, customer_id=customer)
    assert (status, body["error"]["code"]) == (400, "bad_request")


async def test_every_notification_is_shaped_as_paddle_sends_it(api: Api) -> None:
    sub_id = await _subscribed(api)
    change = {"items": [{"price_id": PRO}], "proration_billing_mode": "prorated_immediately"}
    await api.call("patch", "/subscriptions/{subscription_id}", change, subscription_id=sub_id)
    api.fake.cancel_now(sub_id)
    kinds = [n["event_type"] for n in api.fake.notifications]
    assert kinds == [
        "transaction.completed",
        "subscription.created",
        "transaction.completed",
        "subscription.updated",
        "subscription.canceled",
    ]
    for envelope in api.fake.notifications:
        validate_notification(envelope)
        if envelope["event_type"].startswith("subscription."):
            assert "management_urls" not in envelope["data"]  # temporary links are never in webhooks
    broken = {**api.fake.notifications[1], "data": {**api.fake.notifications[1]["data"], "status": "ready"}}
    with pytest.raises(AssertionError, match="status"):
        validate_notification(broken)
