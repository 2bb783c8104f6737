"""Hostile imports while another guild panics: each hostile file is imported through the real bot (offline
harness, `/campaign import`) while `/panic npc` runs back to back in another guild; prints the panics' p50/p99
with no import running and during each import, and each import's time, outcome and memory.

Files (generated, small by default): the worst case of the six patterns issue 15 found super-linear (100 KB
each), a DOCX of 193 MB of tiny paragraphs packed into 1.7 MB (passes the zip guard), a DOCX over the element
limit, a PDF whose one content stream unpacks 597 KB into 600 MB, a PDF of 2,001 pages, and, with `--big`, 19 MB
of plain Markdown read under a 1-second parse limit (the kill path).

Run: `.venv/bin/python -m bench hostile [--big] [--panics-before 200]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bot.discord.offline.driver import DiscordDriver
from bot.memory.parsing.pool import shared_pool
from bot.services import open_services
from bot.settings import Settings
from db.migrate import upgrade
from tests.memory.hostile_files import WORST_LINES, docx_of_paragraphs, pdf_of_pages, slow_notes
from tests.memory.memory_support import HashingEmbedder
from tests.support.discord import running_bot

OTHER_GUILD = 515151
ISSUE_PATTERNS = ["atx", "table separator", "html comment", "link", "liquid tag", "html tag"]


def _files(big: bool) -> list[tuple[str, Callable[[], bytes]]]:
    files: list[tuple[str, Callable[[], bytes]]] = [
        (f"redos-{case.replace(' ', '-')}.md", lambda case=case: _redos(case))  # type: ignore[misc]
        for case in ISSUE_PATTERNS
    ]
    files += [
        ("tiny-paragraphs.docx", lambda: docx_of_paragraphs(193, block=720)),
        ("many-elements.docx", lambda: docx_of_paragraphs(40)),
        ("stream-bomb.pdf", lambda: pdf_of_pages(["The Salty Eel is a tavern."], padding=600 * 1024 * 1024)),
        ("many-pages.pdf", lambda: pdf_of_pages(["The Salty Eel is a tavern on the docks."] * 2001)),
    ]
    if big:
        files.append(("slow-19mb.md", lambda: slow_notes(19)))
    return files


def _redos(case: str) -> bytes:
    return ("# Notes\n\n" + WORST_LINES[case] + "\n\nThe Salty Eel is a tavern on the docks.\n").encode()


def _generate(directory: Path, big: bool) -> None:
    """Write the hostile files (run in a child process, so generating them does not count in the bot's memory)."""
    for name, make in _files(big):
        (directory / name).write_bytes(make())


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _rss_mb(pid: int, field: str = "VmHWM") -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


async def _panic_loop(sim: DiscordDriver, stop: asyncio.Event, out: list[float]) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        ex = await sim.slash("panic npc", guild_id=OTHER_GUILD)
        out.append((time.perf_counter() - started) * 1000)
        assert ex.message.embeds, ex


async def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory() as files:
        command = [sys.executable, "-m", "bench.hostile", "--generate", files] + (["--big"] if args.big else [])
        generator = await asyncio.create_subprocess_exec(*command)
        if await generator.wait() != 0:
            return 1
        settings = Settings.embedded(
            Path(tmp), panic_cooldown_seconds=0, parse_timeout_seconds=1.0 if args.big else 60.0
        )
        async with open_services(settings) as services:
            await upgrade(services.engine)
            services.memory.embedder = HashingEmbedder(384)
            pool = shared_pool()
            async with running_bot(services, check=False) as sim:
                baseline: list[float] = []
                for _ in range(args.panics_before):
                    started = time.perf_counter()
                    await sim.slash("panic npc", guild_id=OTHER_GUILD)
                    baseline.append((time.perf_counter() - started) * 1000)
                print(f"worker start-up {pool.last_start_seconds or float('nan'):.3f} s (warm worker kept)")
                print(
                    f"panics, no import: n={len(baseline)} p50 {statistics.median(baseline):.1f} ms "
                    f"p99 {_percentile(baseline, 0.99):.1f} ms"
                )
                print(f"{'file':26} {'size':>8} {'import s':>8} {'panics':>6} {'p99 ms':>6} {'worker':>6}  outcome")
                for name, _make in _files(args.big):
                    data = (Path(files) / name).read_bytes()
                    stop = asyncio.Event()
                    during: list[float] = []
                    panics = asyncio.create_task(_panic_loop(sim, stop, during))
                    started = time.perf_counter()
                    ex = await sim.slash("campaign import", file=sim.attachment(name, data, None))
                    seconds = time.perf_counter() - started
                    stop.set()
                    await panics
                    embed = ex.message.embeds[0]
                    outcome = (embed.get("description") or embed.get("title") or "").split("\n")[0][:90]
                    p99 = _percentile(during, 0.99) if during else float("nan")
                    worker = max((_rss_mb(w.process.pid) for w in list(pool._workers)), default=float("nan"))
                    print(
                        f"{name:26} {len(data) // 1024:>6} K {seconds:>8.2f} {len(during):>6} {p99:>6.1f} "
                        f"{worker:>4.0f} M  {outcome}"
                    )
                print(f"bot process peak RSS {_rss_mb(os.getpid()):.0f} MB (worker: peak RSS of the live worker after")
                print("the import; a killed worker's successor shows its own start, the kill bounds the old one)")
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench hostile")
    parser.add_argument("--big", action="store_true", help="also 19 MB of Markdown under a 1-second parse limit")
    parser.add_argument("--panics-before", type=int, default=200, help="panics measured with no import running")
    parser.add_argument("--generate", metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.generate:
        _generate(Path(args.generate), args.big)
        return 0
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
