"""`GET /healthz` of the web door, served on a real loopback port."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp import test_utils

from bot.services import open_services
from bot.settings import Settings
from bot.web import create_app

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
