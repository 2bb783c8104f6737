"""The site as the Procfile runs it: `python -m bot.web` configured by environment variables alone serves the
pages from its package (templates, stylesheet), the operator's policy file, and logs the payment link to set
in Paddle."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from pathlib import Path

from aiohttp import ClientSession

from bot.invite import invite_url
from tests.test_web_limits import free_port
from tests.web.browser import APPLICATION_ID, CLIENT_TOKEN, PLANS, PRICES, TRANSACTION, WEBHOOK_SECRET


async def test_python_m_bot_web_serves_the_site(tmp_path: Path) -> None:
    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "privacy.html").write_text("<h1>Privacy</h1><p>We keep guild ids only.</p>", encoding="utf-8")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "OPENAI_", "PINECONE_", "PADDLE_"))}
    env.update(
        IMPROV_DATA_DIR=str(tmp_path / "data"),
        DATABASE_URL="",
        REDIS_URL="",
        PADDLE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        PADDLE_PLANS=json.dumps(PLANS),
        SITE_PRICES=json.dumps(PRICES),
        PADDLE_CLIENT_TOKEN=CLIENT_TOKEN,
        DISCORD_APPLICATION_ID=str(APPLICATION_ID),
        PUBLIC_BASE_URL="https://improv.example.test/",
        SITE_PAGES_DIR=str(pages),
        PORT=str(port),
        IMPROV_WEB_HOST="127.0.0.1",
        IMPROV_LOG_LEVEL="INFO",
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.web", env=env, stderr=asyncio.subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with ClientSession() as http:
            async with asyncio.timeout(60):
                while True:
                    with contextlib.suppress(OSError):
                        async with http.get(url + "/healthz"):
                            break
                    await asyncio.sleep(0.2)
            async with http.get(url + "/") as resp:
                home = await resp.text()
            assert resp.status == 200
            assert invite_url(APPLICATION_ID).replace("&", "&amp;") in home
            assert '<link rel="canonical" href="https://improv.example.test/">' in home
            async with http.get(url + "/static/site.css") as resp:
                assert resp.status == 200
                assert resp.content_type == "text/css"
            async with http.get(url + "/pricing") as resp:
                assert "$12 a month" in await resp.text()
            async with http.get(url + f"/pay?_ptxn={TRANSACTION}") as resp:
                assert f'"transactionId": "{TRANSACTION}"' in await resp.text()
            async with http.get(url + "/privacy") as resp:
                assert "We keep guild ids only." in await resp.text()
    finally:
        proc.terminate()
        _, stderr = await proc.communicate()
    assert "site: set Paddle's default payment link to https://improv.example.test/pay" in stderr.decode()
