"""`GET /healthz` of the web door, served on a real loopback port."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, test_utils

from bot.services import open_services
from bot.settings import Settings
from bot.web import Listener, create_app, listen
from tests.fakes.stalls import blackhole

DEAD_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:1/improv_test"
DEAD_REDIS = "redis://127.0.0.1:1/0"


async def healthz(settings: Settings) -> tuple[int, dict[str, Any]]:
    """Open the services named by `settings`, serve the app and GET /healthz."""
    async with (
        open_services(settings) as services,
        test_utils.TestClient(test_utils.TestServer(create_app(services), host="127.0.0.1")) as client,
    ):
        response = await client.get("/healthz")
        body: dict[str, Any] = await response.json()
        return response.status, body


def make_settings(tmp_path: Path, *, database_url: str | None, redis_url: str | None) -> Settings:
    return Settings.model_validate({"data_dir": tmp_path, "database_url": database_url, "redis_url": redis_url})


@pytest.mark.postgres
@pytest.mark.redis
async def test_healthy_with_postgres_and_redis(tmp_path: Path, pg_url: str, redis_url: str) -> None:
    status, body = await healthz(make_settings(tmp_path, database_url=pg_url, redis_url=redis_url))
    assert status == 200
    assert body == {"ok": True, "database": True, "kv": True}


async def test_healthy_on_embedded_defaults(tmp_path: Path) -> None:
    status, body = await healthz(make_settings(tmp_path, database_url=None, redis_url=None))
    assert status == 200
    assert body == {"ok": True, "database": True, "kv": True}


@pytest.mark.redis
async def test_dead_database_is_503_naming_the_database(tmp_path: Path, redis_url: str) -> None:
    status, body = await healthz(make_settings(tmp_path, database_url=DEAD_POSTGRES, redis_url=redis_url))
    assert status == 503
    assert body == {"ok": False, "database": False, "kv": True}


@pytest.mark.postgres
async def test_dead_redis_is_503_naming_the_kv(tmp_path: Path, pg_url: str) -> None:
    status, body = await healthz(make_settings(tmp_path, database_url=pg_url, redis_url=DEAD_REDIS))
    assert status == 503
    assert body == {"ok": False, "database": True, "kv": False}


# --- hung services: /healthz still answers within a second, naming what is down -------------------------


async def timed_healthz(listener: Listener, http: ClientSession) -> tuple[float, int, dict[str, Any]]:
    started = time.monotonic()
    async with http.get(listener.url + "/healthz") as response:
        body: dict[str, Any] = await response.json()
        return time.monotonic() - started, response.status, body


@pytest.mark.redis
async def test_hung_database_is_503_not_a_hang(tmp_path: Path, redis_url: str) -> None:
    async with blackhole() as hole:
        settings = make_settings(
            tmp_path, database_url=f"postgresql://postgres@127.0.0.1:{hole.port}/x", redis_url=redis_url
        )
        async with (
            open_services(settings) as services,
            listen(services, "127.0.0.1", 0) as listener,
            ClientSession() as http,
        ):
            _, status, body = await timed_healthz(listener, http)
            assert (status, body) == (503, {"ok": False, "database": False, "kv": True})
            assert hole.accepted == 1  # it really was asked


@pytest.mark.postgres
async def test_hung_redis_is_503_not_a_hang(tmp_path: Path, pg_url: str) -> None:
    async with blackhole() as hole:
        settings = make_settings(tmp_path, database_url=pg_url, redis_url=f"redis://127.0.0.1:{hole.port}/0")
        async with (
            open_services(settings) as services,
            listen(services, "127.0.0.1", 0) as listener,
            ClientSession() as http,
        ):
            _, status, body = await timed_healthz(listener, http)
            assert (status, body) == (503, {"ok": False, "database": True, "kv": False})


async def test_concurrent_checks_of_a_hung_database_share_one_probe(tmp_path: Path) -> None:
    async with blackhole() as db, blackhole() as kv:
        settings = make_settings(
            tmp_path,
            database_url=f"postgresql://postgres@127.0.0.1:{db.port}/x",
            redis_url=f"redis://127.0.0.1:{kv.port}/0",
        )
        async with (
            open_services(settings) as services,
            listen(services, "127.0.0.1", 0) as listener,
            ClientSession() as http,
        ):
            results = await asyncio.gather(*(timed_healthz(listener, http) for _ in range(20)))
            assert {(status, body["database"], body["kv"]) for _, status, body in results} == {(503, False, False)}
            assert db.accepted == 1  # twenty requests, one probe
            # a later check, after the first probe's deadline, asks again
            _, status, _ = await timed_healthz(listener, http)
            assert (status, db.accepted) == (503, 2)
