"""The site in a real browser (headless Debian Chromium through Playwright): Paddle's payment page opens the
checkout for the link's transaction with the configured token, under the site's Content-Security-Policy, and a
visitor reads the invite link, the plans and their prices. Paddle.js is a local stand-in
(`tests/web/paddle-standin.js`); nothing leaves the machine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.improv.kinds import KINDS
from bot.invite import invite_url
from tests.web import browser as harness
from tests.web.browser import (
    APPLICATION_ID,
    CLIENT_TOKEN,
    TRANSACTION,
    chromium,
    paddle_calls,
    require_browser,
    serving,
    site_settings,
    visit,
)

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
async def browser() -> Any:
    require_browser()
    async with chromium() as launched:
        yield launched


def test_a_missing_browser_is_a_skip_and_under_ci_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(harness, "CHROMIUM", Path("/nonexistent/chromium"))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true requires them"):
        require_browser()
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium"):
        require_browser()


async def test_pay_opens_the_checkout_for_the_links_transaction(browser: Any, tmp_path: Path) -> None:
    async with serving(site_settings(tmp_path)) as site:
        seen = await visit(browser, site, f"/pay?_ptxn={TRANSACTION}")
        page = seen.page
        await page.wait_for_selector("[data-state=open]:not([hidden])")
        assert await paddle_calls(page) == [
            ["Environment.set", "sandbox"],
            ["Initialize", {"token": CLIENT_TOKEN, "eventCallback": True}],
            ["Checkout.open by _ptxn", {"transactionId": TRANSACTION}],  # Paddle.js, from the page's address
        ]
        assert "Paddle's checkout is open" in await page.inner_text("#pay-status")

        # Paddle.js reports the payment: the page says what happens next and how to check
        await page.evaluate("window.__paddleStandin.emit('checkout.completed', {status: 'completed'})")
        await page.wait_for_selector("[data-state=completed]:not([hidden])")
        text = await page.inner_text("#pay-status")
        assert "plan becomes active as soon as Paddle's confirmation" in text
        assert "/billing status" in text
        assert await seen.all_problems() == []


async def test_a_closed_checkout_can_be_opened_again(browser: Any, tmp_path: Path) -> None:
    async with serving(site_settings(tmp_path)) as site:
        seen = await visit(browser, site, f"/pay?_ptxn={TRANSACTION}")
        page = seen.page
        await page.wait_for_selector("[data-state=open]:not([hidden])")
        await page.evaluate("window.__paddleStandin.emit('checkout.closed')")
        assert "nothing was charged" in await page.inner_text("#pay-status")
        await page.click("#reopen")
        await page.wait_for_selector("[data-state=open]:not([hidden])")
        assert (await paddle_calls(page))[-2:] == [
            ["Checkout.open by _ptxn", {"transactionId": TRANSACTION}],
            ["Checkout.open", {"transactionId": TRANSACTION}],
        ]
        assert await seen.all_problems() == []


async def test_production_initialises_with_the_live_token_and_no_sandbox(browser: Any, tmp_path: Path) -> None:
    live = "live_0b1c2d3e4f5a6b7c8d9e0f1a2b3"
    settings = site_settings(tmp_path, paddle_environment="production", paddle_client_token=live, paddle_api_key=None)
    async with serving(settings) as site:
        seen = await visit(browser, site, f"/pay?_ptxn={TRANSACTION}")
        await seen.page.wait_for_selector("[data-state=open]:not([hidden])")
        assert await paddle_calls(seen.page) == [
            ["Initialize", {"token": live, "eventCallback": True}],
            ["Checkout.open by _ptxn", {"transactionId": TRANSACTION}],
        ]
        assert await seen.all_problems() == []


async def test_the_policy_blocks_a_script_without_the_nonce(browser: Any, tmp_path: Path) -> None:
    """The detector and the policy both work: an injected inline script does not run and is reported."""

    def inject(html: str) -> str:
        return html.replace("</main>", "<script>window.__injected = true;</script></main>")

    async with serving(site_settings(tmp_path)) as site:
        seen = await visit(browser, site, f"/pay?_ptxn={TRANSACTION}", page_html=inject)
        await seen.page.wait_for_selector("[data-state=open]:not([hidden])")  # the page's own script still ran
        assert await seen.page.evaluate("window.__injected === undefined")
        violations = await seen.csp_violations()
        assert violations
        assert all(v.startswith("script-src") for v in violations)


async def test_a_checkout_paddle_cannot_open_says_so(browser: Any, tmp_path: Path) -> None:
    async with serving(site_settings(tmp_path)) as site:
        seen = await visit(browser, site, f"/pay?_ptxn={TRANSACTION}")
        await seen.page.wait_for_selector("[data-state=open]:not([hidden])")
        await seen.page.evaluate("window.__paddleStandin.emit('checkout.error', {code: 'transaction_not_ready'})")
        text = await seen.page.inner_text("#pay-status")
        assert "Paddle could not open the checkout for this link" in text
        assert "/billing upgrade" in text


async def test_blocked_paddle_js_tells_the_visitor(browser: Any, tmp_path: Path) -> None:
    async with serving(site_settings(tmp_path)) as site:
        seen = await visit(browser, site, f"/pay?_ptxn={TRANSACTION}", paddle_js=False)
        text = await seen.page.inner_text("#pay-status")
        assert "could not be loaded" in text
        assert "Nothing was charged" in text
        assert seen.refused == ["https://cdn.paddle.com/paddle/v2/paddle.js"]


async def test_home_and_pricing_read_as_a_visitor_reads_them(browser: Any, tmp_path: Path) -> None:
    async with serving(site_settings(tmp_path)) as site:
        seen = await visit(browser, site, "/")
        page = seen.page
        invite = page.get_by_role("link", name="Add to Discord")
        assert await invite.get_attribute("href") == invite_url(APPLICATION_ID)
        assert "Caught off guard at the table?" in await page.inner_text("h1")
        kinds = await page.locator(".features li").first.inner_text()
        assert kinds.startswith(f"{len(KINDS)} kinds of panic: " + ", ".join(KINDS[:-1]) + f" and {KINDS[-1]},")

        await page.get_by_role("link", name="See pricing").click()
        await page.wait_for_url(site.url + "/pricing")
        cards = [
            [
                await card.eval_on_selector(part, "e => e.innerText")
                for part in (".plan-name", ".price", ".panics", ".notes")
            ]
            for card in await page.query_selector_all("article.plan")
        ]
        assert cards == [
            ["Free", "Free", "30 a month", "2.0 MB"],
            ["Game Master", "$5 a month", "1,000 a month", "50.0 MB"],
            ["Whole Table", "$12 a month", "Unlimited", "500.0 MB"],
        ]
        assert "/billing upgrade" in await page.inner_text("main")
        assert await seen.all_problems() == []
