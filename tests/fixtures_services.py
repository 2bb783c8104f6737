"""Fixtures for the real backing services: PostgreSQL, SQLite and Redis.

Loaded from `tests/conftest.py` with `pytest_plugins = ["tests.fixtures_services"]`.

When PostgreSQL or Redis is unreachable the tests that need it are skipped locally, but fail when `CI=true`:
CI must never pass by silently skipping the real databases. `scripts/test.sh` starts both servers.

Concurrent test runs share one PostgreSQL database, so every run migrates its own uniquely named schema
(dropped at the end) instead of the shared `public` schema, and every Redis test uses a unique key prefix.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import NoReturn

import asyncpg
import pytest
import pytest_asyncio
import redis
from redis.asyncio import Redis
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.kv import RedisKeyValue
from db.engine import create_engine, create_sessionmaker
from db.migrate import upgrade

__all__ = [
    "DEFAULT_TEST_DATABASE_URL",
    "DEFAULT_TEST_REDIS_URL",
    "create_database",
    "drop_database",
    "in_ci",
    "service_unavailable",
]

DEFAULT_TEST_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/improv_test"
DEFAULT_TEST_REDIS_URL = "redis://127.0.0.1:6379/15"


def in_ci() -> bool:
    """Whether this run is CI (`CI=true`), where a missing service is a failure, not a skip."""
    return os.environ.get("CI", "").strip().lower() == "true"


def service_unavailable(service: str, url: str, error: BaseException) -> NoReturn:
    """Skip the test (locally) or fail it (under CI) because `service` does not answer."""
    shown = make_url(url).render_as_string(hide_password=True) if "://" in url else url
    reason = f"{service} unreachable at {shown}: {type(error).__name__}: {error}"
    if in_ci():
        pytest.fail(f"{reason} (CI=true: start it, e.g. with scripts/test.sh)", pytrace=False)
    pytest.skip(f"{reason} (run scripts/test.sh to start it)")


# --- PostgreSQL helpers --------------------------------------------------------------------------------


async def _admin_connection(url: str) -> asyncpg.Connection:
    """A raw connection to the server's `postgres` maintenance database."""
    parsed = make_url(url)
    return await asyncpg.connect(
        host=parsed.host or "127.0.0.1",
        port=parsed.port or 5432,
        user=parsed.username or "postgres",
        password=parsed.password,
        database="postgres",
        timeout=5,
    )


async def create_database(url: str) -> None:
    """Create the database named in `url` unless it exists."""
    name = make_url(url).database
    assert name, f"no database name in {url}"
    conn = await _admin_connection(url)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            # a concurrent run may create it first
            with contextlib.suppress(asyncpg.DuplicateDatabaseError, asyncpg.UniqueViolationError):
                await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def drop_database(url: str) -> None:
    """Drop the database named in `url` (disconnecting anyone still on it)."""
    name = make_url(url).database
    assert name, f"no database name in {url}"
    conn = await _admin_connection(url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


# --- fixtures ------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of the test Redis database (`IMPROV_TEST_REDIS_URL`); skips, or fails under CI, when it is down."""
    url = os.environ.get("IMPROV_TEST_REDIS_URL", DEFAULT_TEST_REDIS_URL)
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        service_unavailable("Redis", url, exc)
    finally:
        client.close()
    return url


@pytest_asyncio.fixture(loop_scope="session")
async def redis_kv(redis_url: str) -> AsyncIterator[RedisKeyValue]:
    """A `RedisKeyValue` on the real server under a unique key prefix, whose keys are deleted afterwards."""
    client: Redis = Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=2)
    prefix = f"improv-test:{secrets.token_hex(6)}:"
    kv = RedisKeyValue(client, prefix=prefix)
    try:
        yield kv
    finally:
        keys = [key async for key in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
        await kv.aclose()


@pytest_asyncio.fixture(loop_scope="session", scope="session")
async def pg_url() -> str:
    """URL of the PostgreSQL test database (`IMPROV_TEST_DATABASE_URL`), created if missing.

    Skips, or fails under CI, when the server is down.
    """
    url = os.environ.get("IMPROV_TEST_DATABASE_URL", DEFAULT_TEST_DATABASE_URL)
    try:
        await create_database(url)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        service_unavailable("PostgreSQL", url, exc)
    return url


@pytest_asyncio.fixture(loop_scope="session", scope="session")
async def pg_engine(pg_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on a fresh schema of the test database, migrated once per run with `db.migrate.upgrade`.

    The schema is unique to this run (concurrent runs share the database) and is its connections'
    `search_path`, so the application's unqualified SQL lands in it. It is dropped at the end.
    """
    schema = f"test_{os.getpid()}_{secrets.token_hex(4)}"
    engine = create_engine(pg_url, connect_args={"server_settings": {"search_path": schema}})
    async with engine.begin() as setup:
        await setup.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await setup.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        await upgrade(engine)
        yield engine
    finally:
        async with engine.begin() as teardown:
            await teardown.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await engine.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def pg_session(pg_engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session inside an outer transaction that is rolled back after the test.

    The session's own `commit()` only releases a savepoint, so tests may commit freely.
    """
    async with pg_engine.connect() as conn:
        outer = await conn.begin()
        session = AsyncSession(bind=conn, expire_on_commit=False, join_transaction_mode="create_savepoint")
        try:
            yield session
        finally:
            await session.close()
            if outer.is_active:
                await outer.rollback()


@pytest_asyncio.fixture(loop_scope="session")
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """An engine on a fresh, migrated SQLite file in the test's temporary directory."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'test.sqlite3'}")
    try:
        await upgrade(engine)
        yield engine
    finally:
        await engine.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def sqlite_session(sqlite_engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session on a fresh, migrated SQLite database (the embedded default)."""
    async with create_sessionmaker(sqlite_engine)() as session:
        yield session


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_session(request: pytest.FixtureRequest) -> AsyncSession:
    """Runs the test twice: on `sqlite_session` and on `pg_session`."""
    fixture = {"sqlite": "sqlite_session", "postgres": "pg_session"}[request.param]
    session: AsyncSession = request.getfixturevalue(fixture)
    return session
