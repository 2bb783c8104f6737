"""Foundation figures: console cold start for one command, and offline-harness interactions per second.

Run: `.venv/bin/python -m bench harness [--runs 5] [--interactions 500]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bot.discord.client import PanicBot
from bot.discord.offline.driver import DiscordDriver
from bot.services import open_services
from bot.settings import Settings
from db.migrate import upgrade


def console_cold_start(runs: int) -> list[float]:
    """Wall seconds for `improv console --script` running `/panic help`, new process and data dir each run."""
    improv = Path(sys.executable).with_name("improv")
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_URL", "_KEY", "_TOKEN", "_SECRET"))}
    times: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "one.txt"
        script.write_text("/panic help\n")
        for i in range(runs):
            started = time.perf_counter()
            subprocess.run(
                [str(improv), "--data-dir", f"{tmp}/d{i}", "console", "--json", "--script", str(script)],
                check=True,
                capture_output=True,
                env=env,
            )
            times.append(time.perf_counter() - started)
    return times


async def harness_rate(interactions: int) -> tuple[float, list[float]]:
    """Interactions per second and per-interaction seconds for `/panic help` through the real dispatch."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.model_validate({"data_dir": Path(tmp), "database_url": None, "redis_url": None})
        async with open_services(settings) as services:
            await upgrade(services.engine)
            driver = await DiscordDriver(lambda: PanicBot.from_services(services)).start()
            try:
                for _ in range(20):  # warm up
                    await driver.slash("panic help")
                each: list[float] = []
                started = time.perf_counter()
                for _ in range(interactions):
                    t0 = time.perf_counter()
                    await driver.slash("panic help")
                    each.append(time.perf_counter() - t0)
                total = time.perf_counter() - started
            finally:
                await driver.close()
            driver.assert_clean()
    return interactions / total, each


def main(argv: list[str]) -> int:
    """Print the figures."""
    parser = argparse.ArgumentParser(prog="python -m bench harness")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--interactions", type=int, default=500)
    args = parser.parse_args(argv)

    cold = console_cold_start(args.runs)
    print(
        f"console cold start (/panic help, fresh data dir): median {statistics.median(cold):.2f} s, "
        f"min {min(cold):.2f} s, max {max(cold):.2f} s over {len(cold)} runs"
    )
    rate, each = asyncio.run(harness_rate(args.interactions))
    each_ms = sorted(t * 1000 for t in each)
    p99 = each_ms[int(len(each_ms) * 0.99) - 1]
    print(
        f"harness: {rate:.0f} interactions/s; per interaction p50 {statistics.median(each_ms):.2f} ms, "
        f"p99 {p99:.2f} ms ({args.interactions} x /panic help)"
    )
    return 0
