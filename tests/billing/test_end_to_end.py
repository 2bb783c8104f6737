"""From `/billing upgrade` to the plan, over real HTTP: the bot (real discord.py dispatch, the real Paddle SDK)
talks to the fake Paddle; Paddle's notifications are signed and POSTed to the real web endpoint; both processes
share PostgreSQL and Redis, as in production."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import pytest_asyncio
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.billing.plans import Plan, PlanCatalog
from bot.billing.service import build_billing
from bot.billing.simulate import signed
from bot.discord.offline.driver import DiscordDriver, FakeUser
from bot.kv import KeyValue
from bot.services import Services, billing_config, open_services
from bot.settings import Settings
from bot.web import create_app
from db.engine import create_sessionmaker
from db.migrate import upgrade
from db.models.billing import BillingCheckout, BillingSubscription
from tests.fakes.paddle import API_KEY, FakePaddle, FakePrice, fixed_id, running_paddle
from tests.support.discord import running_bot
from tests.web.browser import CLIENT_TOKEN, chromium, paddle_calls, require_browser, visit

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

SECRET = "pdl_ntfset_01improvtest_end_to_end"
GM_PRICE, TROUPE_PRICE = fixed_id("pri", "gamemaster"), fixed_id("pri", "troupe")
PLANS = PlanCatalog(
    free=Plan(name="Free", monthly_panics=3, memory_bytes=1024 * 1024, upload_bytes=512 * 1024),
    paid={
        GM_PRICE: Plan(name="Game Master", monthly_panics=500, memory_bytes=50 * 1024 * 1024),
        TROUPE_PRICE: Plan(name="Troupe", monthly_panics=5000, memory_bytes=500 * 1024 * 1024),
    },
)
PRICES = {GM_PRICE: FakePrice("Game Master", 500), TROUPE_PRICE: FakePrice("Troupe", 1500)}
GM_ROLE = 777
PAYER = FakeUser(3003, "rolegm", roles=(GM_ROLE,))  # a GM by role, without Manage Server
OTHER_GM = FakeUser(3006, "othergm", roles=(GM_ROLE,))


@dataclass
class World:
    """The bot, the web endpoint, the fake Paddle and the shared database."""

    driver: DiscordDriver
    paddle: FakePaddle
    web_url: str
    http: ClientSession
    engine: AsyncEngine
    delivered: int = 0

    async def post_notifications(self) -> list[tuple[str, int, dict[str, Any]]]:
        """Sign each notification Paddle made since the last call and POST it to the web endpoint."""
        answers = []
        for event in self.paddle.notifications[self.delivered :]:
            body, header = signed(event, SECRET)
            async with self.http.post(
                self.web_url + "/paddle/webhook", data=body, headers={"Paddle-Signature": header}
            ) as resp:
                answers.append((event["event_type"], resp.status, await resp.json()))
        self.delivered = len(self.paddle.notifications)
        return answers

    async def status_title(self) -> str:
        title: str = (await self.driver.slash("billing status", user=PAYER)).message.embeds[0]["title"]
        return title


async def _services(stack: AsyncExitStack, settings: Settings, engine: AsyncEngine, kv: KeyValue) -> Services:
    """A process's services whose billing runs on the shared PostgreSQL and Redis."""
    services = await stack.enter_async_context(open_services(settings))
    await upgrade(services.engine)  # the rest of the process's state (guild settings) stays embedded
    services.billing = build_billing(billing_config(settings), create_sessionmaker(engine), kv)
    stack.push_async_callback(services.billing.aclose)
    return services


@pytest_asyncio.fixture(loop_scope="session")
async def world(tmp_path: Path, test_data: Path, pg_engine: AsyncEngine, redis_kv: KeyValue) -> AsyncIterator[World]:
    common: dict[str, Any] = {"paddle_plans": PLANS.model_dump(), "entitlement_cache_seconds": 0}
    async with AsyncExitStack() as stack:
        web_settings = Settings.embedded(
            tmp_path / "web", paddle_webhook_secret=[SECRET], paddle_client_token=CLIENT_TOKEN, **common
        )
        web_services = await _services(stack, web_settings, pg_engine, redis_kv)
        server = TestServer(create_app(web_services), host="127.0.0.1")
        await server.start_server()
        stack.push_async_callback(server.close)
        web_url = str(server.make_url("")).rstrip("/")
        # the seller's default payment link is the web site's /pay page
        paddle = await stack.enter_async_context(
            running_paddle(test_data, PRICES, default_payment_link=web_url + "/pay")
        )
        bot_settings = Settings.embedded(
            tmp_path / "bot", paddle_api_key=API_KEY, paddle_api_base_url=paddle.url, **common
        )
        bot_services = await _services(stack, bot_settings, pg_engine, redis_kv)
        driver = await stack.enter_async_context(running_bot(bot_services))
        await driver.slash("panic settings", gm_role=driver.role(GM_ROLE))
        http = await stack.enter_async_context(ClientSession())
        yield World(driver, paddle, web_url, http, pg_engine)


async def test_upgrade_pay_webhooks_status_then_change_plan_on_the_same_subscription(world: World) -> None:
    guild = world.driver.guild_id
    assert await world.status_title() == "Plan: Free"

    # /billing upgrade → a checkout link on the web site's payment page
    offer = await world.driver.slash("billing upgrade", plan=GM_PRICE, user=PAYER)
    [link] = offer.message.buttons()
    assert link["url"].startswith(world.web_url + "/pay?_ptxn=txn_")
    txn = parse_qs(urlparse(link["url"]).query)["_ptxn"][0]
    assert world.paddle.transactions[txn]["status"] == "draft"

    # the buyer follows the link: in headless Chromium, /pay opens Paddle's checkout for this transaction
    require_browser()
    async with chromium() as browser:
        seen = await visit(browser, SimpleNamespace(url=world.web_url), link["url"].removeprefix(world.web_url))
        await seen.page.wait_for_selector("[data-state=open]:not([hidden])")
        calls = await paddle_calls(seen.page)
        assert ["Initialize", {"token": CLIENT_TOKEN, "eventCallback": True}] in calls
        assert calls[-1] == ["Checkout.open by _ptxn", {"transactionId": txn}]
        assert await seen.all_problems() == []
    # the buyer pays in Paddle's checkout (the fake's):
    subscription = world.paddle.complete_checkout(txn)["id"]

    answers = await world.post_notifications()
    assert [(kind, status) for kind, status, _ in answers] == [
        ("transaction.completed", 200),
        ("subscription.created", 200),
    ]
    assert answers[1][2]["outcome"] == "applied"
    assert await world.status_title() == "Plan: Game Master"

    # a second upgrade changes the plan of the same subscription: preview, confirm, PATCH, webhook
    change = await world.driver.slash("billing upgrade", plan=TROUPE_PRICE, user=PAYER)
    assert change.message.embeds[0]["title"] == "Change to Troupe?"
    assert "is charged now" in change.message.embeds[0]["description"]
    confirmed = await world.driver.click(change.message, "Confirm change", user=PAYER)
    assert confirmed.last.embeds[0]["title"] == "Changing to Troupe"
    assert list(world.paddle.subscriptions) == [subscription]
    assert len([r for r in world.paddle.requests if r.path == "/transactions"]) == 1
    assert await world.status_title() == "Plan: Game Master"  # until Paddle's webhook says otherwise

    answers = await world.post_notifications()
    assert [(kind, status) for kind, status, _ in answers] == [
        ("transaction.completed", 200),
        ("subscription.updated", 200),
    ]
    assert await world.status_title() == "Plan: Troupe"

    async with create_sessionmaker(world.engine)() as session:
        subscriptions = await session.scalar(
            select(func.count()).select_from(BillingSubscription).where(BillingSubscription.guild_id == guild)
        )
        checkout = await session.get(BillingCheckout, txn)
    assert subscriptions == 1
    assert checkout is not None
    assert (checkout.guild_id, checkout.user_id, checkout.completed_at is not None) == (guild, PAYER.id, True)

    # a GM who did not pay is refused the portal, told who can; the payer gets it
    refused = await world.driver.slash("billing manage", user=OTHER_GM)
    assert refused.last.embeds[0]["title"] == "Not your subscription"
    assert "Rolegm" in refused.last.embeds[0]["description"]
    assert "Manage Server" in refused.last.embeds[0]["description"]
    assert not [r for r in world.paddle.requests if r.path.endswith("/portal-sessions")]
    portal = await world.driver.slash("billing manage", user=PAYER)
    assert portal.message.buttons()[0]["url"].startswith("https://customer-portal.paddle.com/")
