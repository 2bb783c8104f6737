"""`POST /paddle/webhook` over real loopback HTTP against PostgreSQL, and the entitlements it drives."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.billing.entitlements import BillingEntitlements
from bot.billing.events import MAX_JSON_DEPTH
from bot.billing.plans import Plan, PlanCatalog
from bot.billing.service import BillingService
from bot.billing.simulate import signed, subscription_event, transaction_event
from bot.kv import KeyValue, MemoryKeyValue
from bot.services import billing_config, open_services
from bot.settings import Settings
from bot.web import create_app
from db.base import utcnow
from db.engine import create_engine, create_sessionmaker
from db.migrate import upgrade
from db.models.billing import BillingCheckout, BillingSubscription, BillingUsage, WebhookEvent

pytestmark = pytest.mark.postgres

SECRET = "pdl_ntfset_01improvtest_webhook_secret"
PRICE = "pri_01improv_gm_monthly"
PLANS = PlanCatalog(
    free=Plan(name="Free", monthly_panics=2, memory_bytes=1000, upload_bytes=500),
    paid={PRICE: Plan(name="Game Master", monthly_panics=5, memory_bytes=10_000, upload_bytes=5_000)},
)
MAX_BODY = 64 * 1024


@dataclass
class Web:
    """The running app, an HTTP client, and the billing service behind them."""

    url: str
    http: ClientSession
    billing: BillingService
    settings: Settings

    async def post(
        self, payload: dict[str, Any] | bytes, *, secret: str = SECRET, at: float | None = None
    ) -> tuple[int, dict[str, Any]]:
        body, header = signed(payload, secret, at=at)
        return await self.raw(body, {"Paddle-Signature": header})

    async def raw(self, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        async with self.http.post(self.url + "/paddle/webhook", data=body, headers=headers) as resp:
            text = await resp.text()
            return resp.status, (json.loads(text) if text.startswith("{") else {"text": text})


def billing_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "paddle_webhook_secret": [SECRET],
        "paddle_plans": PLANS.model_dump(),
        "webhook_max_body_bytes": MAX_BODY,
        "entitlement_cache_seconds": 0,
    }
    values.update(overrides)
    return Settings.embedded(tmp_path / "data", **values)


@pytest_asyncio.fixture(loop_scope="session")
async def web(tmp_path: Path, pg_engine: AsyncEngine) -> AsyncIterator[Web]:
    settings = billing_settings(tmp_path)
    async with open_services(settings) as services:
        services.billing = BillingService(billing_config(settings), create_sessionmaker(pg_engine), services.kv)
        server = TestServer(create_app(services), host="127.0.0.1")
        await server.start_server()
        try:
            async with ClientSession() as http:
                yield Web(str(server.make_url("")).rstrip("/"), http, services.billing, settings)
        finally:
            await server.close()


def guild() -> int:
    return 10**17 + secrets.randbelow(10**17)


def sub_id() -> str:
    return "sub_" + secrets.token_hex(13)


async def checkout(pg_engine: AsyncEngine, guild_id: int) -> str:
    """Record a checkout the way `/billing upgrade` does."""
    txn = "txn_" + secrets.token_hex(13)
    async with create_sessionmaker(pg_engine).begin() as session:
        session.add(BillingCheckout(transaction_id=txn, guild_id=guild_id, price_id=PRICE))
    return txn


async def stored(pg_engine: AsyncEngine, event_id: str) -> WebhookEvent | None:
    async with create_sessionmaker(pg_engine)() as session:
        return await session.get(WebhookEvent, event_id)


async def subscription(pg_engine: AsyncEngine, sid: str) -> BillingSubscription | None:
    async with create_sessionmaker(pg_engine)() as session:
        return await session.get(BillingSubscription, sid)


def period(now: datetime, start_days_ago: float = 1) -> tuple[datetime, datetime]:
    start = now - timedelta(days=start_days_ago)
    return start, start + timedelta(days=30)


async def created(
    web: Web, pg_engine: AsyncEngine, g: int, *, at: datetime | None = None
) -> tuple[str, str, dict[str, Any]]:
    """A guild that checked out and whose `subscription.created` was delivered."""
    txn = await checkout(pg_engine, g)
    sid = sub_id()
    now = utcnow()
    event = subscription_event(
        "subscription.created",
        subscription_id=sid,
        status="active",
        occurred_at=at or now - timedelta(hours=1),
        price_id=PRICE,
        guild_id=g,
        transaction_id=txn,
        period=period(now),
    )
    status, body = await web.post(event)
    assert (status, body["outcome"]) == (200, "applied")
    return txn, sid, event


# --- signatures and malformed requests ------------------------------------------------------------------


async def test_signed_subscription_created_is_applied(web: Web, pg_engine: AsyncEngine) -> None:
    g = guild()
    _, sid, event = await created(web, pg_engine, g)
    row = await subscription(pg_engine, sid)
    assert row is not None
    assert row.guild_id == g
    assert row.status == "active"
    assert row.price_id == PRICE
    ledger = await stored(pg_engine, event["event_id"])
    assert ledger is not None
    assert ledger.processed_at is not None
    assert ledger.guild_id == g
    plan = await web.billing.entitlements.plan_for(g, fresh=True)
    assert (plan.plan.name, plan.status, plan.renews) == ("Game Master", "active", True)


async def test_forged_signature_is_401_and_nothing_stored(web: Web, pg_engine: AsyncEngine) -> None:
    event = transaction_event(
        "transaction.completed", transaction_id="txn_x", status="completed", occurred_at=utcnow(), subscription_id=None
    )
    status, _ = await web.post(event, secret="pdl_ntfset_attacker")
    assert status == 401
    assert await stored(pg_engine, event["event_id"]) is None


@pytest.mark.parametrize("offset", [-60, 60], ids=["stale", "future"])
async def test_timestamp_outside_tolerance_is_401(web: Web, pg_engine: AsyncEngine, offset: int) -> None:
    event = transaction_event(
        "transaction.completed", transaction_id="txn_x", status="completed", occurred_at=utcnow(), subscription_id=None
    )
    status, body = await web.post(event, at=utcnow().timestamp() + offset)
    assert status == 401
    assert "tolerance" in body["error"]
    assert await stored(pg_engine, event["event_id"]) is None


async def test_missing_signature_header_is_400(web: Web) -> None:
    status, _ = await web.raw(b'{"event_id":"evt_1"}', {})
    assert status == 400


async def test_malformed_signature_header_is_400(web: Web) -> None:
    status, _ = await web.raw(b"{}", {"Paddle-Signature": "ts=abc;;h1"})
    assert status == 400


@pytest.mark.parametrize("body", [b"not json at all", b"[1, 2, 3]", b'{"event_id": "evt_1"}', b"\xff\xfe"])
async def test_validly_signed_but_malformed_body_is_400(web: Web, body: bytes) -> None:
    status, response = await web.post(body)
    assert status == 400
    assert "envelope" in response["error"]


@pytest.mark.parametrize(
    "body",
    [b"[" * 30_000 + b"]" * 30_000, b'{"a":' * 10_000 + b"1" + b"}" * 10_000],  # under MAX_BODY
    ids=["arrays-30k-deep", "objects-10k-deep"],
)
async def test_validly_signed_json_nested_far_too_deep_is_400(web: Web, body: bytes) -> None:
    status, response = await web.post(body)
    assert status == 400
    assert "envelope" in response["error"]


async def test_an_event_nested_past_the_depth_limit_is_400_and_one_at_the_limit_is_stored(
    web: Web, pg_engine: AsyncEngine
) -> None:
    def event(depth: int) -> dict[str, Any]:
        nested: dict[str, Any] = {}
        for _ in range(depth - 3):  # the envelope and `data` are two levels, `custom_data` the third
            nested = {"n": nested}
        return {
            "event_id": "evt_" + secrets.token_hex(13),
            "event_type": "payout.paid",
            "occurred_at": utcnow().isoformat(),
            "data": {"custom_data": nested},
        }

    deep, at_limit = event(MAX_JSON_DEPTH + 1), event(MAX_JSON_DEPTH)
    assert (await web.post(deep))[0] == 400
    assert await stored(pg_engine, deep["event_id"]) is None
    status, body = await web.post(at_limit)
    assert (status, body["outcome"]) == (200, "stored")


async def test_empty_request_is_400(web: Web) -> None:
    assert (await web.raw(b"", {}))[0] == 400
    assert (await web.post(b""))[0] == 400


async def test_oversized_body_is_413(web: Web) -> None:
    status, _ = await web.post(b"{" + b" " * (MAX_BODY + 10) + b"}")
    assert status == 413


async def test_oversized_streamed_body_without_length_is_413(web: Web) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(MAX_BODY // 1024 + 8):
            yield b" " * 1024

    async with web.http.post(
        web.url + "/paddle/webhook", data=chunks(), headers={"Paddle-Signature": "ts=1;h1=00"}
    ) as resp:
        assert resp.status == 413


async def test_healthz_still_answers(web: Web) -> None:
    async with web.http.get(web.url + "/healthz") as resp:
        assert resp.status == 200


# --- ledger: replay, duplicates, order ------------------------------------------------------------------


async def test_replayed_event_is_acknowledged_without_effect(web: Web, pg_engine: AsyncEngine) -> None:
    g = guild()
    _, sid, event = await created(web, pg_engine, g)
    replay = json.loads(json.dumps(event))
    replay["data"]["status"] = "paused"  # same event_id: must not apply even if the content differs
    replay["notification_id"] = "ntf_replayed"
    status, body = await web.post(replay)
    assert (status, body["outcome"]) == (200, "duplicate")
    row = await subscription(pg_engine, sid)
    assert row is not None
    assert row.status == "active"


async def test_concurrent_duplicates_apply_once(web: Web, pg_engine: AsyncEngine) -> None:
    g = guild()
    txn = await checkout(pg_engine, g)
    event = subscription_event(
        "subscription.created",
        subscription_id=sub_id(),
        status="active",
        occurred_at=utcnow(),
        price_id=PRICE,
        guild_id=g,
        transaction_id=txn,
        period=period(utcnow()),
    )
    results = await asyncio.gather(*(web.post(event) for _ in range(12)))
    outcomes = sorted(body["outcome"] for status, body in results if status == 200)
    assert outcomes == ["applied"] + ["duplicate"] * 11
    async with create_sessionmaker(pg_engine)() as session:
        count = await session.scalar(select(func.count()).where(WebhookEvent.event_id == event["event_id"]))
    assert count == 1


async def test_out_of_order_older_snapshot_does_not_overwrite_newer(web: Web, pg_engine: AsyncEngine) -> None:
    g = guild()
    txn = await checkout(pg_engine, g)
    sid = sub_id()
    now = utcnow()
    older = subscription_event(
        "subscription.created",
        subscription_id=sid,
        status="active",
        occurred_at=now - timedelta(minutes=10),
        price_id=PRICE,
        guild_id=g,
        transaction_id=txn,
        period=period(now),
    )
    newer = subscription_event(
        "subscription.past_due",
        subscription_id=sid,
        status="past_due",
        occurred_at=now - timedelta(minutes=5),
        price_id=PRICE,
        guild_id=g,
        period=period(now),
    )
    status, body = await web.post(newer)
    assert (status, body["outcome"]) == (200, "stored")  # not bound to a guild yet: kept, waiting for created
    status, body = await web.post(older)
    assert (status, body["outcome"]) == (200, "stale")  # binds the guild, but the snapshot is older
    row = await subscription(pg_engine, sid)
    assert row is not None
    assert (row.guild_id, row.status, row.snapshot_event_id) == (g, "past_due", newer["event_id"])


# --- guild binding --------------------------------------------------------------------------------------


async def test_event_for_unknown_guild_is_stored_for_review(web: Web, pg_engine: AsyncEngine) -> None:
    claimed = guild()
    event = subscription_event(
        "subscription.created",
        subscription_id=sub_id(),
        status="active",
        occurred_at=utcnow(),
        price_id=PRICE,
        guild_id=claimed,
        transaction_id="txn_never_created_by_the_bot",
        period=period(utcnow()),
    )
    status, body = await web.post(event)
    assert (status, body["outcome"]) == (200, "stored")
    ledger = await stored(pg_engine, event["event_id"])
    assert ledger is not None
    assert ledger.guild_id is None
    assert "no checkout record" in ledger.note
    assert (await web.billing.entitlements.plan_for(claimed, fresh=True)).plan_key == "free"


async def test_tampered_custom_data_cannot_move_a_subscription(web: Web, pg_engine: AsyncEngine) -> None:
    payer, other = guild(), guild()
    txn = await checkout(pg_engine, payer)
    event = subscription_event(
        "subscription.created",
        subscription_id=sub_id(),
        status="active",
        occurred_at=utcnow(),
        price_id=PRICE,
        guild_id=other,
        transaction_id=txn,
        period=period(utcnow()),
    )
    status, _ = await web.post(event)
    assert status == 200
    assert (await web.billing.entitlements.plan_for(payer, fresh=True)).plan_key == PRICE
    assert (await web.billing.entitlements.plan_for(other, fresh=True)).plan_key == "free"
    ledger = await stored(pg_engine, event["event_id"])
    assert ledger is not None
    assert "differs from the checkout record" in ledger.note


async def test_transaction_completed_binds_subscription_before_created(web: Web, pg_engine: AsyncEngine) -> None:
    g = guild()
    txn = await checkout(pg_engine, g)
    sid = sub_id()
    now = utcnow()
    updated = subscription_event(
        "subscription.updated",
        subscription_id=sid,
        status="active",
        occurred_at=now,
        price_id=PRICE,
        period=period(now),
    )
    assert (await web.post(updated))[1]["outcome"] == "stored"
    completed = transaction_event(
        "transaction.completed",
        transaction_id=txn,
        status="completed",
        occurred_at=now,
        subscription_id=sid,
        guild_id=g,
    )
    assert (await web.post(completed))[1]["outcome"] == "applied"
    assert (await web.billing.entitlements.plan_for(g, fresh=True)).plan_key == PRICE


async def test_transaction_events_never_set_subscription_status(web: Web, pg_engine: AsyncEngine) -> None:
    g = guild()
    txn, sid, _ = await created(web, pg_engine, g)
    failed = transaction_event(
        "transaction.payment_failed", transaction_id=txn, status="past_due", occurred_at=utcnow(), subscription_id=sid
    )
    status, _ = await web.post(failed)
    assert status == 200
    row = await subscription(pg_engine, sid)
    assert row is not None
    assert row.status == "active"


async def test_unknown_event_type_is_stored_and_acknowledged(web: Web, pg_engine: AsyncEngine) -> None:
    event = {
        "event_id": "evt_" + secrets.token_hex(13),
        "event_type": "payout.paid",
        "occurred_at": utcnow().isoformat(),
        "data": {"id": "pay_1"},
    }
    status, body = await web.post(event)
    assert (status, body["outcome"]) == (200, "stored")
    ledger = await stored(pg_engine, event["event_id"])
    assert ledger is not None
    assert ledger.payload["data"] == {"id": "pay_1"}


async def test_invalid_subscription_data_is_stored_for_review(web: Web, pg_engine: AsyncEngine) -> None:
    event = {
        "event_id": "evt_" + secrets.token_hex(13),
        "event_type": "subscription.updated",
        "occurred_at": utcnow().isoformat(),
        "data": {"id": "sub_1", "status": "exploded"},
    }
    status, body = await web.post(event)
    assert (status, body["outcome"]) == (200, "invalid")
    ledger = await stored(pg_engine, event["event_id"])
    assert ledger is not None
    assert ledger.processed_at is None
    assert "status" in ledger.note


# --- full lifecycle -------------------------------------------------------------------------------------


async def test_full_lifecycle(web: Web, pg_engine: AsyncEngine) -> None:
    g = guild()
    now = utcnow()
    base = now - timedelta(hours=2)
    _txn, sid, _ = await created(web, pg_engine, g, at=base)
    ents = web.billing.entitlements

    async def send(event_type: str, status: str, minutes: int, **kw: Any) -> None:
        event = subscription_event(
            event_type,
            subscription_id=sid,
            status=status,
            occurred_at=base + timedelta(minutes=minutes),
            price_id=PRICE,
            **kw,
        )
        code, body = await web.post(event)
        assert (code, body["outcome"]) == (200, "applied"), body

    plan = await ents.plan_for(g, fresh=True)
    assert (plan.plan_key, plan.status, plan.renews) == (PRICE, "active", True)

    await send("subscription.past_due", "past_due", 10, period=period(now))
    plan = await ents.plan_for(g, fresh=True)
    assert (plan.plan_key, plan.status) == (PRICE, "past_due")  # inside the grace period
    assert plan.access_until is not None
    assert plan.access_until > now
    later = BillingEntitlements(
        plans=PLANS,
        sessionmaker=create_sessionmaker(pg_engine),
        kv=MemoryKeyValue(),
        billing_enabled=True,
        grace=timedelta(days=web.settings.paddle_past_due_grace_days),
        cache_seconds=0,
        clock=lambda: now + timedelta(days=web.settings.paddle_past_due_grace_days + 1),
    )
    assert (await later.plan_for(g)).plan_key == "free"  # grace over, still unpaid

    await send("subscription.updated", "active", 20, period=period(now))
    plan = await ents.plan_for(g, fresh=True)
    assert (plan.plan_key, plan.status, plan.renews) == (PRICE, "active", True)

    ends = now + timedelta(days=29)
    await send("subscription.updated", "active", 30, period=period(now), scheduled_cancel_at=ends)
    plan = await ents.plan_for(g, fresh=True)
    assert (plan.plan_key, plan.status, plan.renews, plan.access_until) == (PRICE, "active", False, ends)

    await send("subscription.canceled", "canceled", 40, canceled_at=now)
    plan = await ents.plan_for(g, fresh=True)
    assert (plan.plan_key, plan.status) == ("free", "canceled")
    assert plan.plan.monthly_panics == PLANS.free.monthly_panics


async def test_paused_revokes_and_resumed_restores(web: Web, pg_engine: AsyncEngine) -> None:
    g = guild()
    base = utcnow() - timedelta(hours=1)
    _, sid, _ = await created(web, pg_engine, g, at=base)
    for minutes, (event_type, status, expected) in enumerate(
        [("subscription.paused", "paused", "free"), ("subscription.resumed", "active", PRICE)], start=1
    ):
        event = subscription_event(
            event_type,
            subscription_id=sid,
            status=status,
            occurred_at=base + timedelta(minutes=minutes),
            price_id=PRICE,
            period=None if status == "paused" else period(utcnow()),
        )
        assert (await web.post(event))[0] == 200
        assert (await web.billing.entitlements.plan_for(g, fresh=True)).plan_key == expected


# --- database down --------------------------------------------------------------------------------------


async def test_database_down_is_503_so_paddle_retries(tmp_path: Path) -> None:
    settings = billing_settings(tmp_path)
    dead = create_engine("postgresql+asyncpg://postgres@127.0.0.1:9/improv_dead", connect_args={"timeout": 2})
    try:
        async with open_services(settings) as services:
            services.billing = BillingService(billing_config(settings), create_sessionmaker(dead), services.kv)
            server = TestServer(create_app(services), host="127.0.0.1")
            await server.start_server()
            try:
                async with ClientSession() as http:
                    w = Web(str(server.make_url("")).rstrip("/"), http, services.billing, settings)
                    event = transaction_event(
                        "transaction.completed",
                        transaction_id="txn_1",
                        status="completed",
                        occurred_at=utcnow(),
                        subscription_id=None,
                    )
                    status, body = await w.post(event)
                    assert status == 503
                    assert "retry" in body["error"]
            finally:
                await server.close()
    finally:
        await dead.dispose()


# --- quotas ---------------------------------------------------------------------------------------------


def _entitlements(
    pg_engine: AsyncEngine, kv: KeyValue, *, clock: Any = utcnow, sessionmaker: Any = None, save_delay: float = 1.0
) -> BillingEntitlements:
    return BillingEntitlements(
        plans=PLANS,
        sessionmaker=sessionmaker or create_sessionmaker(pg_engine),
        kv=kv,
        billing_enabled=True,
        grace=timedelta(days=7),
        cache_seconds=30,
        clock=clock,
        save_delay=save_delay,
    )


async def _saved_usage(pg_engine: AsyncEngine, *guilds: int) -> list[int | None]:
    async with create_sessionmaker(pg_engine)() as session:
        return [await session.scalar(select(BillingUsage.panics).where(BillingUsage.guild_id == g)) for g in guilds]


async def test_free_quota_is_reached_and_refused(pg_engine: AsyncEngine) -> None:
    ents = _entitlements(pg_engine, MemoryKeyValue())
    g = guild()
    decisions = [await ents.consume_panic(g) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, False, False]
    assert decisions[1].remaining == 0
    assert decisions[3].used == 2
    assert decisions[3].limit == 2


async def test_quota_resets_with_a_new_period(pg_engine: AsyncEngine) -> None:
    moment = [utcnow()]
    ents = _entitlements(pg_engine, MemoryKeyValue(), clock=lambda: moment[0])
    g = guild()
    assert [(await ents.consume_panic(g)).allowed for _ in range(3)] == [True, True, False]
    moment[0] = moment[0] + timedelta(days=32)  # next calendar month: the free plan's next period
    ents.invalidate(g)
    assert (await ents.consume_panic(g)).allowed


async def test_paid_quota_resets_when_the_subscription_renews(web: Web, pg_engine: AsyncEngine) -> None:
    g = guild()
    now = utcnow()
    _, sid, _ = await created(web, pg_engine, g, at=now - timedelta(hours=1))
    ents = web.billing.entitlements
    results = [await ents.consume_panic(g) for _ in range(6)]
    assert [r.allowed for r in results] == [True] * 5 + [False]
    renewal = subscription_event(
        "subscription.updated",
        subscription_id=sid,
        status="active",
        occurred_at=now - timedelta(minutes=1),
        price_id=PRICE,
        period=(now - timedelta(minutes=2), now + timedelta(days=30)),
    )
    assert (await web.post(renewal))[0] == 200
    after = await ents.consume_panic(g)
    assert (after.allowed, after.used) == (True, 1)
    status = await web.billing.status(g)
    assert (status.panics_used, status.panics_limit) == (1, 5)


async def test_counter_is_seeded_from_the_database_when_the_store_lost_it(pg_engine: AsyncEngine) -> None:
    g = guild()
    first = _entitlements(pg_engine, MemoryKeyValue())
    assert (await first.consume_panic(g)).used == 1
    await first.flush()  # what the saver does within a second, and at shutdown
    fresh_store = _entitlements(pg_engine, MemoryKeyValue())  # e.g. Redis flushed
    decision = await fresh_store.consume_panic(g)
    assert (decision.allowed, decision.used) == (True, 2)
    assert not (await fresh_store.consume_panic(g)).allowed
    await fresh_store.flush()
    async with create_sessionmaker(pg_engine)() as session:
        panics = await session.scalar(select(BillingUsage.panics).where(BillingUsage.guild_id == g))
    assert panics == 2


async def test_usage_is_saved_behind_the_counter(pg_engine: AsyncEngine) -> None:
    g1, g2 = guild(), guild()
    ents = _entitlements(pg_engine, MemoryKeyValue(), save_delay=0.05)
    await asyncio.gather(*(ents.consume_panic(g) for g in (g1, g1, g2)))
    async with asyncio.timeout(10):
        while await _saved_usage(pg_engine, g1, g2) != [2, 1]:  # noqa: ASYNC110 - watching the database itself
            await asyncio.sleep(0.02)

    # at shutdown the queue is saved at once, without waiting out the delay
    patient = _entitlements(pg_engine, MemoryKeyValue(), save_delay=3600)
    g3 = guild()
    for _ in range(2):
        await patient.consume_panic(g3)
    async with asyncio.timeout(10):
        await patient.aclose()
    assert await _saved_usage(pg_engine, g3) == [2]


class _Flaky:
    """A sessionmaker whose database can be switched off (connections refused)."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.down = False

    def __call__(self) -> Any:
        return self.real()

    def begin(self) -> Any:
        if self.down:
            raise ConnectionRefusedError("database down")
        return self.real.begin()


async def test_usage_survives_a_database_outage_and_is_saved_on_recovery(pg_engine: AsyncEngine) -> None:
    g = guild()
    flaky = _Flaky(create_sessionmaker(pg_engine))
    ents = _entitlements(pg_engine, MemoryKeyValue(), sessionmaker=flaky, save_delay=3600)
    await ents.consume_panic(g)  # seeds the counter while the database is up
    flaky.down = True
    assert (await ents.consume_panic(g)).allowed  # the button keeps working
    await ents.flush()  # refused: the usage stays queued
    assert await _saved_usage(pg_engine, g) == [None]
    flaky.down = False
    await ents.aclose()
    assert await _saved_usage(pg_engine, g) == [2]


async def _hammer(ents: BillingEntitlements, g: int, n: int) -> list[bool]:
    return [d.allowed for d in await asyncio.gather(*(ents.consume_panic(g) for _ in range(n)))]


async def test_quota_is_atomic_under_concurrency_in_process(pg_engine: AsyncEngine) -> None:
    ents = _entitlements(pg_engine, MemoryKeyValue())
    allowed = await _hammer(ents, guild(), 40)
    assert allowed.count(True) == PLANS.free.monthly_panics


@pytest.mark.redis
async def test_quota_is_atomic_under_concurrency_on_redis(pg_engine: AsyncEngine, redis_kv: KeyValue) -> None:
    g = guild()
    two_processes = [_entitlements(pg_engine, redis_kv), _entitlements(pg_engine, redis_kv)]
    results = await asyncio.gather(*(_hammer(e, g, 25) for e in two_processes))
    assert sum(r.count(True) for r in results) == PLANS.free.monthly_panics


async def test_self_hosted_is_unlimited(tmp_path: Path) -> None:
    settings = Settings.embedded(tmp_path / "data")
    async with open_services(settings) as services:
        await upgrade(services.engine)
        assert not services.billing.enabled
        decisions = [await services.billing.consume_panic(1) for _ in range(50)]
        assert all(d.allowed and d.limit is None for d in decisions)
        assert decisions[-1].used == 50  # still counted, for `/billing status`
        assert await services.billing.memory_limit_bytes(1) is None
        status = await services.billing.status(1)
        assert (status.plan.plan_key, status.panics_used, status.panics_limit) == ("self-hosted", 50, None)
