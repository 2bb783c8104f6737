"""`/billing` through discord.py's real dispatch, with the real Paddle SDK talking to a loopback fake."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest_asyncio

from bot.billing.plans import Plan, PlanCatalog
from bot.billing.simulate import signed, subscription_event
from bot.discord.offline.driver import DiscordDriver
from bot.services import Services, open_services
from bot.settings import Settings
from db.base import utcnow
from db.migrate import upgrade
from tests.fakes.paddle import API_KEY, PAYMENT_LINK, FakePaddle, running_paddle
from tests.support.discord import running_bot

SECRET = "pdl_ntfset_01improvtest_cog_secret"
PRICE = "pri_01improv_gm_monthly"
PLANS = PlanCatalog(
    free=Plan(name="Free", monthly_panics=3, memory_bytes=1024 * 1024, upload_bytes=512 * 1024),
    paid={PRICE: Plan(name="Game Master", monthly_panics=500, memory_bytes=50 * 1024 * 1024)},
)


@dataclass
class Sim:
    driver: DiscordDriver
    paddle: FakePaddle
    services: Services


@pytest_asyncio.fixture(loop_scope="session")
async def paddle_sim(tmp_path: Path, test_data: Path) -> AsyncIterator[Sim]:
    async with running_paddle(test_data) as paddle:
        settings = Settings.embedded(
            tmp_path / "data",
            paddle_api_key=API_KEY,
            paddle_api_base_url=paddle.url,
            paddle_webhook_secret=[SECRET],
            paddle_plans=PLANS.model_dump(),
        )
        async with open_services(settings) as services:
            await upgrade(services.engine)
            async with running_bot(services) as driver:
                yield Sim(driver, paddle, services)


async def _subscribe(sim: Sim, transaction_id: str) -> str:
    """Deliver the `subscription.created` Paddle sends after the checkout is paid."""
    now = utcnow()
    event = subscription_event(
        "subscription.created",
        subscription_id="sub_01improvcogtest",
        status="active",
        occurred_at=now,
        price_id=PRICE,
        customer_id="ctm_01improvcogtest",
        guild_id=sim.driver.guild_id,
        transaction_id=transaction_id,
        period=(now - timedelta(days=1), now + timedelta(days=29)),
    )
    body, header = signed(event, SECRET)
    reply = await sim.services.billing.handle_webhook(body, header)
    assert reply.body["outcome"] == "applied"
    return "sub_01improvcogtest"


async def test_status_shows_the_free_plan_and_usage(paddle_sim: Sim) -> None:
    await paddle_sim.services.billing.consume_panic(paddle_sim.driver.guild_id)
    ex = await paddle_sim.driver.slash("billing status")
    assert ex.ephemeral
    embed = ex.message.embeds[0]
    assert embed["title"] == "Plan: Free"
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Panics this period"] == "1 / 3"
    assert "Usage resets" in fields


async def test_upgrade_answers_with_the_checkout_link_and_records_the_guild(paddle_sim: Sim) -> None:
    ex = await paddle_sim.driver.slash("billing upgrade")
    assert ex.ephemeral
    [button] = ex.message.buttons()
    assert button["url"].startswith(PAYMENT_LINK + "?_ptxn=txn_")
    [call] = [r for r in paddle_sim.paddle.requests if r.path == "/transactions"]
    assert call.body["items"] == [{"price_id": PRICE, "quantity": 1}]
    assert call.body["custom_data"] == {"guild_id": str(paddle_sim.driver.guild_id)}
    assert call.headers["Authorization"] == f"Bearer {API_KEY}"

    txn = parse_qs(urlparse(button["url"]).query)["_ptxn"][0]
    await _subscribe(paddle_sim, txn)
    status = await paddle_sim.driver.slash("billing status")
    embed = status.message.embeds[0]
    assert embed["title"] == "Plan: Game Master"
    assert "Renews" in {f["name"] for f in embed["fields"]}


async def test_manage_answers_with_a_portal_link(paddle_sim: Sim) -> None:
    upgrade_ex = await paddle_sim.driver.slash("billing upgrade")
    txn = parse_qs(urlparse(upgrade_ex.message.buttons()[0]["url"]).query)["_ptxn"][0]
    sub = await _subscribe(paddle_sim, txn)
    ex = await paddle_sim.driver.slash("billing manage")
    assert ex.ephemeral
    [button] = ex.message.buttons()
    assert button["url"].startswith("https://customer-portal.paddle.com/")
    [call] = [r for r in paddle_sim.paddle.requests if r.path.endswith("/portal-sessions")]
    assert call.path == "/customers/ctm_01improvcogtest/portal-sessions"
    assert call.body == {"subscription_ids": [sub]}


async def test_manage_without_a_subscription_says_how_to_start_one(paddle_sim: Sim) -> None:
    ex = await paddle_sim.driver.slash("billing manage")
    assert ex.ephemeral
    assert "/billing upgrade" in ex.message.embeds[0]["description"]
    assert not [r for r in paddle_sim.paddle.requests if r.path.endswith("/portal-sessions")]


async def test_paddle_failure_is_a_friendly_message(paddle_sim: Sim) -> None:
    paddle_sim.paddle.fail_status = 500
    ex = await paddle_sim.driver.slash("billing upgrade")
    assert ex.ephemeral
    embed = ex.message.embeds[0]
    assert embed["title"] == "Billing unavailable"
    assert "Nothing was charged" in embed["description"]
    assert paddle_sim.driver.take_errors() == []


async def test_non_gm_is_refused(paddle_sim: Sim) -> None:
    for command in ("billing status", "billing upgrade", "billing manage"):
        ex = await paddle_sim.driver.slash(command, user=paddle_sim.driver.player)
        assert ex.ephemeral
        assert "game master" in ex.message.embeds[0]["description"].lower()
    assert paddle_sim.paddle.requests == []


async def test_self_hosted_has_nothing_to_buy(discord_sim: DiscordDriver) -> None:
    status = await discord_sim.slash("billing status")
    assert status.message.embeds[0]["title"] == "Plan: Self-hosted"
    assert "unlimited" in status.message.embeds[0]["description"]
    for command in ("billing upgrade", "billing manage"):
        ex = await discord_sim.slash(command)
        assert ex.ephemeral
        assert "self-hosted" in ex.message.embeds[0]["description"]
