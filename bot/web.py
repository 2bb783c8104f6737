"""The web door (`python -m bot.web`): `GET /healthz` and `POST /paddle/webhook` (logic in bot.billing)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys

from aiohttp import web
from sqlalchemy import text

from bot.logs import configure_logging
from bot.process import freeze_startup_objects
from bot.services import Services, open_services
from bot.settings import ConfigError, Settings, load_settings
from bot.tasks import Stopped, run_until_terminated

__all__ = ["create_app", "main", "serve"]

log = logging.getLogger(__name__)

SERVICES = web.AppKey("services", Services)


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
    """Open the web process's services and serve until cancelled; refuses to start without a Paddle notification
    secret."""
    settings.require("paddle_webhook_secret")
    async with open_services(settings, webhook_pool=True) as services, contextlib.AsyncExitStack() as stack:
        runner = web.AppRunner(create_app(services), access_log=None)
        await runner.setup()
        freeze_startup_objects()
        stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, settings.host, settings.port)
        await site.start()
        log.info("web endpoint listening on %s:%d", settings.host, settings.port)
        await asyncio.Event().wait()


async def _serve(settings: Settings) -> int:
    await serve(settings)
    return 0


def main() -> int:
    """`python -m bot.web` (the Procfile's web process; `improv web` serves the same way)."""
    try:
        settings = load_settings()
        configure_logging(settings.log_level)
        asyncio.run(run_until_terminated(_serve(settings)))
    except ConfigError as exc:
        print(f"improv: {exc}", file=sys.stderr)
        return 2
    except Stopped:  # SIGTERM: the server and the services closed cleanly
        return 0
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
