"""Guild records and per-guild settings (plain async functions over a session; no discord)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.dialect import insert_for
from db.models import Guild, GuildSettings

__all__ = ["ensure_guild", "get_settings", "update_settings"]

# Only real columns may change; not the key, the timestamp, the relationship or any other class attribute.
_EDITABLE = frozenset(attr.key for attr in inspect(GuildSettings).column_attrs) - {"guild_id", "updated_at"}


async def ensure_guild(session: AsyncSession, guild_id: int, name: str | None = None) -> None:
    """Create the guild and its settings row if missing; safe under concurrent callers."""
    insert = insert_for(session)
    values: dict[str, Any] = {"id": guild_id, "name": (name or "")[:100]}
    await session.execute(insert(Guild).values(**values).on_conflict_do_nothing())
    await session.execute(insert(GuildSettings).values(guild_id=guild_id).on_conflict_do_nothing())


async def get_settings(session: AsyncSession, guild_id: int) -> GuildSettings:
    """The guild's settings, created with defaults on first use."""
    row = await session.get(GuildSettings, guild_id)
    if row is None:
        await ensure_guild(session, guild_id)
        row = (await session.execute(select(GuildSettings).where(GuildSettings.guild_id == guild_id))).scalar_one()
    return row


async def update_settings(session: AsyncSession, guild_id: int, **changes: Any) -> GuildSettings:
    """Change some settings of a guild and return the row."""
    row = await get_settings(session, guild_id)
    for key, value in changes.items():
        if key not in _EDITABLE:
            raise KeyError(key)
        setattr(row, key, value)
    await session.flush()
    return row
