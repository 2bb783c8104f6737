"""Engine and session factory for the configured database."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

__all__ = ["create_engine", "create_sessionmaker"]


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine for `url`; SQLite gets foreign keys on and a busy timeout, PostgreSQL a pool check."""
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


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)
