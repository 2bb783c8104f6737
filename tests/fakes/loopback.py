"""Serving a fake's aiohttp app on a free loopback port: one home for the fakes and test servers."""

from __future__ import annotations

from aiohttp import web

__all__ = ["serve_loopback"]


async def serve_loopback(app: web.Application) -> tuple[web.AppRunner, int]:
    """Serve `app` on 127.0.0.1 at a free port, without an access log: the runner (clean it up) and the port."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, int(runner.addresses[0][1])
