"""Screenshots of the site for the docs: `.venv/bin/python -m scripts.site_screenshots` (from the repository root)
writes docs/site-home.png, docs/site-pricing.png and docs/site-pay.png.

The real web app runs on a loopback port with the browser tests' configuration (two paid plans, a sandbox
client-side token) and headless Debian Chromium (`apt-get install chromium`) shows it; Paddle.js is the tests'
local stand-in, so the payment page is shown after the stand-in reports a completed checkout (Paddle's own
overlay is not drawn).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from tests.web.browser import CHROMIUM, TRANSACTION, chromium, serving, site_settings, visit

DOCS = Path(__file__).resolve().parent.parent / "docs"
PAGES = {"home": "/", "pricing": "/pricing", "pay": f"/pay?_ptxn={TRANSACTION}"}


async def take(out: Path) -> list[Path]:
    """Serve the site, open each page and save a full-page screenshot; refuse pages with problems."""
    written: list[Path] = []
    with tempfile.TemporaryDirectory() as data:
        async with serving(site_settings(Path(data))) as site, chromium() as browser:
            for name, path in PAGES.items():
                seen = await visit(browser, site, path)
                if name == "pay":
                    await seen.page.evaluate("window.__paddleStandin.emit('checkout.completed', {})")
                    await seen.page.wait_for_selector("[data-state=completed]:not([hidden])")
                problems = await seen.all_problems()
                if problems:
                    raise SystemExit(f"{path}: {problems}")
                target = out / f"site-{name}.png"
                await seen.page.screenshot(path=str(target), full_page=True)
                await seen.page.context.close()
                written.append(target)
    return written


def main() -> int:
    if not CHROMIUM.exists():
        print(f"site_screenshots: {CHROMIUM} is missing (apt-get install chromium)", file=sys.stderr)
        return 2
    for path in asyncio.run(take(DOCS)):
        print(path.relative_to(DOCS.parent))
    return 0


if __name__ == "__main__":
    sys.exit(main())
