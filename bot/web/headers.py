"""Security headers on every answer of the web process, and the Content-Security-Policy of its pages.

Pages run no script of their own origin. Every page gets a policy that allows only its stylesheet and images
(`default-src 'none'`); the payment page alone may run Paddle.js (`https://cdn.paddle.com`), its one inline
script (by a per-request nonce) and Paddle's checkout frames. No page may be framed, post a form or change
its base URL.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from multidict import CIMultiDict

__all__ = ["PADDLE_JS", "SECURITY_HEADERS", "content_security_policy", "security_middleware"]

PADDLE_JS = "https://cdn.paddle.com/paddle/v2/paddle.js"
PADDLE_SCRIPT_ORIGIN = "https://cdn.paddle.com"
# The overlay checkout is a frame from buy.paddle.com (sandbox-buy.paddle.com in sandbox); Paddle.js talks to
# Paddle's checkout service from the page.
PADDLE_FRAME_ORIGINS = ("https://buy.paddle.com", "https://sandbox-buy.paddle.com")
PADDLE_CONNECT_ORIGINS = ("https://checkout-service.paddle.com", "https://sandbox-checkout-service.paddle.com")

_BASE: dict[str, tuple[str, ...]] = {
    "default-src": ("'none'",),
    "style-src": ("'self'",),
    "img-src": ("'self'",),
    "base-uri": ("'none'",),
    "form-action": ("'none'",),
    "frame-ancestors": ("'none'",),
}

SECURITY_HEADERS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    # Paddle's checkout checks the page's origin against the approved domains; the path (the transaction) stays
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), "
    'payment=(self "' + '" "'.join(PADDLE_FRAME_ORIGINS) + '")',
    "Strict-Transport-Security": "max-age=31536000",  # browsers ignore it on plain http (local trials)
    "Cross-Origin-Resource-Policy": "same-origin",
}


def content_security_policy(nonce: str | None = None) -> str:
    """The policy of a page; with `nonce`, the payment page's: Paddle.js, the script carrying the nonce,
    Paddle's frames and API, and inline styles (Paddle.js styles its overlay)."""
    policy = dict(_BASE)
    if nonce is not None:
        policy["script-src"] = (f"'nonce-{nonce}'", PADDLE_SCRIPT_ORIGIN)
        policy["frame-src"] = PADDLE_FRAME_ORIGINS
        policy["connect-src"] = PADDLE_CONNECT_ORIGINS
        policy["style-src"] = ("'self'", "'unsafe-inline'")
        policy["img-src"] = ("'self'", "data:", PADDLE_SCRIPT_ORIGIN)
    return "; ".join(f"{directive} {' '.join(sources)}" for directive, sources in policy.items())


def _secure(headers: CIMultiDict[str]) -> None:
    headers.setdefault("Content-Security-Policy", content_security_policy())
    for name, value in SECURITY_HEADERS.items():
        headers.setdefault(name, value)


def security_middleware(not_found: Callable[[web.Request], Awaitable[web.Response]]) -> Middleware:
    """A middleware adding `SECURITY_HEADERS` and the default policy to every answer (errors included) and
    answering unknown paths with `not_found`."""

    @web.middleware
    async def secure(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            response = await handler(request)
        except web.HTTPNotFound:
            response = await not_found(request)
        except web.HTTPException as exc:
            _secure(exc.headers)
            raise
        _secure(response.headers)
        return response

    return secure
