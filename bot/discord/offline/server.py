"""`FakeDiscord` over real HTTP on loopback, so discord.py's own HTTP stack (its JSON and multipart bodies, its
error parsing and its rate-limit handling) talks to it exactly as it talks to discord.com.

Responses carry Discord's rate-limit headers; `rate_limit()` makes chosen routes answer 429 the way Discord does
(topics/rate-limits: `retry_after` and `global` in the body, `X-RateLimit-*` headers, `Via`, which discord.py
requires before it trusts a 429 as Discord's rather than Cloudflare's).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.discord.offline.fake_discord import FakeDiscord
from bot.discord.offline.rules import FakeHTTPError

__all__ = ["API_PREFIX", "FakeDiscordServer", "RateLimit"]

API_PREFIX = "/api/v10"
_WEBHOOK_ROUTE = re.compile(r"(POST /interactions/|[A-Z]+ /webhooks/)")


@dataclass(slots=True)
class RateLimit:
    """The next `times` requests matching `pattern` (a regex on "METHOD /path") are answered 429."""

    pattern: str
    retry_after: float
    times: int
    global_: bool


class FakeDiscordServer:
    """An aiohttp server answering `https://discord.com/api/v10/...` requests from `fake` on a loopback port."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.port = 0
        self.limits: list[RateLimit] = []
        self.limited: list[str] = []  # routes answered 429, in order
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        """What replaces `https://discord.com/api/v10` in discord.py's URLs."""
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    def rate_limit(self, pattern: str, *, retry_after: float = 0.2, times: int = 1, global_: bool = False) -> None:
        """Answer the next `times` requests whose "METHOD /path" matches `pattern` with 429."""
        self.limits.append(RateLimit(pattern, retry_after, times, global_))

    async def start(self) -> None:
        """Listen on a free loopback port."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = int(server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]

    async def close(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.Response:
        path = request.path.removeprefix(API_PREFIX)
        route = f"{request.method} {path}"
        limit = next((lim for lim in self.limits if lim.times > 0 and re.search(lim.pattern, route)), None)
        if limit is not None:
            limit.times -= 1
            self.limited.append(route)
            return _too_many(limit)
        body = await _body(request)
        webhook = bool(_WEBHOOK_ROUTE.match(route))
        if not webhook and not request.headers.get("Authorization", "").startswith("Bot "):
            return _json({"message": "401: Unauthorized", "code": 0}, 401, {})
        try:
            if webhook:
                result = self.fake.webhook(request.method, path, body)
            else:
                result = self.fake.rest(request.method, path, body)
        except FakeHTTPError as err:
            return _json(err.body(), err.status, _headers(route, remaining=4))
        if result is None:
            return web.Response(status=204, headers=_headers(route, remaining=4))
        return _json(result, 200, _headers(route, remaining=4))


def _json(body: Any, status: int, headers: dict[str, str]) -> web.Response:
    """JSON with Discord's exact `Content-Type` (discord.py reads a body as JSON only for this exact value)."""
    return web.Response(
        body=json.dumps(body).encode(), status=status, headers={**headers, "Content-Type": "application/json"}
    )


async def _body(request: web.Request) -> Any:
    """The JSON body, or `payload_json` of a multipart body (files are read and dropped)."""
    if request.content_type.startswith("multipart/"):
        payload: Any = None
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            data = await part.read()  # type: ignore[union-attr]
            if getattr(part, "name", None) == "payload_json":
                payload = json.loads(data)
        return payload
    raw = await request.read()
    return json.loads(raw) if raw else None


def _headers(route: str, *, remaining: int, reset_after: float = 1.0) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
        "X-RateLimit-Reset-After": f"{reset_after:.3f}",
        "X-RateLimit-Bucket": format(abs(hash(route.split(" ", 1)[0] + re.sub(r"\d{15,}", "", route))), "x"),
        "Via": "1.1 google",
    }


def _too_many(limit: RateLimit) -> web.Response:
    headers = _headers("limited", remaining=0, reset_after=limit.retry_after)
    headers["Retry-After"] = str(max(1, round(limit.retry_after)))
    headers["X-RateLimit-Scope"] = "global" if limit.global_ else "user"
    if limit.global_:
        headers["X-RateLimit-Global"] = "true"
    body = {"message": "You are being rate limited.", "retry_after": limit.retry_after, "global": limit.global_}
    return _json(body, 429, headers)
