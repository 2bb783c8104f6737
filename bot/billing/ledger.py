"""The webhook ledger and other conflict-ignoring inserts (PostgreSQL and SQLite)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Insert, Table
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from db.base import utcnow
from db.dialect import insert_for
from db.models.billing import WebhookEvent

__all__ = ["insert_ignore", "ledger_values", "record_event"]


def insert_ignore(session: AsyncSession, table: Any, values: dict[str, Any], *index: str) -> Insert:
    """`INSERT … ON CONFLICT (index) DO NOTHING` for the session's dialect."""
    target: Table = table.__table__ if hasattr(table, "__table__") else table
    return insert_for(session)(target).values(**values).on_conflict_do_nothing(index_elements=list(index))


_RECORD: dict[str, Insert] = {}


def _record_statement(dialect: str) -> Insert:
    """`INSERT INTO webhook_events … ON CONFLICT (event_id) DO NOTHING RETURNING event_id`, built once per dialect."""
    stmt = _RECORD.get(dialect)
    if stmt is None:
        table: Table = WebhookEvent.__table__  # type: ignore[assignment]
        base = insert_for(dialect)(table)
        stmt = _RECORD[dialect] = base.on_conflict_do_nothing(index_elements=["event_id"]).returning(table.c.event_id)
    return stmt


def ledger_values(
    *,
    event_id: str,
    event_type: str,
    occurred_at: datetime,
    notification_id: str | None,
    payload: dict[str, Any],
) -> dict[str, Any]:
    """A new ledger row (every column), for `record_event` or a statement that records as it goes."""
    return {
        "event_id": event_id,
        "event_type": event_type,
        "occurred_at": occurred_at,
        "notification_id": notification_id,
        "payload": payload,
        "received_at": utcnow(),
        "processed_at": None,
        "guild_id": None,
        "note": "",
    }


async def record_event(conn: AsyncConnection, values: dict[str, Any]) -> bool:
    """Insert the ledger row `values` (see `ledger_values`); False when its event_id was already there.

    One round trip tells new from duplicate. Call it inside the transaction that applies the event: a
    concurrent duplicate blocks on the unique key until the first commits, then finds the row and is
    acknowledged with no effect (or, if the first rolled back, inserts it and applies the event itself).
    """
    result = await conn.execute(_record_statement(conn.dialect.name), values)
    return result.scalar_one_or_none() is not None
