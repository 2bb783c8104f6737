"""Paddle webhook ingest: throughput and latency over loopback HTTP at the real endpoint on PostgreSQL, then a
database outage mid-run (a loopback TCP proxy in front of PostgreSQL is cut and restored) with redelivery.

`.venv/bin/python -m bench webhooks [--events 10000] [--guilds 500] [--concurrency 32] [--record]`

Needs PostgreSQL on 127.0.0.1:5432 (a throwaway database is created and dropped). Checks, and exits non-zero
unless: every subscription ends in the state of its newest event; every unique event is in the ledger once;
the outage produced 5xx answers and redelivery applied everything.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp import ClientSession, ClientTimeout, TCPConnector
from sqlalchemy import func, select

from bot.billing.plans import Plan, PlanCatalog
from bot.billing.simulate import signed, subscription_event, transaction_event
from bot.services import open_services
from bot.settings import Settings
from db.base import utcnow
from db.migrate import upgrade
from db.models.billing import BillingCheckout, BillingSubscription, WebhookEvent

SECRET = "pdl_ntfset_bench_webhooks_secret"
PRICE = "pri_bench_gm"
PG = ("127.0.0.1", 5432)
SPECIFIC = {
    "active": "activated",
    "trialing": "trialing",
    "past_due": "past_due",
    "paused": "paused",
    "canceled": "canceled",
}
STATUSES = ["active", "active", "active", "past_due", "paused", "active", "trialing", "canceled"]


class Proxy:
    """A loopback TCP proxy to PostgreSQL that can be cut (all connections dropped, port closed) and restored."""

    def __init__(self) -> None:
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection(*PG)
        except OSError:
            client_w.close()
            return
        self._writers |= {client_w, server_w}
        try:
            await asyncio.gather(self._pipe(client_r, server_w), self._pipe(server_r, client_w))
        finally:
            self._writers -= {client_w, server_w}

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def restore(self) -> None:
        await self.start()


@dataclass
class Plan_:
    """Deliveries for one run, and the expected final state."""

    deliveries: list[dict[str, Any]] = field(default_factory=list)
    unique: set[str] = field(default_factory=set)
    newest: dict[str, tuple[str, str]] = field(default_factory=dict)  # sub id → (event id, status)
    checkouts: list[tuple[str, int]] = field(default_factory=list)


def build(events: int, guilds: int, duplicates: float, seed: int) -> Plan_:
    """`events` deliveries for `guilds` guilds, `duplicates` of them redeliveries of earlier ones, shuffled."""
    rng = random.Random(seed)
    plan = Plan_()
    unique_total = round(events * (1 - duplicates))
    per_guild = max(2, unique_total // guilds)
    now = utcnow()
    uniques: list[dict[str, Any]] = []
    for g in range(guilds):
        guild_id = 10**17 + seed * 10**6 + g
        txn, sub = f"txn_bench{seed}_{g:05d}", f"sub_bench{seed}_{g:05d}"
        plan.checkouts.append((txn, guild_id))
        base = now - timedelta(days=2) + timedelta(seconds=rng.random())
        period = (now - timedelta(days=1), now + timedelta(days=29))
        for i in range(per_guild):
            at = base + timedelta(seconds=i * 7, microseconds=rng.randrange(1000))
            if i == 0:
                event = subscription_event(
                    "subscription.created",
                    subscription_id=sub,
                    status="active",
                    occurred_at=at,
                    price_id=PRICE,
                    guild_id=guild_id,
                    transaction_id=txn,
                    period=period,
                )
            elif i == 1:
                event = transaction_event(
                    "transaction.completed",
                    transaction_id=txn,
                    status="completed",
                    occurred_at=at,
                    subscription_id=sub,
                    guild_id=guild_id,
                )
            else:
                status = rng.choice(STATUSES[:-1]) if i < per_guild - 1 else rng.choice(STATUSES)
                kind = "updated" if rng.random() < 0.6 else SPECIFIC[status]
                event = subscription_event(
                    f"subscription.{kind}",
                    subscription_id=sub,
                    status=status,
                    occurred_at=at,
                    price_id=PRICE,
                    period=None if status in ("paused", "canceled") else period,
                )
            uniques.append(event)
            if event["event_type"].startswith("subscription."):
                plan.newest[sub] = (event["event_id"], event["data"]["status"])  # built in time order
    plan.unique = {e["event_id"] for e in uniques}
    dupes = [dict(rng.choice(uniques), notification_id=f"ntf_dup{i}") for i in range(events - len(uniques))]
    plan.deliveries = uniques + dupes
    rng.shuffle(plan.deliveries)
    return plan


async def send_all(
    http: ClientSession,
    url: str,
    deliveries: list[dict[str, Any]],
    concurrency: int,
    on_progress: Any = None,
    presigned: list[tuple[bytes, str]] | None = None,
) -> tuple[list[float], list[dict[str, Any]], dict[int, int]]:
    """POST every delivery from `concurrency` workers over the session's kept-alive connections.

    Bodies are signed at send time (as Paddle does for each attempt) unless `presigned` gives (body, header)
    pairs made before the clock started. Returns latencies, failed deliveries and status counts.
    """
    latencies: list[float] = []
    failed: list[dict[str, Any]] = []
    statuses: dict[int, int] = {}
    cursor = iter(range(len(deliveries)))
    done = 0

    async def worker() -> None:
        nonlocal done
        for i in cursor:
            event = deliveries[i]
            body, header = presigned[i] if presigned is not None else signed(event, SECRET)
            start = time.perf_counter()
            try:
                async with http.post(url, data=body, headers={"Paddle-Signature": header}) as resp:
                    await resp.read()
                    status = resp.status
            except OSError:
                status = 599
            latencies.append(time.perf_counter() - start)
            statuses[status] = statuses.get(status, 0) + 1
            if status != 200:
                failed.append(event)
            done += 1
            if on_progress is not None:
                await on_progress(done)

    await asyncio.gather(*(worker() for _ in range(min(concurrency, len(deliveries)))))
    return latencies, failed, statuses


async def verify(services: Any, plan: Plan_) -> list[str]:
    """Problems with the final state (empty when correct)."""
    problems: list[str] = []
    async with services.sessionmaker() as session:
        ids = set(
            (
                await session.execute(select(WebhookEvent.event_id).where(WebhookEvent.event_id.in_(plan.unique)))
            ).scalars()
        )
        count = await session.scalar(
            select(func.count()).select_from(WebhookEvent).where(WebhookEvent.event_id.in_(plan.unique))
        )
        rows = {
            r.id: r
            for r in (
                await session.execute(select(BillingSubscription).where(BillingSubscription.id.in_(plan.newest)))
            ).scalars()
        }
    if ids != plan.unique or count != len(plan.unique):
        problems.append(f"ledger holds {count} rows / {len(ids)} ids for {len(plan.unique)} unique events")
    wrong = [
        s
        for s, (evt, status) in plan.newest.items()
        if s not in rows or (rows[s].snapshot_event_id, rows[s].status) != (evt, status)
    ]
    unbound = [s for s, r in rows.items() if r.guild_id is None]
    if wrong:
        problems.append(f"{len(wrong)} subscriptions not in their newest state, e.g. {wrong[:3]}")
    if unbound:
        problems.append(f"{len(unbound)} subscriptions not bound to their guild")
    return problems


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def start_server(db_url: str, port: int, plans: str, tolerance: float = 5) -> asyncio.subprocess.Process:
    """`improv web` in its own process (the production shape), ready when /healthz answers."""
    env = dict(
        os.environ,
        DATABASE_URL=db_url,
        PADDLE_WEBHOOK_SECRET=SECRET,
        PADDLE_PLANS=plans,
        PORT=str(port),
        PADDLE_SIGNATURE_TOLERANCE_SECONDS=str(tolerance),
        IMPROV_WEB_HOST="127.0.0.1",
        IMPROV_LOG_LEVEL="ERROR",
        REDIS_URL="",
        PADDLE_API_KEY="",
    )
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot.web", env=env)
    async with ClientSession() as http:
        for _ in range(200):
            await asyncio.sleep(0.1)
            with contextlib.suppress(OSError):
                async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                    if resp.status == 200:
                        return proc
    proc.terminate()
    raise RuntimeError("web process did not start")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def run(args: argparse.Namespace) -> int:
    dbname = f"improv_bench_webhooks_{os.getpid()}"
    admin = await asyncpg.connect(host=PG[0], port=PG[1], user="postgres", database="postgres")
    await admin.execute(f'CREATE DATABASE "{dbname}"')
    proxy = Proxy()
    await proxy.start()
    settings = Settings.model_validate(
        {
            "data_dir": Path(f"/tmp/{dbname}"),
            "database_url": f"postgresql://postgres@127.0.0.1:{PG[1]}/{dbname}",
            "redis_url": None,
            "paddle_webhook_secret": [SECRET],
            "paddle_api_key": None,
            "paddle_plans": PlanCatalog(paid={PRICE: Plan(name="GM", monthly_panics=1000)}).model_dump(),
            "log_level": "WARNING",
        }
    )
    report: dict[str, Any] = {}
    ok = True
    servers: list[asyncio.subprocess.Process] = []
    try:
        async with open_services(settings) as services:
            await upgrade(services.engine)
            plans_json = settings.paddle_plans.model_dump_json()
            direct_port, proxied_port = free_port(), free_port()
            # the load run's bodies are signed before the clock starts, so their timestamps age during the run
            servers.append(
                await start_server(
                    f"postgresql://postgres@127.0.0.1:{PG[1]}/{dbname}", direct_port, plans_json, tolerance=600
                )
            )
            servers.append(
                await start_server(f"postgresql://postgres@127.0.0.1:{proxy.port}/{dbname}", proxied_port, plans_json)
            )
            url = f"http://127.0.0.1:{direct_port}/paddle/webhook"
            async with ClientSession(
                connector=TCPConnector(limit=args.concurrency), timeout=ClientTimeout(total=30)
            ) as http:
                # --- throughput run ------------------------------------------------------------------------
                plan = build(args.events, args.guilds, 0.2, seed=1)
                async with services.sessionmaker.begin() as session:
                    session.add_all(
                        BillingCheckout(transaction_id=t, guild_id=g, price_id=PRICE) for t, g in plan.checkouts
                    )
                presigned = [signed(event, SECRET) for event in plan.deliveries]
                gc.collect()
                gc.freeze()  # the client's own full collections would otherwise show up as server latency
                start = time.perf_counter()
                latencies, failed, statuses = await send_all(
                    http, url, plan.deliveries, args.concurrency, presigned=presigned
                )
                elapsed = time.perf_counter() - start
                problems = await verify(services, plan)
                report["load"] = {
                    "deliveries": len(plan.deliveries),
                    "unique": len(plan.unique),
                    "guilds": args.guilds,
                    "concurrency": args.concurrency,
                    "seconds": round(elapsed, 2),
                    "events_per_s": round(len(plan.deliveries) / elapsed),
                    "p50_ms": round(statistics.median(latencies) * 1000, 1),
                    "p99_ms": round(pct(latencies, 0.99), 1),
                    "statuses": statuses,
                    "problems": problems,
                }
                ok &= not problems and not failed
                print(json.dumps(report["load"]), flush=True)

                # --- fault run: cut the database at 30 % for `--outage` seconds, then redeliver failures ---------
                plan2 = build(args.fault_events, args.fault_guilds, 0.2, seed=2)
                async with services.sessionmaker.begin() as session:
                    session.add_all(
                        BillingCheckout(transaction_id=t, guild_id=g, price_id=PRICE) for t, g in plan2.checkouts
                    )
                cut_at = int(len(plan2.deliveries) * 0.3)
                outage: dict[str, Any] = {}

                async def restore_later() -> None:
                    await asyncio.sleep(args.outage)
                    await proxy.restore()
                    outage["restored"] = time.perf_counter()

                restorer: list[asyncio.Task[None]] = []

                async def progress(done: int) -> None:
                    if done == cut_at and not restorer:
                        await proxy.cut()
                        outage["cut"] = time.perf_counter()
                        restorer.append(asyncio.create_task(restore_later()))

                url = f"http://127.0.0.1:{proxied_port}/paddle/webhook"  # the server whose database goes away
                _, failed2, statuses2 = await send_all(http, url, plan2.deliveries, args.concurrency, progress)
                if restorer:
                    await restorer[0]
                rounds, pending = 0, failed2
                while pending and rounds < 10:  # Paddle retries failed deliveries with a fresh signature
                    rounds += 1
                    await asyncio.sleep(0.5)
                    _, pending, _ = await send_all(http, url, pending, args.concurrency)
                problems2 = await verify(services, plan2)
                five_xx = sum(n for s, n in statuses2.items() if s >= 500)
                report["fault"] = {
                    "deliveries": len(plan2.deliveries),
                    "unique": len(plan2.unique),
                    "outage_s": round(outage.get("restored", 0) - outage.get("cut", 0), 2),
                    "first_pass_statuses": statuses2,
                    "answered_5xx": five_xx,
                    "redelivered": len(failed2),
                    "redelivery_rounds": rounds,
                    "still_failing": len(pending),
                    "problems": problems2,
                }
                ok &= five_xx > 0 and not pending and not problems2
                print(json.dumps(report["fault"]), flush=True)
    finally:
        for proc in servers:
            if proc.returncode is None:
                proc.terminate()
                await proc.wait()
        await proxy.cut()
        await admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        await admin.close()
    if args.record:
        record(report, args)
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


def record(report: dict[str, Any], args: argparse.Namespace) -> None:
    """Append the figures to docs/benchmarks.md."""
    load, fault = report["load"], report["fault"]
    text = f"""
## Billing: Paddle webhook ingest and a database outage

Command: `.venv/bin/python -m bench webhooks --record` (events {args.events}, guilds {args.guilds}, concurrency
{args.concurrency}; fault run {args.fault_events} events, outage {args.outage} s). Real endpoint (`python -m bot.web`, its own
process) over loopback HTTP to PostgreSQL 127.0.0.1 (the fault run's server goes through a loopback TCP proxy); load-run bodies signed before the clock starts, fault-run attempts signed at send time.
Machine python-svc, 2 cores, 24 GiB; 2026-11-22; client, server and PostgreSQL on the same 2 cores.

| figure | result |
|---|---|
| deliveries (20 % duplicates, shuffled) | {load["deliveries"]:,} ({load["unique"]:,} unique) for {load["guilds"]} guilds |
| throughput | **{load["events_per_s"]:,} events/s** ({load["seconds"]} s) — goal ≥ 500/s |
| latency per delivery | p50 {load["p50_ms"]} ms, **p99 {load["p99_ms"]} ms** — goal p99 < 50 ms |
| answers | {load["statuses"]} |
| final state = newest event for every subscription; ledger = unique events once | {"yes" if not load["problems"] else load["problems"]} |
| fault run: database cut for {fault["outage_s"]} s at 30 % | first pass {fault["first_pass_statuses"]} |
| redelivery | {fault["redelivered"]} failed deliveries resent, {fault["redelivery_rounds"]} round(s), {fault["still_failing"]} still failing |
| after redelivery: every event applied, none twice, newest state everywhere | {"yes" if not fault["problems"] and not fault["still_failing"] else fault["problems"]} |
"""
    path = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
    with path.open("a") as fh:
        fh.write(text)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench webhooks")
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--guilds", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--fault-events", type=int, default=3_000)
    parser.add_argument("--fault-guilds", type=int, default=150)
    parser.add_argument("--outage", type=float, default=2.0)
    parser.add_argument("--record", action="store_true", help="append the figures to docs/benchmarks.md")
    args = parser.parse_args(argv)
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
