"""The one switch between PostgreSQL and SQLite for what standard SQL lacks (upserts, GREATEST)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeAlias

from sqlalchemy import Connection, Engine, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import Function

__all__ = ["DialectSource", "UpsertInsert", "dialect_name", "greatest_for", "insert_for"]

# What a dialect can be read from: its name, the dialect itself, or anything bound to a database.
DialectSource: TypeAlias = str | Dialect | Engine | Connection | Session | AsyncEngine | AsyncConnection | AsyncSession
# An INSERT with ON CONFLICT support (`on_conflict_do_nothing`, `on_conflict_do_update`).
UpsertInsert: TypeAlias = postgresql.Insert | sqlite.Insert

SUPPORTED = ("postgresql", "sqlite")


def dialect_name(source: DialectSource) -> str:
    """The database dialect's name (`postgresql`, `sqlite` …) of `source`."""
    if isinstance(source, str):
        return source
    if isinstance(source, Dialect):
        return source.name
    if isinstance(source, Session | AsyncSession):
        return source.get_bind().dialect.name
    return source.dialect.name


def insert_for(source: DialectSource) -> Callable[[Any], UpsertInsert]:
    """The `insert()` construct of `source`'s dialect, which has `ON CONFLICT`; other dialects raise."""
    name = dialect_name(source)
    if name == "postgresql":
        return postgresql.insert
    if name == "sqlite":
        return sqlite.insert
    raise RuntimeError(f"unsupported database dialect {name!r} (supported: {', '.join(SUPPORTED)})")


def greatest_for(source: DialectSource) -> Callable[..., Function[Any]]:
    """SQL's `GREATEST(a, b, …)` for `source`'s dialect (SQLite spells it as the many-argument `max`)."""
    return func.greatest if dialect_name(source) == "postgresql" else func.max
