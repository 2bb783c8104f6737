"""The webhook ledger and other conflict-ignoring inserts (PostgreSQL and SQLite)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Insert, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from db.base import utcnow
from db.models.billing import WebhookEvent

__all__ = ["insert_ignore", "record_event"]


def insert_ignore(session: AsyncSession, table: Any, values: dict[str, Any], *index: str) -> Insert:
    """`INSERT … ON CONFLICT (index) DO NOTHING` for the session's dialect."""
    target: Table = table.__table__ if hasattr(table, "__table__") else table
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(target).values(**values).on_conflict_do_nothing(index_elements=list(index))
    if dialect == "sqlite":
        return sqlite.insert(target).values(**values).on_conflict_do_nothing(index_elements=list(index))
    raise RuntimeError(f"unsupported database dialect {dialect!r}")


async def record_event(
    session: AsyncSession,
    *,
    event_id: str,
    event_type: str,
    occurred_at: datetime,
    notification_id: str | None,
    payload: dict[str, Any],
) -> bool:
    """Insert the event into the ledger; False when `event_id` was already there (a duplicate: do nothing).

    Call it inside the transaction that applies the event: a concurrent duplicate blocks on the unique key
    until the first commits, then finds the row and is acknowledged with no effect.
    """
    stmt = insert_ignore(
        session,
        WebhookEvent,
        {
            "event_id": event_id,
            "event_type": event_type,
            "occurred_at": occurred_at,
            "notification_id": notification_id,
            "payload": payload,
            "received_at": utcnow(),
            "note": "",
        },
        "event_id",
    ).returning(WebhookEvent.__table__.c.event_id)
    result = await session.execute(stmt)
    return result.scalar_one_or_none() is not None
