"""The web door (`python -m bot.web`): `GET /healthz` and `POST /paddle/webhook` (logic in bot.billing)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys

from aiohttp import web
from sqlalchemy import text

from bot.process import freeze_startup_objects
from bot.services import Services, open_services
from bot.settings import Settings
from db.engine import create_engine

__all__ = ["create_app", "serve"]

log = logging.getLogger(__name__)

SERVICES = web.AppKey("services", Services)

# The webhook's own connection pool in the web process. No pre-ping: it costs a round trip per delivery, and a
# connection that died anyway (database restarted) fails that delivery with 503, Paddle retries, and SQLAlchemy
# drops the whole stale pool on that first disconnect error. Small on purpose: a delivery is four short round
# trips, and more concurrent transactions than this only compete for the host's cores inside PostgreSQL
# (bench webhooks, 32 deliveries in flight on 2 shared cores: ~1,100/s through 8 connections, ~900/s through 24);
# the rest wait here for a connection, in order.
WEBHOOK_POOL_SIZE = 8
WEBHOOK_POOL_OVERFLOW = 0


async def healthz(request: web.Request) -> web.Response:
    """200 when the database and the key-value store answer, else 503 naming what is down."""
    services = request.app[SERVICES]
    checks: dict[str, bool] = {}
    try:
        async with services.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        checks["database"] = True
    except Exception:
        log.warning("healthz: database unreachable")
        checks["database"] = False
    checks["kv"] = await services.kv.ping()
    status = 200 if all(checks.values()) else 503
    return web.json_response({"ok": status == 200, **checks}, status=status)


async def paddle_webhook(request: web.Request) -> web.Response:
    """Paddle Billing notifications: size cap, signature on the raw bytes, then parse and apply (see bot.billing)."""
    services = request.app[SERVICES]
    cap = services.settings.webhook_max_body_bytes
    if request.content_length is not None and request.content_length > cap:
        return web.json_response({"ok": False, "error": "body too large"}, status=413)
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(64 * 1024):
        size += len(chunk)
        if size > cap:
            return web.json_response({"ok": False, "error": "body too large"}, status=413)
        chunks.append(chunk)
    body = b"".join(chunks)
    reply = await services.billing.handle_webhook(body, request.headers.get("Paddle-Signature"))
    return web.json_response(reply.body, status=reply.status)


def create_app(services: Services) -> web.Application:
    """The aiohttp application over already-opened services."""
    app = web.Application(client_max_size=1024 * 1024)
    app[SERVICES] = services
    app.router.add_get("/healthz", healthz)
    app.router.add_post("/paddle/webhook", paddle_webhook)
    return app


async def serve(settings: Settings) -> None:
    """Open the services and serve until cancelled; refuses to start without a Paddle notification secret."""
    settings.require("paddle_webhook_secret")
    async with open_services(settings) as services, contextlib.AsyncExitStack() as stack:
        if not settings.is_sqlite:  # SQLite has no pool to tune
            webhook_engine = create_engine(
                settings.sqlalchemy_url,
                pool_pre_ping=False,
                pool_size=WEBHOOK_POOL_SIZE,
                max_overflow=WEBHOOK_POOL_OVERFLOW,
            )
            stack.push_async_callback(webhook_engine.dispose)
            services.billing.use_webhook_engine(webhook_engine)
        runner = web.AppRunner(create_app(services), access_log=None)
        await runner.setup()
        freeze_startup_objects()
        stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, settings.host, settings.port)
        await site.start()
        log.info("web endpoint listening on %s:%d", settings.host, settings.port)
        await asyncio.Event().wait()


def main() -> int:
    """`python -m bot.web`."""
    from bot.cli import main as cli_main

    return cli_main(["web"])


if __name__ == "__main__":
    sys.exit(main())
