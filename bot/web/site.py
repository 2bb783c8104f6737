"""The small site the web process serves, rendered on the server (Jinja2 through aiohttp-jinja2, no build step).

`GET /` (what the bot does, "Add to Discord"), `GET /pricing` (the free plan and `PADDLE_PLANS`), `GET /pay`
(Paddle's default payment link: loads and initialises Paddle.js, which opens the checkout for the address's
`?_ptxn=txn_…`), `GET /terms`, `/privacy`, `/refunds` (the operator's HTML in `SITE_PAGES_DIR`, else a default
that says it is one), a 404 page, and security headers on every answer (`bot.web.headers`). Nothing secret
reaches a page: the Paddle client-side token is public by design.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import aiohttp_jinja2
import jinja2
from aiohttp import web
from markupsafe import Markup

from bot.billing.plans import Plan, PlanCatalog
from bot.improv.kinds import KINDS
from bot.invite import invite_url
from bot.settings import Settings
from bot.sizes import format_bytes
from bot.web.headers import PADDLE_JS, content_security_policy, security_middleware

__all__ = ["POLICY_PAGES", "SITE", "PlanRow", "SiteConfig", "add_site", "plan_rows"]

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
DEFAULT_PAGES = HERE / "pages"
# The operator's pages, by route: (file name in SITE_PAGES_DIR, title).
POLICY_PAGES: dict[str, tuple[str, str]] = {
    "terms": ("terms.html", "Terms of service"),
    "privacy": ("privacy.html", "Privacy policy"),
    "refunds": ("refunds.html", "Refund policy"),
}
MAX_PAGE_BYTES = 256 * 1024
# Paddle ids are the prefix, an underscore and 26 lower-case letters or digits.
TRANSACTION_ID = re.compile(r"txn_[a-z0-9]{26}")


@dataclass(frozen=True, slots=True)
class SiteConfig:
    """What the pages show, from the settings."""

    invite_url: str | None = None
    public_base_url: str | None = None
    client_token: str | None = None
    environment: Literal["sandbox", "production"] = "sandbox"
    plans: PlanCatalog = field(default_factory=PlanCatalog)
    prices: Mapping[str, str] = field(default_factory=dict)
    pages_dir: Path | None = None
    billing_enabled: bool = False

    @classmethod
    def from_settings(cls, settings: Settings, *, billing_enabled: bool) -> SiteConfig:
        """The site as `DISCORD_APPLICATION_ID`, `PUBLIC_BASE_URL`, `PADDLE_*` and `SITE_*` configure it."""
        app_id = settings.discord_application_id
        return cls(
            invite_url=invite_url(app_id) if app_id is not None else None,
            public_base_url=settings.public_base_url,
            client_token=settings.paddle_client_token,
            environment=settings.paddle_environment,
            plans=settings.paddle_plans,
            prices=dict(settings.site_prices),
            pages_dir=settings.site_pages_dir,
            billing_enabled=billing_enabled,
        )


SITE = web.AppKey("site", SiteConfig)


@dataclass(frozen=True, slots=True)
class PlanRow:
    """One plan as `/pricing` shows it."""

    name: str
    price: str
    panics: str
    notes: str
    largest_file: str
    free: bool


def _limit(value: int | None, unit: str) -> str:
    return "Unlimited" if value is None else f"{value:,} {unit}"


def _row(plan: Plan, price: str, *, free: bool) -> PlanRow:
    notes = "Unlimited" if plan.memory_bytes is None else format_bytes(plan.memory_bytes)
    return PlanRow(
        name=plan.name,
        price=price,
        panics=_limit(plan.monthly_panics, "a month"),
        notes=notes,
        largest_file=format_bytes(plan.upload_bytes),
        free=free,
    )


def plan_rows(plans: PlanCatalog, prices: Mapping[str, str]) -> list[PlanRow]:
    """The free plan, then each paid plan of `PADDLE_PLANS` in configuration order with its `SITE_PRICES` text."""
    rows = [_row(plans.free, "Free", free=True)]
    rows += [
        _row(plan, prices.get(price_id, "Price shown at checkout"), free=False) for price_id, plan in plans.paid.items()
    ]
    return rows


def _render(
    request: web.Request, template: str, context: dict[str, Any], *, status: int = 200, paddle: bool = False
) -> web.Response:
    """`template` with the common context; `paddle` pages get a nonce and a policy that lets Paddle.js run."""
    site = request.app[SITE]
    nonce = secrets.token_urlsafe(18) if paddle else None
    full = {"site": site, "path": request.path, "nonce": nonce, "policies": POLICY_PAGES, **context}
    response = aiohttp_jinja2.render_template(template, request, full, status=status)
    response.headers["Content-Security-Policy"] = content_security_policy(nonce)
    return response


async def home(request: web.Request) -> web.Response:
    """What the bot does, the invite button and a link to the prices."""
    return _render(request, "home.html", {"title": "Improv Panic Button", "kinds": list(KINDS)})


async def pricing(request: web.Request) -> web.Response:
    """The free plan and the paid plans with their limits."""
    site = request.app[SITE]
    rows = plan_rows(site.plans, site.prices)
    return _render(request, "pricing.html", {"title": "Pricing", "rows": rows})


async def pay(request: web.Request) -> web.Response:
    """Paddle's default payment link: open the checkout for the transaction in `_ptxn`."""
    site = request.app[SITE]
    given = request.query.get("_ptxn")
    transaction_id = given if given is not None and TRANSACTION_ID.fullmatch(given) else None
    problem = None
    if site.client_token is None:
        problem = "unconfigured"
    elif given is None:
        problem = "missing"
    elif transaction_id is None:
        problem = "malformed"
    context = {
        "title": "Payment",
        "problem": problem,
        "paddle_js": PADDLE_JS,
        "pay_config": {"token": site.client_token, "environment": site.environment, "transactionId": transaction_id},
    }
    response = _render(
        request, "pay.html", context, status=400 if problem == "malformed" else 200, paddle=problem is None
    )
    response.headers["Cache-Control"] = "no-store"  # the link names a transaction
    return response


async def policy(request: web.Request) -> web.Response:
    """The operator's terms, privacy or refund policy, else the default that says it is one."""
    site = request.app[SITE]
    name = request.match_info["page"]
    filename, title = POLICY_PAGES[name]
    own = site.pages_dir / filename if site.pages_dir is not None else None
    body, is_default = await asyncio.to_thread(_read_page, own, DEFAULT_PAGES / filename)
    return _render(request, "policy.html", {"title": title, "body": Markup(body), "is_default": is_default})


def _read_page(own: Path | None, default: Path) -> tuple[str, bool]:
    """The operator's file when it exists (its first `MAX_PAGE_BYTES`), else the default."""
    if own is not None and own.is_file():
        with own.open("rb") as handle:
            return handle.read(MAX_PAGE_BYTES).decode("utf-8", errors="replace"), False
    return default.read_text(encoding="utf-8"), True


# The stylesheet and the icon, by URL name (a fixed list: nothing else under static/ is served).
STATIC_FILES: dict[str, str] = {"site.css": "text/css", "favicon.svg": "image/svg+xml"}


async def static(request: web.Request) -> web.Response:
    """One of `STATIC_FILES`; anything else is the 404 page."""
    name = request.match_info["name"]
    content_type = STATIC_FILES.get(name)
    if content_type is None:
        raise web.HTTPNotFound()
    body = await asyncio.to_thread((STATIC / name).read_bytes)
    response = web.Response(body=body, content_type=content_type, charset="utf-8")
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


async def not_found(request: web.Request) -> web.Response:
    """The 404 page (the security middleware answers unknown paths with it)."""
    return _render(request, "404.html", {"title": "Page not found"}, status=404)


def add_site(app: web.Application, config: SiteConfig) -> None:
    """Register the site's routes, templates, stylesheet and security headers on `app`."""
    app[SITE] = config
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(default=True),
        undefined=jinja2.StrictUndefined,
    )
    app.middlewares.append(security_middleware(not_found))
    app.router.add_get("/", home)
    app.router.add_get("/pricing", pricing)
    app.router.add_get("/pay", pay)
    app.router.add_get(r"/{page:terms|privacy|refunds}", policy)
    app.router.add_get("/static/{name}", static)
