"""Every official Paddle example payload parses into the envelope and, where billing uses it, the data model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.billing.events import (
    SUBSCRIPTION_EVENTS,
    TRANSACTION_EVENTS,
    Envelope,
    SubscriptionData,
    TransactionData,
    guild_id_from_custom_data,
)


def _envelopes(test_data: Path) -> list[Path]:
    paddle = test_data / "paddle"
    return sorted((paddle / "openapi-webhook-examples").glob("*.json")) + sorted((paddle / "node-sdk").glob("*.json"))


def test_examples_are_present(test_data: Path) -> None:
    names = {p.stem for p in (test_data / "paddle" / "openapi-webhook-examples").glob("*.json")}
    assert {"subscription.created", "subscription.canceled", "transaction.completed"} <= names
    assert len(names) >= 20


def test_every_official_example_parses(test_data: Path) -> None:
    seen = 0
    for path in _envelopes(test_data):
        payload = json.loads(path.read_text())
        envelope = Envelope.model_validate(payload)
        assert envelope.occurred_at.tzinfo is not None, path.name
        if envelope.event_type in SUBSCRIPTION_EVENTS:
            sub = SubscriptionData.model_validate(envelope.data)
            assert sub.id.startswith("sub_"), path.name
            assert sub.price_ids, path.name
        elif envelope.event_type in TRANSACTION_EVENTS:
            txn = TransactionData.model_validate(envelope.data)
            assert txn.id.startswith("txn_"), path.name
        seen += 1
    assert seen >= 35


def test_python_sdk_entities_parse_when_wrapped(test_data: Path) -> None:
    for path in sorted((test_data / "paddle" / "python-sdk" / "notification-entity").glob("*.json")):
        event_type = path.stem
        data = json.loads(path.read_text())
        envelope = Envelope.model_validate(
            {"event_id": "evt_x", "event_type": event_type, "occurred_at": "2024-04-12T10:18:49.621022Z", "data": data}
        )
        if event_type in SUBSCRIPTION_EVENTS:
            SubscriptionData.model_validate(envelope.data)
        elif event_type in TRANSACTION_EVENTS:
            TransactionData.model_validate(envelope.data)


def test_events_list_envelopes_parse(test_data: Path) -> None:
    for name in ("python-sdk/api-responses/events_list_default.json", "go-sdk/events.json"):
        events = json.loads((test_data / "paddle" / name).read_text())["data"]
        assert events
        for item in events:
            Envelope.model_validate(item)


def test_unknown_event_type_parses_as_generic_envelope() -> None:
    envelope = Envelope.model_validate(
        {"event_id": "evt_1", "event_type": "payout.created", "occurred_at": "2026-01-01T00:00:00Z", "data": {"x": 1}}
    )
    assert envelope.data == {"x": 1}
    assert envelope.notification_id is None


def test_subscription_snapshot_fields(test_data: Path) -> None:
    payload = json.loads((test_data / "paddle" / "openapi-webhook-examples" / "subscription.created.json").read_text())
    sub = SubscriptionData.model_validate(payload["data"])
    assert sub.status == "active"
    assert sub.transaction_id == "txn_01hv8wptq8987qeep44cyrewp9"
    assert sub.price_ids[0] == "pri_01gsz8x8sawmvhz1pv30nge1ke"
    assert sub.current_billing_period is not None
    assert sub.current_billing_period.ends_at > sub.current_billing_period.starts_at


def test_canceled_snapshot_has_no_period(test_data: Path) -> None:
    payload = json.loads((test_data / "paddle" / "openapi-webhook-examples" / "subscription.canceled.json").read_text())
    sub = SubscriptionData.model_validate(payload["data"])
    assert sub.status == "canceled"
    assert sub.current_billing_period is None


@pytest.mark.parametrize(
    ("custom_data", "expected"),
    [
        ({"guild_id": "1234567890123456789"}, 1234567890123456789),
        ({"guild_id": 1234567890123456789}, None),  # numbers lose precision: only strings are trusted
        ({"guild_id": "12ab"}, None),
        ({"guild_id": "99999999999999999999"}, None),
        ({"guild_id": "0"}, None),
        ({}, None),
        (None, None),
    ],
)
def test_guild_id_from_custom_data(custom_data: dict[str, object] | None, expected: int | None) -> None:
    assert guild_id_from_custom_data(custom_data) == expected
