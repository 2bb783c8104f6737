"""Drive the site in headless Debian Chromium (`/usr/bin/chromium`) through Playwright, for the browser tests and
`scripts/site_screenshots.py`.

The real web app listens on a loopback port; Paddle.js (`https://cdn.paddle.com/paddle/v2/paddle.js`) is
answered with `paddle-standin.js`, every other address off the site is refused and recorded, and console
errors, uncaught errors and Content-Security-Policy violations are collected.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.services import open_services
from bot.settings import Settings
from bot.web import Listener, listen
from bot.web.headers import PADDLE_JS

CHROMIUM = Path("/usr/bin/chromium")
STANDIN = Path(__file__).resolve().with_name("paddle-standin.js")

# A configured site: two paid plans with prices, a sandbox client-side token, the invite link.
APPLICATION_ID = 1187654321098765432
CLIENT_TOKEN = "test_8a1f2c3d4e5f60718293a4b5c6d"
API_KEY = "pdl_sdbx_apikey_01site_test_key_never_shown"
WEBHOOK_SECRET = "pdl_ntfset_01site_test_secret_never_shown"
PLANS: dict[str, Any] = {
    "free": {"name": "Free", "monthly_panics": 30, "memory_bytes": 2 * 1024 * 1024, "upload_bytes": 1024 * 1024},
    "paid": {
        "pri_01gamemaster0000000000000": {
            "name": "Game Master",
            "monthly_panics": 1000,
            "memory_bytes": 50 * 1024 * 1024,
            "upload_bytes": 10 * 1024 * 1024,
        },
        "pri_01wholetable000000000000": {
            "name": "Whole Table",
            "monthly_panics": None,
            "memory_bytes": 500 * 1024 * 1024,
            "upload_bytes": 20 * 1024 * 1024,
        },
    },
}
PRICES = {"pri_01gamemaster0000000000000": "$5 a month", "pri_01wholetable000000000000": "$12 a month"}
TRANSACTION = "txn_01hv8wptq8987qeep44cyrewp9"

# Registered before any page script: records what the Content-Security-Policy blocked.
_WATCH_CSP = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " blocked " + (e.blockedURI || "inline"));
});
"""


def site_settings(data_dir: Path, **overrides: Any) -> Settings:
    """The embedded settings of a site selling `PLANS` in Paddle's sandbox, with `overrides` on top."""
    values: dict[str, Any] = {
        "paddle_api_key": API_KEY,
        "paddle_webhook_secret": [WEBHOOK_SECRET],
        "paddle_plans": PLANS,
        "site_prices": PRICES,
        "paddle_client_token": CLIENT_TOKEN,
        "discord_application_id": APPLICATION_ID,
        "public_base_url": "https://improv.example.test",
        **overrides,
    }
    return Settings.embedded(data_dir, **values)


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[Listener]:
    """The real web app (`bot.web.listen`) for `settings` on a free loopback port."""
    async with open_services(settings) as services, listen(services, "127.0.0.1", 0) as listener:
        yield listener


def require_browser() -> None:
    """Skip without Chromium or Playwright; under CI=true fail instead (scripts/test.sh installs them)."""
    missing = None
    if not CHROMIUM.exists():
        missing = f"{CHROMIUM} (apt-get install chromium)"
    else:
        try:
            import playwright.async_api  # noqa: F401
        except ImportError:
            missing = "Playwright for Python (the dev extra)"
    if missing is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the browser tests need {missing}, and CI=true requires them")
        pytest.skip(f"the browser tests need {missing}")


@dataclass
class Visit:
    """One page opened in the browser, with what went wrong on it."""

    page: Any  # playwright.async_api.Page
    problems: list[str] = field(default_factory=list)  # console errors, uncaught errors
    refused: list[str] = field(default_factory=list)  # requests off the site, not served

    async def csp_violations(self) -> list[str]:
        """What the page's Content-Security-Policy blocked so far."""
        found: list[str] = await self.page.evaluate("window.__cspViolations || []")
        return found

    async def all_problems(self) -> list[str]:
        """Console errors, uncaught errors, CSP violations and refused requests."""
        return [*self.problems, *await self.csp_violations(), *(f"refused {url}" for url in self.refused)]


@asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    """Headless Debian Chromium driven by Playwright (no browser of Playwright's own is downloaded)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield browser
        finally:
            await browser.close()


async def visit(browser: Any, site: Listener, path: str, *, paddle_js: bool = True, page_html: Any = None) -> Visit:
    """Open `site.url + path` in a fresh context. Paddle.js is the stand-in (or refused with `paddle_js=False`);
    `page_html(html) -> html` rewrites the site's document before the browser sees it (headers kept)."""
    context = await browser.new_context(viewport={"width": 1100, "height": 800})
    page = await context.new_page()
    seen = Visit(page)
    page.on("console", lambda message: message.type == "error" and seen.problems.append(f"console: {message.text}"))
    page.on("pageerror", lambda error: seen.problems.append(f"uncaught: {error}"))
    await page.add_init_script(_WATCH_CSP)

    async def route(route: Any) -> None:
        url: str = route.request.url
        if url == PADDLE_JS and paddle_js:
            await route.fulfill(path=str(STANDIN), content_type="text/javascript; charset=utf-8")
        elif url.startswith(site.url + "/"):
            if page_html is not None and route.request.resource_type == "document":
                response = await route.fetch()
                await route.fulfill(response=response, body=page_html(await response.text()))
            else:
                await route.continue_()
        else:
            seen.refused.append(url)
            await route.abort()

    await context.route("**/*", route)
    await page.goto(site.url + path, wait_until="load")
    return seen


async def paddle_calls(page: Any) -> list[Any]:
    """What the page asked of Paddle.js (the stand-in's record): `[name, argument]` pairs, in order."""
    calls: list[Any] = await page.evaluate("window.__paddleStandin.calls")
    return calls
