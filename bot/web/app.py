"""The web door (`python -m bot.web`): `GET /healthz`, `POST /paddle/webhook` (logic in bot.billing) and the
site (`bot.web.site`: home, pricing, the payment page, policies).

Hostile or broken peers cannot hold it up: a connection must send its request's headers within
`WEB_HEADER_TIMEOUT_SECONDS` (from connecting, or from the previous answer: aiohttp's keep-alive timer) and a
webhook's body within `WEB_BODY_TIMEOUT_SECONDS`, or it is dropped; beyond `WEB_MAX_CONNECTIONS` a new connection
gets 503 at once; a webhook's database work is bounded by `WEBHOOK_DB_TIMEOUT_SECONDS` (then 503, Paddle retries)
and its signature's age is measured from the request's arrival; `/healthz` answers within a second.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web
from sqlalchemy import text

from bot.logs import configure_logging
from bot.process import freeze_startup_objects
from bot.services import Services, open_services
from bot.settings import ConfigError, Settings, env_name, load_settings
from bot.tasks import Stopped, run_until_terminated
from bot.web.site import SiteConfig, add_site

__all__ = ["HEALTH_TIMEOUT_SECONDS", "Listener", "WebLimits", "create_app", "listen", "main", "serve"]

log = logging.getLogger(__name__)

# `/healthz` answers within this, saying which service has not answered by then (a load balancer or platform
# health check typically gives up after a second or two).
HEALTH_TIMEOUT_SECONDS = 0.8
# A connection over the cap gets this and is closed (Paddle retries any non-2xx answer).
_BUSY_BODY = b'{"ok": false, "error": "server busy"}'
BUSY_ANSWER = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json; charset=utf-8\r\n"
    b"Content-Length: %d\r\nRetry-After: 1\r\nConnection: close\r\n\r\n%s" % (len(_BUSY_BODY), _BUSY_BODY)
)
# How long a refused connection may keep sending before it is cut.
BUSY_LINGER_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class WebLimits:
    """How patient the web door is with clients and with the database."""

    header_seconds: float = 5
    body_seconds: float = 5
    max_connections: int = 2048
    database_seconds: float = 2
    health_seconds: float = HEALTH_TIMEOUT_SECONDS

    @classmethod
    def from_settings(cls, settings: Settings) -> WebLimits:
        """The limits configured by `WEB_*` and `WEBHOOK_DB_TIMEOUT_SECONDS`."""
        return cls(
            header_seconds=settings.web_header_timeout_seconds,
            body_seconds=settings.web_body_timeout_seconds,
            max_connections=settings.web_max_connections,
            database_seconds=settings.webhook_db_timeout_seconds,
        )


class Health:
    """Bounded probes of the database and the key-value store. Requests that arrive while a probe is running
    share it; a probe still unanswered at its deadline is cancelled (its cleanup finishes in the background)."""

    def __init__(self, services: Services, timeout: float) -> None:
        self._checks: dict[str, Callable[[], Awaitable[bool]]] = {
            "database": lambda: _database_answers(services),
            "kv": services.kv.ping,
        }
        self._timeout = timeout
        self._running: dict[str, tuple[asyncio.Task[bool], float]] = {}
        self._lingering: set[asyncio.Task[bool]] = set()

    async def check(self) -> dict[str, bool]:
        """Each service's state, within the timeout: False when it failed or has not answered."""
        probes = {name: self._probe(name) for name in self._checks}
        loop = asyncio.get_running_loop()
        wait = max(deadline for _, deadline in probes.values()) - loop.time()
        await asyncio.wait([task for task, _ in probes.values()], timeout=max(wait, 0))
        states: dict[str, bool] = {}
        for name, (task, _) in probes.items():
            states[name] = task.done() and not task.cancelled() and task.exception() is None and task.result()
            if not task.done():
                log.warning("healthz: %s did not answer within %g s", name, self._timeout)
        return states

    def _probe(self, name: str) -> tuple[asyncio.Task[bool], float]:
        loop = asyncio.get_running_loop()
        running = self._running.get(name)
        if running is not None and not running[0].done() and loop.time() < running[1]:
            return running
        task = asyncio.ensure_future(self._checks[name]())
        deadline = loop.time() + self._timeout
        self._running[name] = (task, deadline)
        self._lingering.add(task)
        task.add_done_callback(self._lingering.discard)
        task.add_done_callback(_retrieve)
        loop.call_at(deadline, task.cancel)
        return task, deadline


def _retrieve(task: asyncio.Task[bool]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("healthz probe failed: %s", type(task.exception()).__name__)


async def _database_answers(services: Services) -> bool:
    async with services.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
    return True


SERVICES = web.AppKey("services", Services)
LIMITS = web.AppKey("limits", WebLimits)
HEALTH = web.AppKey("health", Health)


async def healthz(request: web.Request) -> web.Response:
    """200 when the database and the key-value store answer within a second, else 503 naming what is down."""
    checks = await request.app[HEALTH].check()
    status = 200 if all(checks.values()) else 503
    return web.json_response({"ok": status == 200, **checks}, status=status)


async def paddle_webhook(request: web.Request) -> web.Response:
    """Paddle Billing notifications: size cap and body deadline, signature on the raw bytes checked against the
    arrival time, then parse and apply within the database bound (see bot.billing)."""
    received_at = time.time()  # before the body is read or anything waits for the database
    services, limits = request.app[SERVICES], request.app[LIMITS]
    cap = services.settings.webhook_max_body_bytes
    if request.content_length is not None and request.content_length > cap:
        return web.json_response({"ok": False, "error": "body too large"}, status=413)
    try:
        async with asyncio.timeout(limits.body_seconds):
            body = await _read_body(request, cap)
    except TimeoutError:
        log.info("webhook body not received within %g s; connection dropped", limits.body_seconds)
        response = web.json_response({"ok": False, "error": "body not received in time"}, status=408)
        response.force_close()
        return response
    if body is None:
        return web.json_response({"ok": False, "error": "body too large"}, status=413)
    reply = await services.billing.handle_webhook(
        body,
        request.headers.get("Paddle-Signature"),
        received_at=received_at,
        db_timeout_seconds=limits.database_seconds,
    )
    return web.json_response(reply.body, status=reply.status)


async def _read_body(request: web.Request, cap: int) -> bytes | None:
    """The whole body, or None once it passes `cap` bytes."""
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(64 * 1024):
        size += len(chunk)
        if size > cap:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(services: Services, limits: WebLimits | None = None) -> web.Application:
    """The aiohttp application over already-opened services, site included (`listen` adds the connection-level
    limits)."""
    limits = limits or WebLimits.from_settings(services.settings)
    app = web.Application(client_max_size=1024 * 1024)
    app[SERVICES] = services
    app[LIMITS] = limits
    app[HEALTH] = Health(services, limits.health_seconds)
    app.router.add_get("/healthz", healthz)
    app.router.add_post("/paddle/webhook", paddle_webhook)
    add_site(app, SiteConfig.from_settings(services.settings, billing_enabled=services.billing.enabled))
    return app


class _Counted(asyncio.Protocol):
    """aiohttp's request handler for one connection, counted against the cap until the connection is lost."""

    __slots__ = ("_gate", "_inner")

    def __init__(self, inner: asyncio.Protocol, gate: _Gate) -> None:
        self._inner = inner
        self._gate = gate

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._gate.open -= 1
        self._inner.connection_lost(exc)


class _Busy(asyncio.Protocol):
    """A connection over the cap: answer 503, half-close, discard what the client still sends, cut it soon."""

    def __init__(self) -> None:
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(BUSY_ANSWER)
        # closing with the request unread would reset the connection, and the client could lose the answer
        if transport.can_write_eof():
            transport.write_eof()
        self._timer = asyncio.get_running_loop().call_later(BUSY_LINGER_SECONDS, transport.abort)

    def data_received(self, data: bytes) -> None:
        pass

    def eof_received(self) -> bool:
        return False  # close

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()


@dataclass(slots=True)
class _Gate:
    """Hands each new connection to aiohttp while fewer than `cap` are open, else to `_Busy`."""

    server: web.Server
    cap: int
    open: int = 0
    refused: int = 0

    def __call__(self) -> asyncio.Protocol:
        if self.open >= self.cap:
            self.refused += 1
            if self.refused == 1 or self.refused % 1000 == 0:
                log.warning("web: %d connections open (the cap); refused %d so far", self.open, self.refused)
            return _Busy()
        self.open += 1
        return _Counted(self.server(), self)


@dataclass(slots=True)
class Listener:
    """A listening web endpoint: its address and how many connections it is serving."""

    host: str
    port: int
    _gate: _Gate = field(repr=False)

    @property
    def url(self) -> str:
        """Base URL, e.g. `http://127.0.0.1:8080`."""
        return f"http://{self.host}:{self.port}"

    @property
    def connections(self) -> int:
        """Connections being served now (refused ones not counted)."""
        return self._gate.open

    @property
    def refused(self) -> int:
        """Connections refused with 503 so far because the cap was reached."""
        return self._gate.refused


@asynccontextmanager
async def listen(services: Services, host: str, port: int, limits: WebLimits | None = None) -> AsyncIterator[Listener]:
    """Serve the app on `host:port` (0 picks a free port) with every limit of `limits` until the block exits."""
    limits = limits or WebLimits.from_settings(services.settings)
    runner = web.AppRunner(
        create_app(services, limits),
        access_log=None,
        # aiohttp's keep-alive timer runs from the moment a connection opens and from each answer, and closes the
        # connection if no complete request has arrived by then: that is the header timeout
        keepalive_timeout=limits.header_seconds,
        # after an early answer (413, 408) the rest of a body is read and dropped for at most this long
        lingering_time=limits.body_seconds,
        shutdown_timeout=limits.header_seconds + limits.body_seconds,
    )
    await runner.setup()
    try:
        assert runner.server is not None
        gate = _Gate(runner.server, limits.max_connections)
        server = await asyncio.get_running_loop().create_server(
            gate, host, port, backlog=min(limits.max_connections, 4096), reuse_address=True
        )
        try:
            bound_host, bound_port = server.sockets[0].getsockname()[:2]
            yield Listener(bound_host, bound_port, gate)
        finally:
            server.close()
    finally:
        await runner.cleanup()


async def serve(settings: Settings) -> None:
    """Open the web process's services and serve until cancelled; refuses to start without a Paddle notification
    secret."""
    settings.require("paddle_webhook_secret")
    _allow_open_files(settings.web_max_connections + 512)  # room for the cap, the pools and the process's files
    async with (
        open_services(settings, webhook_pool=True) as services,
        listen(services, settings.host, settings.port) as listener,
    ):
        freeze_startup_objects()
        log.info("web endpoint listening on %s:%d", listener.host, listener.port)
        _log_site_setup(settings)
        await asyncio.Event().wait()


async def _serve(settings: Settings) -> int:
    await serve(settings)
    return 0


def _log_site_setup(settings: Settings) -> None:
    """One line on what the payment page needs that is not set (the site serves without it)."""
    if settings.public_base_url is not None:
        log.info("site: set Paddle's default payment link to %s/pay", settings.public_base_url)
    missing = [
        env_name(name)
        for name in ("public_base_url", "paddle_client_token", "discord_application_id")
        if getattr(settings, name) is None
    ]
    if missing:
        log.warning("site: %s not set; the pages that need them say so to visitors", ", ".join(missing))


def _allow_open_files(wanted: int) -> None:
    """Raise the soft limit on open files towards `wanted` (within the hard limit): a common default of 1,024 would
    otherwise refuse connections below the connection cap."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        log.info("web: open-file limit raised from %d to %d", soft, target)


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
