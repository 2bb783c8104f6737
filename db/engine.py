"""Engine and session factory for the configured database."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

__all__ = [
    "WEBHOOK_COMMAND_TIMEOUT",
    "WEBHOOK_CONNECT_TIMEOUT",
    "WEBHOOK_POOL_OVERFLOW",
    "WEBHOOK_POOL_SIZE",
    "create_engine",
    "create_sessionmaker",
    "create_webhook_engine",
]


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine for `url`; SQLite gets foreign keys on and a busy timeout, PostgreSQL a pool check. SQL
    parameters (note text, among others) never reach a log or an exception message (`hide_parameters`)."""
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    # A dead or hung database must fail fast, not after asyncpg's 60 s connect timeout: callers on the
    # panic path fall back, and the webhook answers 503 so Paddle retries.
    kwargs["connect_args"] = {"timeout": 3, "command_timeout": 30, **kwargs.get("connect_args", {})}
    kwargs.setdefault("pool_timeout", 5)
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    return create_async_engine(url, **kwargs)


# The webhook's own connection pool in the web process. No pre-ping: it costs a round trip per delivery, and a
# connection that died anyway (database restarted) fails that delivery with 503, Paddle retries, and SQLAlchemy
# drops the whole stale pool on that first disconnect error. Small on purpose: a delivery is four short round
# trips, and more concurrent transactions than this only compete for the host's cores inside PostgreSQL
# (bench webhooks, 32 deliveries in flight on 2 shared cores: ~1,100/s through 8 connections, ~900/s through 24);
# the rest wait here for a connection, in order.
WEBHOOK_POOL_SIZE = 8
WEBHOOK_POOL_OVERFLOW = 0
# The webhook bounds each delivery's database work itself (WEBHOOK_DB_TIMEOUT_SECONDS, 503 at the bound) and
# cancels the late transaction in the background; these only make that background work end soon after.
WEBHOOK_CONNECT_TIMEOUT = 2
WEBHOOK_COMMAND_TIMEOUT = 5


def create_webhook_engine(url: str, *, connect_args: dict[str, Any] | None = None) -> AsyncEngine | None:
    """The web process's engine for Paddle webhooks (see `WEBHOOK_POOL_SIZE`); None for SQLite, which has no
    pool to tune (webhooks then share the main engine). `connect_args` adds driver options (tests: a schema)."""
    if url.startswith("sqlite"):
        return None
    return create_engine(
        url,
        pool_pre_ping=False,
        pool_size=WEBHOOK_POOL_SIZE,
        max_overflow=WEBHOOK_POOL_OVERFLOW,
        connect_args={
            "timeout": WEBHOOK_CONNECT_TIMEOUT,
            "command_timeout": WEBHOOK_COMMAND_TIMEOUT,
            **(connect_args or {}),
        },
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)
