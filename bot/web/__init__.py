"""The web process (`python -m bot.web`, `improv web`): the Paddle webhook, `/healthz` and the site.

`bot.web.app` holds the server and its limits, `bot.web.site` the pages, `bot.web.headers` the security
headers; templates and the stylesheet ship as package data.
"""

from __future__ import annotations

from bot.web.app import HEALTH_TIMEOUT_SECONDS, Listener, WebLimits, create_app, listen, main, serve

__all__ = ["HEALTH_TIMEOUT_SECONDS", "Listener", "WebLimits", "create_app", "listen", "main", "serve"]
