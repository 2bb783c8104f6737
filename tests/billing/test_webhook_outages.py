"""`POST /paddle/webhook` when PostgreSQL hangs or is busy, over real loopback HTTP to the listener the web process
runs (`bot.web.listen`): 503 from the database bound instead of a hang (Paddle waits 5 s, then retries), the retry
stored once; a delivery that waited behind a busy pool is judged by the signature's age when it arrived. A hang would
run into pytest's timeout; how soon the 503 comes is the configured bound's business, never a timing assertion here."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.billing.service import BillingService
from bot.billing.simulate import event_id, signed
from bot.services import billing_config, open_services
from bot.settings import Settings
from bot.web import Listener, WebLimits, listen
from db.base import utcnow
from db.engine import WEBHOOK_POOL_SIZE, create_sessionmaker, create_webhook_engine
from db.models.billing import WebhookEvent
from tests.fakes.stalls import blackhole, freezable_proxy

pytestmark = pytest.mark.postgres

SECRET = "pdl_ntfset_01improvtest_outage_secret"


@asynccontextmanager
async def served(
    tmp_path: Path, engine: AsyncEngine, limits: WebLimits | None = None, **overrides: Any
) -> AsyncIterator[Listener]:
    """The web door with webhooks applied through `engine`."""
    settings = Settings.embedded(tmp_path / "data", paddle_webhook_secret=[SECRET], **overrides)
    async with open_services(settings) as services:
        services.billing = BillingService(billing_config(settings), create_sessionmaker(engine), services.kv)
        async with listen(services, "127.0.0.1", 0, limits or WebLimits()) as listener:
            yield listener


async def webhook_engine(pg_engine: AsyncEngine, pg_url: str, port: int | None = None) -> AsyncEngine:
    """The web process's webhook engine (pool of 8, its timeouts) on the test schema, optionally via `port`."""
    async with pg_engine.connect() as conn:
        schema = await conn.scalar(text("SELECT current_schema()"))
    url = make_url(pg_url)
    if port is not None:
        url = url.set(host="127.0.0.1", port=port)
    engine = create_webhook_engine(
        url.render_as_string(hide_password=False), connect_args={"server_settings": {"search_path": schema}}
    )
    assert engine is not None
    return engine


def unknown_event() -> dict[str, Any]:
    """A delivery the endpoint stores for review (one ledger insert, no other effect)."""
    return {"event_id": event_id(), "event_type": "payout.paid", "occurred_at": utcnow().isoformat(), "data": {}}


async def deliver(
    http: ClientSession, listener: Listener, event: dict[str, Any], *, at: float | None = None
) -> tuple[float, int, dict[str, Any]]:
    """POST one signed delivery; (seconds taken, status, JSON answer)."""
    body, header = signed(event, SECRET, at=at)
    started = time.monotonic()
    async with http.post(listener.url + "/paddle/webhook", data=body, headers={"Paddle-Signature": header}) as resp:
        answer: dict[str, Any] = await resp.json()
        return time.monotonic() - started, resp.status, answer


async def ledger_rows(pg_engine: AsyncEngine, evt: str) -> int:
    async with create_sessionmaker(pg_engine)() as session:
        return int(await session.scalar(select(func.count()).where(WebhookEvent.event_id == evt)) or 0)


async def test_a_database_that_accepts_and_never_answers_gives_503_not_a_hang(tmp_path: Path) -> None:
    async with blackhole() as hole:
        engine = create_webhook_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{hole.port}/improv_hung")
        assert engine is not None
        try:
            async with served(tmp_path, engine) as listener, ClientSession() as http:
                # more deliveries than the pool has connections: the ones waiting for the pool are bounded too
                results = await asyncio.gather(
                    *(deliver(http, listener, unknown_event()) for _ in range(WEBHOOK_POOL_SIZE + 4))
                )
            assert {(status, answer["error"]) for _, status, answer in results} == {
                (503, "database unavailable; retry later")
            }
            assert hole.accepted >= 1
        finally:
            await engine.dispose()


async def test_a_database_that_freezes_mid_run_gives_503_not_a_hang_and_the_retry_is_stored(
    tmp_path: Path, pg_engine: AsyncEngine, pg_url: str
) -> None:
    pg = make_url(pg_url)
    async with freezable_proxy((pg.host or "127.0.0.1", pg.port or 5432)) as proxy:
        engine = await webhook_engine(pg_engine, pg_url, proxy.port)
        try:
            async with served(tmp_path, engine) as listener, ClientSession() as http:
                _, status, answer = await deliver(http, listener, unknown_event())
                assert (status, answer["outcome"]) == (200, "stored")  # a pooled connection is open now

                proxy.freeze()  # the open connection and new ones hang; asyncpg's own timeouts are 2 s and 5 s
                event = unknown_event()
                _, status, _ = await deliver(http, listener, event)
                assert status == 503

                proxy.thaw()  # Paddle retries
                _, status, answer = await deliver(http, listener, event)
                assert (status, answer["outcome"]) == (200, "stored")
            assert await ledger_rows(pg_engine, event["event_id"]) == 1
        finally:
            await engine.dispose()


async def test_a_locked_ledger_gives_503_not_a_hang_and_nothing_half_stored(
    tmp_path: Path, pg_engine: AsyncEngine
) -> None:
    event = unknown_event()
    async with served(tmp_path, pg_engine) as listener, ClientSession() as http:
        async with pg_engine.connect() as locker:
            await locker.execute(text("LOCK TABLE webhook_events IN ACCESS EXCLUSIVE MODE"))
            _, status, _ = await deliver(http, listener, event)
            assert status == 503
            await locker.rollback()
        # the cancelled transaction left nothing behind: the retry is stored, not a duplicate
        _, status, answer = await deliver(http, listener, event)
        assert (status, answer["outcome"]) == (200, "stored")
    assert await ledger_rows(pg_engine, event["event_id"]) == 1


async def test_a_delivery_queued_behind_a_busy_pool_is_accepted_when_it_arrived_in_time(
    tmp_path: Path, pg_engine: AsyncEngine, pg_url: str
) -> None:
    engine = await webhook_engine(pg_engine, pg_url)
    tolerance, busy_for = 2.5, 1.5
    try:
        async with (
            served(
                tmp_path, engine, WebLimits(database_seconds=4), paddle_signature_tolerance_seconds=tolerance
            ) as listener,
            ClientSession() as http,
        ):
            held = [await engine.connect() for _ in range(WEBHOOK_POOL_SIZE)]  # every pooled connection busy

            async def release_later() -> None:
                await asyncio.sleep(busy_for)
                for conn in held:
                    await conn.close()

            releaser = asyncio.create_task(release_later())
            # signed between 1 and 2 s ago: inside the tolerance on arrival, outside it after the wait for the pool
            elapsed, status, answer = await deliver(http, listener, unknown_event(), at=time.time() - 1.0)
            await releaser
        assert (status, answer.get("outcome")) == (200, "stored")
        assert elapsed >= busy_for - 0.1  # it did wait for the pool
    finally:
        await engine.dispose()


async def test_a_burst_of_deliveries_signed_as_sent_is_all_accepted(
    tmp_path: Path, pg_engine: AsyncEngine, pg_url: str
) -> None:
    engine = await webhook_engine(pg_engine, pg_url)
    try:
        async with served(tmp_path, engine, WebLimits(database_seconds=30)) as listener, ClientSession() as http:
            results = await asyncio.gather(*(deliver(http, listener, unknown_event()) for _ in range(300)))
        statuses = [status for _, status, _ in results]
        assert statuses.count(200) == 300, {s: statuses.count(s) for s in set(statuses)}
    finally:
        await engine.dispose()
