"""The site over real HTTP (the web app on a loopback port): pages, security headers on every answer, the
payment page's nonce and problems, the operator's policy texts, and no secret in any page."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession

from bot.invite import invite_url
from bot.settings import Settings
from bot.web.headers import SECURITY_HEADERS
from tests.web.browser import (
    API_KEY,
    APPLICATION_ID,
    CLIENT_TOKEN,
    TRANSACTION,
    WEBHOOK_SECRET,
    serving,
    site_settings,
)

REPO = Path(__file__).resolve().parents[2]
PAGES = ["/", "/pricing", "/pay", f"/pay?_ptxn={TRANSACTION}", "/terms", "/privacy", "/refunds"]


@asynccontextmanager
async def site_client(settings: Settings) -> AsyncIterator[tuple[str, ClientSession]]:
    async with serving(settings) as site, ClientSession() as http:
        yield site.url, http


async def get(http: ClientSession, url: str) -> tuple[int, Any, str]:
    async with http.get(url, allow_redirects=False) as response:
        return response.status, response.headers, await response.text()


def scripts(html: str) -> list[str]:
    """The opening tags of the page's `<script>` elements."""
    return re.findall(r"<script\b[^>]*>", html)


async def test_every_page_renders_with_the_security_headers(tmp_path: Path) -> None:
    async with site_client(site_settings(tmp_path)) as (base, http):
        for path in [*PAGES, "/no-such-page", "/static/site.css", "/healthz"]:
            status, headers, _ = await get(http, base + path)
            assert status == (404 if path == "/no-such-page" else 200), path
            for name, value in SECURITY_HEADERS.items():
                assert headers[name] == value, (path, name)
            policy = headers["Content-Security-Policy"]
            assert "frame-ancestors 'none'" in policy, path
            assert "default-src 'none'" in policy, path
        async with http.post(base + "/paddle/webhook", data=b"{}") as response:  # an error answer has them too
            assert response.status == 400
            assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_only_the_payment_page_runs_script_and_only_by_a_fresh_nonce(tmp_path: Path) -> None:
    async with site_client(site_settings(tmp_path)) as (base, http):
        for path in ["/", "/pricing", "/pay", "/terms", "/no-such-page"]:
            _, headers, html = await get(http, base + path)
            assert "script-src" not in headers["Content-Security-Policy"], path  # default-src 'none' forbids it
            assert scripts(html) == [], path

        nonces = []
        for _ in range(2):
            _, headers, html = await get(http, base + f"/pay?_ptxn={TRANSACTION}")
            policy = headers["Content-Security-Policy"]
            nonce = re.search(r"script-src 'nonce-([A-Za-z0-9_-]{20,})' https://cdn\.paddle\.com;", policy)
            assert nonce is not None, policy
            nonces.append(nonce.group(1))
            tags = scripts(html)
            assert tags == [
                '<script id="pay-config" type="application/json">',  # data, not code
                f'<script src="https://cdn.paddle.com/paddle/v2/paddle.js" nonce="{nonce.group(1)}">',
                f'<script nonce="{nonce.group(1)}">',
            ]
            assert "frame-src https://buy.paddle.com https://sandbox-buy.paddle.com" in policy
            assert headers["Cache-Control"] == "no-store"
        assert nonces[0] != nonces[1]


async def test_no_secret_reaches_any_page(tmp_path: Path) -> None:
    async with site_client(site_settings(tmp_path)) as (base, http):
        for path in [*PAGES, "/no-such-page"]:
            _, headers, html = await get(http, base + path)
            for secret in (API_KEY, WEBHOOK_SECRET, API_KEY[-12:], WEBHOOK_SECRET[-12:]):
                assert secret not in html, path
                assert secret not in str(headers), path
            # the client-side token is public by design, and only the payment page needs it
            assert (CLIENT_TOKEN in html) == (path == f"/pay?_ptxn={TRANSACTION}"), path


async def test_home_has_the_invite_link_or_says_it_is_not_set_up(tmp_path: Path) -> None:
    async with site_client(site_settings(tmp_path / "a")) as (base, http):
        _, _, html = await get(http, base + "/")
        assert f'href="{invite_url(APPLICATION_ID).replace("&", "&amp;")}"' in html
        assert 'href="/pricing"' in html
    async with site_client(site_settings(tmp_path / "b", discord_application_id=None)) as (base, http):
        _, _, html = await get(http, base + "/")
        assert "discord.com/oauth2" not in html
        assert "The invite link isn't set up on this site yet" in html


async def test_pricing_lists_the_free_and_paid_plans_or_says_self_hosted(tmp_path: Path) -> None:
    async with site_client(site_settings(tmp_path / "a", site_prices={})) as (base, http):
        _, _, html = await get(http, base + "/pricing")
        names = re.findall(r'<h2 class="plan-name">([^<]+)</h2>', html)
        prices = re.findall(r'<p class="price">([^<]+)</p>', html)
        assert names == ["Free", "Game Master", "Whole Table"]
        assert prices == ["Free", "Price shown at checkout", "Price shown at checkout"]
    embedded = Settings.embedded(tmp_path / "b")  # no Paddle: self-hosted
    async with site_client(embedded) as (base, http):
        _, _, html = await get(http, base + "/pricing")
        assert "every server is unlimited and there is nothing to buy" in html
        assert "plan-name" not in html


@pytest.mark.parametrize(
    ("query", "status", "says"),
    [
        ("", 200, "This is the page Paddle's payment links open"),
        ("?_ptxn=txn_short", 400, "This payment link is incomplete or damaged"),
        ("?_ptxn=%3Cscript%3Ealert(1)%3C/script%3E", 400, "This payment link is incomplete or damaged"),
    ],
)
async def test_a_payment_link_without_a_transaction_explains_and_loads_no_paddle(
    tmp_path: Path, query: str, status: int, says: str
) -> None:
    async with site_client(site_settings(tmp_path)) as (base, http):
        got, headers, html = await get(http, base + "/pay" + query)
        assert got == status
        assert says in html
        assert "cdn.paddle.com/paddle" not in html
        assert "<script>alert" not in html
        assert "script-src" not in headers["Content-Security-Policy"]


async def test_a_site_without_a_client_token_takes_no_payment(tmp_path: Path) -> None:
    async with site_client(site_settings(tmp_path, paddle_client_token=None)) as (base, http):
        status, _, html = await get(http, base + f"/pay?_ptxn={TRANSACTION}")
        assert status == 200
        assert "This site can't take payments yet" in html
        assert scripts(html) == []


async def test_policies_are_the_operators_files_else_defaults_that_say_so(tmp_path: Path) -> None:
    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "terms.html").write_text("<h1>Our terms</h1><p>Be excellent to each other.</p>", encoding="utf-8")
    async with site_client(site_settings(tmp_path / "data", site_pages_dir=pages)) as (base, http):
        _, _, terms = await get(http, base + "/terms")
        assert "Be excellent to each other." in terms
        assert "default text" not in terms
        for path, title in [("/privacy", "Privacy policy"), ("/refunds", "Refund policy")]:
            _, _, html = await get(http, base + path)
            assert "This is the default text shipped with Improv Panic Button" in html
            assert f"<h1>{title}</h1>" in html
        # operator-editable: a change shows on the next request, no restart
        (pages / "refunds.html").write_text("<h1>Refunds</h1><p>Within 30 days.</p>", encoding="utf-8")
        _, _, refunds = await get(http, base + "/refunds")
        assert "Within 30 days." in refunds
        assert "default text" not in refunds


async def test_unknown_pages_get_the_404_page(tmp_path: Path) -> None:
    async with site_client(site_settings(tmp_path)) as (base, http):
        for path in ["/nope", "/terms.html", "/static/missing.css", "/pay/extra"]:
            status, headers, html = await get(http, base + path)
            assert status == 404, path
            assert headers["Content-Type"].startswith("text/html"), path
            assert "<h1>Page not found</h1>" in html, path


def test_the_package_ships_every_template_and_asset() -> None:
    """`pip install .` (not only the editable checkout) carries the site's files: package-data covers them."""
    patterns = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["*"]
    web = REPO / "bot" / "web"
    files = [p for folder in ("templates", "static", "pages") for p in (web / folder).iterdir() if p.is_file()]
    assert files
    uncovered = [p.name for p in files if not any(fnmatch.fnmatch(p.name, pattern) for pattern in patterns)]
    assert uncovered == []
    for folder in ("templates", "static", "pages"):
        assert not (web / folder / "__init__.py").exists()  # data folders, found by setuptools as package data
