"""Panic-path figures through the real bot (offline harness) and the real `openai` client, fake model at 800 ms.

1. Acknowledgement latency under N concurrent `/panic npc details:…` from different GMs (goal p99 < 20 ms).
2. Bot overhead per panic with a 10k-chunk campaign: end to end minus model time (goal p50 < 15 ms), for one
   panic at a time (the honest per-panic cost) and for C panics at once from C GMs (each panic's own model time
   is matched to it by its details). Every panic has different details (no query is ever repeated).
3. Pool hit, button click to final embed (goal p50 < 150 ms).
4. Prompt tokens per panic (estimated as the budget counts them, and as the fake model counts len/4).

The guild's 10,000 chunks are written straight into the database and the local vector store (random unit
vectors, like `bench query_latency`); the query is embedded by the real local MiniLM model, so retrieval costs
what it costs in the embedded default.

Run: `.venv/bin/python -m bench panic [--concurrent 200] [--panics 30] [--overlap 20] [--pool-clicks 20]
[--chunks 10000] [--discord-latency 0]` (`--discord-latency 0.05`: every request to Discord takes 50 ms to
arrive, as over a real network; the acknowledgement figures then include it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from aiohttp import web
from sqlalchemy import func, insert, select

import bot.improv.engine
from bench._corpus import WORDS, unit_rows
from bot.discord.client import PanicBot
from bot.discord.offline.driver import BASIC_PERMISSIONS, MANAGE_GUILD, DiscordDriver, FakeUser
from bot.discord.offline.fake_discord import FakeDiscord
from bot.improv.prompts import Prompt, build_prompt
from bot.memory.stores import VectorRecord
from bot.services import Services, open_services
from bot.settings import Settings
from db.migrate import upgrade
from db.models.campaign import CampaignChunk, CampaignDocument, CampaignMemoryRecord, DocumentStatus
from db.models.guild import Guild
from db.models.panic import Panic
from tests.fakes.openai import API_KEY, FakeOpenAI

MODEL_SECONDS = 0.8
DOCS = 50
PLACES = ["Emberfall", "Ashmoor", "Greywater", "Highcairn", "Lanternholt", "Thornvale", "Saltmere", "Duskwood"]
PEOPLE = [
    "Mira Voss",
    "Harl Denby",
    "Orrin Gale",
    "Sefa Quill",
    "Tamsin Roe",
    "Bram Holloway",
    "Idris Fenn",
    "Kaela Marsh",
]


def pct(values: Sequence[float], q: float) -> float:
    """The q-quantile in milliseconds."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


ADJECTIVES = ["bitter", "quiet", "young", "scarred", "greedy", "pious", "drunken", "careful", "loud", "exiled"]


def request_marker(body: dict[str, Any]) -> str:
    """The request line of a chat body (`Request (NPC): …`), which carries the panic's details."""
    for message in body.get("messages", []):
        for line in str(message.get("content", "")).splitlines():
            if line.startswith("Request ("):
                return line.split(": ", 1)[-1].strip()
    return ""


class TimedFake(FakeOpenAI):
    """The fake model with a fixed 800 ms before its answer; appends each answer's details and seconds to a file."""

    times_file: Path

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        marker = request_marker(await request.json())  # aiohttp keeps the body for the fake to read again
        await asyncio.sleep(MODEL_SECONDS)
        response = await super()._chat(request)
        with self.times_file.open("a") as out:
            out.write(json.dumps([marker, time.perf_counter() - started]) + "\n")
        return response


async def serve_fake(folder: Path) -> None:
    """Run the fake model until killed, in its own process (so its CPU is not the bot's)."""
    fake = TimedFake()
    fake.times_file = folder / "model_times.txt"
    await fake.start()
    (folder / "port.tmp").write_text(fake.base_url)
    (folder / "port.tmp").rename(folder / "port")
    await asyncio.Event().wait()


class FakeModelProcess:
    """The fake model server in a child process."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.process = subprocess.Popen([sys.executable, "-m", "bench", "panic", "--serve-fake", str(folder)])
        deadline = time.monotonic() + 30
        while not (folder / "port").exists():
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("the fake model server did not start")
            time.sleep(0.05)
        self.base_url = (folder / "port").read_text()

    def model_times(self) -> list[float]:
        return [seconds for _, seconds in self.answers()]

    def answers(self) -> list[tuple[str, float]]:
        """(details, model seconds) of every answer so far, in order."""
        path = self.folder / "model_times.txt"
        if not path.exists():
            return []
        return [(str(m), float(t)) for m, t in (json.loads(line) for line in path.read_text().splitlines() if line)]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


class AckClock(FakeDiscord):
    """The fake Discord, noting when each interaction arrived and when it was first acknowledged."""

    def __init__(self) -> None:
        super().__init__()
        self.created_at: dict[int, float] = {}
        self.acked_at: dict[int, float] = {}

    def register_interaction(self, interaction_id: int, *args: Any) -> None:
        self.created_at[interaction_id] = time.perf_counter()
        super().register_interaction(interaction_id, *args)

    def _callback(self, interaction_id: int, token: str, body: dict[str, Any]) -> dict[str, Any]:
        self.acked_at.setdefault(interaction_id, time.perf_counter())
        return super()._callback(interaction_id, token, body)


async def populate(services: Services, guild_id: int, chunks: int) -> None:
    """A guild with `chunks` chunks over `DOCS` documents, its canon roster, and matching local vectors."""
    memory = services.memory
    dim = memory.embedder.dimension
    rng = np.random.default_rng(7)
    per_doc = chunks // DOCS
    async with services.sessionmaker.begin() as session:
        await session.execute(insert(Guild).values(id=guild_id, name="bench"))
        session.add(
            CampaignMemoryRecord(
                guild_id=guild_id,
                embedder_id=memory.embedder.id,
                dimension=dim,
                store_location="local",
                canon_names=[*PEOPLE, *PLACES],
            )
        )
        for d in range(DOCS):
            doc = f"{d:032x}"
            row = CampaignDocument(
                guild_id=guild_id,
                document_id=doc,
                file_name=f"session-{d:02d}.md",
                kind="markdown",
                size_bytes=per_doc * 800,
                chunk_count=per_doc,
                player_safe=d % 4 == 0,
                status=DocumentStatus.READY,
            )
            session.add(row)
            await session.flush()
            rows = []
            for i in range(per_doc):
                person, place = PEOPLE[(d + i) % len(PEOPLE)], PLACES[(d * 3 + i) % len(PLACES)]
                filler = " ".join(WORDS[(d + i + j) % len(WORDS)] for j in range(90))
                rows.append(
                    {
                        "guild_id": guild_id,
                        "document_row_id": row.id,
                        "document_id": doc,
                        "chunk_id": f"{doc}:{i:05d}",
                        "index": i,
                        "text": f"{person} was seen in {place} near the {WORDS[i % len(WORDS)]}. {filler}",
                        "heading": f"Session {d} › {place}",
                        "page": None,
                    }
                )
            if rows:
                await session.execute(insert(CampaignChunk), rows)
            matrix = unit_rows(rng, per_doc, dim)
            if per_doc:
                await memory.store.upsert(
                    guild_id,
                    [VectorRecord(f"{doc}:{i:05d}", doc, matrix[i], player_safe=d % 4 == 0) for i in range(per_doc)],
                )


prompts: list[Prompt] = []


def _recording_build_prompt(*args: Any, **kwargs: Any) -> Prompt:
    prompt = build_prompt(*args, **kwargs)
    prompts.append(prompt)
    return prompt


def rival(i: int) -> str:
    """Details that differ for every panic (so no query is ever repeated)."""
    return (
        f"a {ADJECTIVES[i % len(ADJECTIVES)]} rival of {PEOPLE[i % len(PEOPLE)]} "
        f"near the {WORDS[(i * 7) % len(WORDS)]} of {PLACES[(i // 3) % len(PLACES)]}, number {i}"
    )


def overheads_of(totals: dict[str, float], answers: list[tuple[str, float]]) -> list[float]:
    """End to end minus the model's own time, per panic (matched by details; panics the model never answered,
    e.g. from the tables, are left out)."""
    model = dict(answers)
    return [total - model[details] for details, total in totals.items() if details in model]


def gm(n: int) -> FakeUser:
    return FakeUser(10_000 + n, f"gm{n}", BASIC_PERMISSIONS | MANAGE_GUILD)


async def run(
    concurrent: int,
    panics: int,
    pool_clicks: int,
    chunks: int,
    max_inflight: int = 0,
    overlap: int = 20,
    discord_latency: float = 0.0,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    bot.improv.engine.build_prompt = _recording_build_prompt  # type: ignore[attr-defined]
    with tempfile.TemporaryDirectory() as tmp:
        fake = FakeModelProcess(Path(tmp))
        try:
            settings = Settings.model_validate(
                {
                    "data_dir": Path(tmp) / "data",
                    "database_url": None,
                    "redis_url": None,
                    "openai_api_key": API_KEY,
                    "openai_base_url": fake.base_url,
                    "openai_max_retries": 0,
                    "panic_cooldown_seconds": 0,
                    "pool_size": 3,
                    **({"panic_max_inflight": max_inflight} if max_inflight else {}),
                    "embedder": "local",
                    "vector_store": "local",
                }
            )
            async with open_services(settings) as services:
                await upgrade(services.engine)
                discord = AckClock()
                driver = DiscordDriver(lambda: PanicBot.from_services(services), fake=discord, latency=discord_latency)
                guild = driver.guild_id
                t0 = time.perf_counter()
                await populate(services, guild, chunks)
                out["populate_s"] = time.perf_counter() - t0
                await driver.start()
                await services.memory.search(guild, "warm up the model and the store", 4)
                await driver.slash("panic npc", details="warm up")

                # 2 + 4: one panic at a time with details (no pool): overhead and prompt size
                prompts.clear()
                totals: dict[str, float] = {}
                for i in range(panics):
                    details = rival(i)
                    started = time.perf_counter()
                    await driver.slash("panic npc", details=details)
                    totals[details] = time.perf_counter() - started
                overheads = overheads_of(totals, fake.answers())
                estimated = [p.tokens for p in prompts]
                async with services.sessionmaker() as session:
                    counted = list(
                        (
                            await session.execute(select(Panic.tokens_in).order_by(Panic.id.desc()).limit(panics))
                        ).scalars()
                    )
                out["overhead"] = (pct(overheads, 0.5), pct(overheads, 0.99), len(overheads))
                out["end_to_end"] = (pct(list(totals.values()), 0.5), pct(list(totals.values()), 0.99))
                out["tokens_est"] = (statistics.median(estimated), max(estimated))
                out["tokens_len4"] = (statistics.median(counted), max(counted))  # what the fake reported (len/4)

                # 2b: the same with `overlap` panics at once from as many GMs, in rounds
                together: dict[str, float] = {}

                async def timed(n: int, details: str) -> None:
                    started = time.perf_counter()
                    await driver.slash("panic npc", details=details, user=gm(n))
                    together[details] = time.perf_counter() - started

                for round_ in range(max(1, panics // max(1, overlap))):
                    base = 1000 + round_ * overlap
                    await asyncio.gather(*(timed(n, rival(base + n)) for n in range(overlap)))
                    await driver.settle()
                overlapped = overheads_of(together, fake.answers())
                out["overhead_overlap"] = (pct(overlapped, 0.5), pct(overlapped, 0.99), len(overlapped))

                # 3: pool hits: post the button, click it bare; each click is followed by the background refill
                panel = (await driver.slash("panic button")).message
                await driver.click(panel, "PANIC!")
                await driver.settle()
                hits: list[float] = []
                for _ in range(pool_clicks):
                    started = time.perf_counter()
                    ex = await driver.click(panel, "PANIC!")
                    elapsed = time.perf_counter() - started
                    if "instant pool" in ex.last.embeds[0]["footer"]["text"]:
                        hits.append(elapsed)
                    await driver.settle()
                out["pool"] = (pct(hits, 0.5), pct(hits, 0.99), len(hits))

                # 1: acknowledgement latency with N panics in flight from N GMs: (a) all arriving in the same
                # instant (a burst: pure queueing on one event loop), (b) arriving 2 ms apart, so that all N are
                # in flight together (each takes 800+ ms) while the later ones are acknowledged
                async def one(n: int, wait: float, label: str) -> None:
                    await asyncio.sleep(wait)
                    await driver.slash("panic tavern", details=f"busy night {n} ({label})", user=gm(n))

                for label, gap in (("ack_burst", 0.0), ("ack_staggered", 0.002)):
                    ids_before = set(discord.acked_at)
                    await asyncio.gather(*(one(n, n * gap, label) for n in range(concurrent)))
                    acks = [
                        discord.acked_at[i] - discord.created_at[i] for i in discord.acked_at if i not in ids_before
                    ]
                    out[label] = (pct(acks, 0.5), pct(acks, 0.99), len(acks))
                    await driver.settle()

                await driver.close()
                out["problems"] = driver.problems()
                async with services.sessionmaker() as session:
                    rows = await session.execute(
                        select(Panic.engine, Panic.fallback_reason, func.count()).group_by(
                            Panic.engine, Panic.fallback_reason
                        )
                    )
                    out["engines"] = {f"{e}{'/' + r if r else ''}": n for e, r, n in rows}
        finally:
            fake.stop()
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench panic", description=__doc__)
    parser.add_argument("--concurrent", type=int, default=200)
    parser.add_argument("--panics", type=int, default=30)
    parser.add_argument("--overlap", type=int, default=20, help="panics at once for the overlapped overhead")
    parser.add_argument("--pool-clicks", type=int, default=20)
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--max-inflight", type=int, default=0, help="PANIC_MAX_INFLIGHT (0: the default)")
    parser.add_argument(
        "--discord-latency", type=float, default=0.0, help="seconds each request to Discord takes to arrive"
    )
    parser.add_argument("--serve-fake", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_fake is not None:
        asyncio.run(serve_fake(args.serve_fake))
        return 0
    r = asyncio.run(
        run(
            args.concurrent,
            args.panics,
            args.pool_clicks,
            args.chunks,
            args.max_inflight,
            max(1, args.overlap),
            args.discord_latency,
        )
    )
    print("| figure | result |\n|---|---|")
    b, st = r["ack_burst"], r["ack_staggered"]
    print(
        f"| acknowledgement latency, {st[2]} panics in flight (arrivals 2 ms apart) | "
        f"p50 {st[0]:.1f} ms, p99 {st[1]:.1f} ms |"
    )
    print(
        f"| acknowledgement latency, burst of {b[2]} arriving at the same instant | p50 {b[0]:.1f} ms, p99 {b[1]:.1f} ms |"
    )
    print(
        f"| bot overhead per panic, one at a time ({args.chunks:,} chunks; end to end minus model time), "
        f"{r['overhead'][2]} panics | p50 {r['overhead'][0]:.1f} ms, p99 {r['overhead'][1]:.1f} ms "
        f"(end to end p50 {r['end_to_end'][0]:.0f} ms) |"
    )
    o = r["overhead_overlap"]
    print(
        f"| bot overhead per panic, {args.overlap} at once from {args.overlap} GMs, {o[2]} panics | "
        f"p50 {o[0]:.1f} ms, p99 {o[1]:.1f} ms |"
    )
    print(
        f"| pool hit, click to final embed ({r['pool'][2]} hits) | p50 {r['pool'][0]:.1f} ms, p99 {r['pool'][1]:.1f} ms |"
    )
    print(
        f"| prompt tokens per panic (budget estimate, len/4 +20 %, incl. schema) | median {r['tokens_est'][0]:.0f}, "
        f"max {r['tokens_est'][1]:.0f} (plain len/4: median {r['tokens_len4'][0]:.0f}) |"
    )
    print(
        f"\nanswers by engine: {r['engines']}\nsetup: populated {args.chunks:,} chunks in {r['populate_s']:.1f} s; harness problems: {r['problems'] or 'none'}"
    )
    return 0
