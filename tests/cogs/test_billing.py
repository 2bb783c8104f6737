"""`/billing` through discord.py's real dispatch, with the real Paddle SDK talking to a loopback fake Paddle whose
notifications are delivered, signed, to the billing service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest_asyncio

from bot.billing.plans import Plan, PlanCatalog
from bot.billing.simulate import signed
from bot.discord.offline.driver import DiscordDriver, Exchange, FakeUser
from bot.services import Services, open_services
from bot.settings import Settings
from db.migrate import upgrade
from tests.fakes.paddle import API_KEY, PAYMENT_LINK, FakePaddle, FakePrice, fixed_id, running_paddle
from tests.support.discord import running_bot

SECRET = "pdl_ntfset_01improvtest_cog_secret"
PRICE = fixed_id("pri", "gmmonthly")
PRO = fixed_id("pri", "promonthly")
PLANS = PlanCatalog(
    free=Plan(name="Free", monthly_panics=3, memory_bytes=1024 * 1024, upload_bytes=512 * 1024),
    paid={
        PRICE: Plan(name="Game Master", monthly_panics=500, memory_bytes=50 * 1024 * 1024),
        PRO: Plan(name="Troupe", monthly_panics=5000, memory_bytes=500 * 1024 * 1024),
    },
)
PRICES = {PRICE: FakePrice("Game Master", 500), PRO: FakePrice("Troupe", 1500)}
GM_ROLE = 777
ROLE_GM = FakeUser(3003, "rolegm", roles=(GM_ROLE,))  # a GM by role, without Manage Server
OTHER_ROLE_GM = FakeUser(3006, "othergm", roles=(GM_ROLE,))


@dataclass
class Sim:
    driver: DiscordDriver
    paddle: FakePaddle
    services: Services
    delivered: int = 0

    async def deliver(self) -> list[dict[str, Any]]:
        """Sign and deliver every notification the fake Paddle made since the last call."""
        replies = []
        for event in self.paddle.notifications[self.delivered :]:
            body, header = signed(event, SECRET)
            replies.append((await self.services.billing.handle_webhook(body, header)).body)
        self.delivered = len(self.paddle.notifications)
        return replies

    async def subscribe(self, user: FakeUser | None = None, plan: str = PRICE) -> str:
        """`/billing upgrade`, pay on the checkout, deliver Paddle's webhooks; the new subscription's id."""
        ex = await self.driver.slash("billing upgrade", user=user, plan=plan)
        txn = parse_qs(urlparse(ex.message.buttons()[0]["url"]).query)["_ptxn"][0]
        sub = str(self.paddle.complete_checkout(txn)["id"])
        assert [r["outcome"] for r in await self.deliver()] == ["applied", "applied"]
        return sub

    async def status(self) -> dict[str, Any]:
        embed: dict[str, Any] = (await self.driver.slash("billing status")).message.embeds[0]
        return embed


def fields(embed: dict[str, Any]) -> dict[str, str]:
    return {f["name"]: f["value"] for f in embed.get("fields", [])}


def text(ex: Exchange) -> str:
    embed = ex.last.embeds[0]
    return f"{embed.get('title', '')}\n{embed.get('description', '')}"


@pytest_asyncio.fixture(loop_scope="session")
async def paddle_sim(tmp_path: Path, test_data: Path) -> AsyncIterator[Sim]:
    async with running_paddle(test_data, PRICES) as paddle:
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
                await driver.slash("panic settings", gm_role=driver.role(GM_ROLE))
                yield Sim(driver, paddle, services)


async def test_status_shows_the_free_plan_and_usage(paddle_sim: Sim) -> None:
    await paddle_sim.services.billing.consume_panic(paddle_sim.driver.guild_id)
    ex = await paddle_sim.driver.slash("billing status")
    assert ex.ephemeral
    embed = ex.message.embeds[0]
    assert embed["title"] == "Plan: Free"
    assert fields(embed)["Panics this period"] == "1 / 3"
    assert "Usage resets" in fields(embed)


async def test_upgrade_answers_with_the_checkout_link_and_records_the_guild_and_payer(paddle_sim: Sim) -> None:
    ex = await paddle_sim.driver.slash("billing upgrade", plan=PRICE, user=ROLE_GM)
    assert ex.ephemeral
    [button] = ex.message.buttons()
    assert button["url"].startswith(PAYMENT_LINK + "?_ptxn=txn_")
    [call] = [r for r in paddle_sim.paddle.requests if r.path == "/transactions"]
    assert call.body["items"] == [{"price_id": PRICE, "quantity": 1}]
    assert call.body["custom_data"] == {"guild_id": str(paddle_sim.driver.guild_id)}
    assert call.headers["Authorization"] == f"Bearer {API_KEY}"

    txn = parse_qs(urlparse(button["url"]).query)["_ptxn"][0]
    assert paddle_sim.paddle.transactions[txn]["status"] == "draft"
    paddle_sim.paddle.complete_checkout(txn)
    await paddle_sim.deliver()
    embed = await paddle_sim.status()
    assert embed["title"] == "Plan: Game Master"
    assert "Renews" in fields(embed)


async def test_an_upgrade_on_a_paid_server_previews_then_changes_the_same_subscription(paddle_sim: Sim) -> None:
    sub = await paddle_sim.subscribe(plan=PRICE)
    ex = await paddle_sim.driver.slash("billing upgrade", plan=PRO)
    assert ex.ephemeral
    embed = ex.message.embeds[0]
    assert embed["title"] == "Change to Troupe?"
    assert "is charged now" in embed["description"]
    assert "USD" in embed["description"]
    assert len([r for r in paddle_sim.paddle.requests if r.path == "/transactions"]) == 1  # no second checkout
    [preview] = [r for r in paddle_sim.paddle.requests if r.path.endswith("/preview")]
    assert preview.body == {
        "items": [{"price_id": PRO, "quantity": 1}],
        "proration_billing_mode": "prorated_immediately",
    }
    assert (await paddle_sim.status())["title"] == "Plan: Game Master"  # a preview changes nothing

    confirmed = await paddle_sim.driver.click(ex.message, "Confirm change")
    assert confirmed.last.embeds[0]["title"] == "Changing to Troupe"
    [patch] = [r for r in paddle_sim.paddle.requests if r.method == "PATCH" and r.path == f"/subscriptions/{sub}"]
    assert patch.body == preview.body
    assert list(paddle_sim.paddle.subscriptions) == [sub]
    assert (await paddle_sim.status())["title"] == "Plan: Game Master"  # the entitlement waits for the webhook

    await paddle_sim.deliver()  # transaction.completed (the prorated charge) and subscription.updated
    assert (await paddle_sim.status())["title"] == "Plan: Troupe"


async def test_the_same_plan_is_already_on_it(paddle_sim: Sim) -> None:
    await paddle_sim.subscribe(plan=PRICE)
    ex = await paddle_sim.driver.slash("billing upgrade", plan="game master")
    assert ex.last.embeds[0]["title"] == "Already on it"
    assert not [r for r in paddle_sim.paddle.requests if r.method == "PATCH"]


async def test_a_downgrade_bills_from_the_next_period_and_keeps_the_paid_plan_until_then(paddle_sim: Sim) -> None:
    await paddle_sim.subscribe(plan=PRO)
    ex = await paddle_sim.driver.slash("billing upgrade", plan=PRICE)
    assert "Nothing is charged now" in ex.message.embeds[0]["description"]
    await paddle_sim.driver.click(ex.message, "Confirm change")
    patch = next(r for r in paddle_sim.paddle.requests if r.method == "PATCH" and not r.path.endswith("/preview"))
    assert patch.body["proration_billing_mode"] == "full_next_billing_period"
    await paddle_sim.deliver()
    embed = await paddle_sim.status()
    assert embed["title"] == "Plan: Troupe"
    assert fields(embed)["Changes to"].startswith("Game Master on <t:")


async def test_manage_is_for_the_payer_or_a_server_manager(paddle_sim: Sim) -> None:
    sub = await paddle_sim.subscribe(user=ROLE_GM)
    refused = await paddle_sim.driver.slash("billing manage", user=OTHER_ROLE_GM)
    assert refused.ephemeral
    assert refused.last.embeds[0]["title"] == "Not your subscription"
    assert "Only **Rolegm** (who pays for this plan) or a member with **Manage Server**" in text(refused)
    assert not [r for r in paddle_sim.paddle.requests if r.path.endswith("/portal-sessions")]

    for user in (ROLE_GM, paddle_sim.driver.gm):  # the payer, and a member with Manage Server
        ex = await paddle_sim.driver.slash("billing manage", user=user)
        assert ex.ephemeral
        assert ex.message.buttons()[0]["url"].startswith("https://customer-portal.paddle.com/")
    calls = [r for r in paddle_sim.paddle.requests if r.path.endswith("/portal-sessions")]
    customer = paddle_sim.paddle.subscriptions[sub]["customer_id"]
    assert [(c.path, c.body) for c in calls] == [
        (f"/customers/{customer}/portal-sessions", {"subscription_ids": [sub]})
    ] * 2


async def test_a_gm_who_did_not_pay_cannot_spend_the_payers_card(paddle_sim: Sim) -> None:
    await paddle_sim.subscribe(user=ROLE_GM, plan=PRICE)
    ex = await paddle_sim.driver.slash("billing upgrade", plan=PRO, user=OTHER_ROLE_GM)
    assert ex.last.embeds[0]["title"] == "Not your subscription"
    assert not [r for r in paddle_sim.paddle.requests if r.method == "PATCH"]
    offer = await paddle_sim.driver.slash("billing upgrade", plan=PRO, user=ROLE_GM)
    clicked = await paddle_sim.driver.click(offer.message, "Confirm change", user=OTHER_ROLE_GM)
    assert clicked.last.embeds[0]["title"] == "Not your subscription"
    assert not [r for r in paddle_sim.paddle.requests if r.method == "PATCH" and not r.path.endswith("/preview")]


async def test_a_stale_offer_or_a_subscription_paddle_canceled_is_refused_kindly(paddle_sim: Sim) -> None:
    sub = await paddle_sim.subscribe(plan=PRICE)
    offer = await paddle_sim.driver.slash("billing upgrade", plan=PRO)
    paddle_sim.paddle.cancel_now(sub)  # canceled in Paddle; its webhook has not arrived yet
    ex = await paddle_sim.driver.click(offer.message, "Confirm change")
    assert "has been canceled" in text(ex)
    assert paddle_sim.driver.take_errors() == []
    await paddle_sim.deliver()
    again = await paddle_sim.driver.click(offer.message, "Confirm change")
    assert again.last.embeds[0]["title"] == "Offer expired"


async def test_manage_without_a_subscription_says_how_to_start_one(paddle_sim: Sim) -> None:
    ex = await paddle_sim.driver.slash("billing manage")
    assert ex.ephemeral
    assert "/billing upgrade" in ex.message.embeds[0]["description"]
    assert not [r for r in paddle_sim.paddle.requests if r.path.endswith("/portal-sessions")]


async def test_paddle_failure_is_a_friendly_message(paddle_sim: Sim) -> None:
    paddle_sim.paddle.fail_status = 500
    ex = await paddle_sim.driver.slash("billing upgrade", plan=PRICE)
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


async def test_a_declined_charge_leaves_the_plan_and_says_what_to_do(paddle_sim: Sim) -> None:
    sub = await paddle_sim.subscribe(plan=PRICE)
    offer = await paddle_sim.driver.slash("billing upgrade", plan=PRO)
    paddle_sim.paddle.decline_payments = True
    ex = await paddle_sim.driver.click(offer.message, "Confirm change")
    assert "payment for the change was declined" in text(ex)
    assert "/billing manage" in text(ex)
    assert paddle_sim.paddle.subscriptions[sub]["items"][0]["price"]["id"] == PRICE
    assert await paddle_sim.deliver() == []
    assert (await paddle_sim.status())["title"] == "Plan: Game Master"


async def test_the_payers_name_is_shown_as_plain_text(paddle_sim: Sim) -> None:
    payer = FakeUser(3007, "@everyone_*bold*", roles=(GM_ROLE,))
    await paddle_sim.subscribe(user=payer)
    refused = await paddle_sim.driver.slash("billing manage", user=OTHER_ROLE_GM)
    description = refused.last.embeds[0]["description"]
    assert "Only **Everyone_Bold** (who pays for this plan)" in description
    assert "@" not in description
