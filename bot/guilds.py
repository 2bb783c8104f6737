"""Guild records and per-guild settings (plain async functions over a session or a sessionmaker; no discord)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.improv.kinds import Kind, parse_kind
from bot.improv.prompts import Style
from db.models import Guild, GuildSettings

__all__ = [
    "DEFAULT_PREFS",
    "GuildPrefs",
    "change_prefs",
    "ensure_guild",
    "get_settings",
    "load_prefs",
    "prefs_from_row",
    "style_from_row",
    "update_settings",
]

DEFAULT_BUTTON_KIND: Kind = "npc"


@dataclass(frozen=True, slots=True)
class GuildPrefs:
    """A snapshot of a guild's panic settings, as the doors (Discord, CLI) use them."""

    gm_role_id: int | None
    players_may_panic: bool
    public_by_default: bool
    style: Style
    button_kind: Kind


DEFAULT_PREFS = GuildPrefs(
    gm_role_id=None, players_may_panic=False, public_by_default=False, style=Style(), button_kind=DEFAULT_BUTTON_KIND
)

# Only real columns may change; not the key, the timestamp, the relationship or any other class attribute.
_EDITABLE = frozenset(attr.key for attr in inspect(GuildSettings).column_attrs) - {"guild_id", "updated_at"}


async def ensure_guild(session: AsyncSession, guild_id: int, name: str | None = None) -> None:
    """Create the guild and its settings row if missing; safe under concurrent callers."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
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


def style_from_row(row: GuildSettings) -> Style:
    """The generation preferences held in a settings row."""
    return Style(tone=row.tone, content_rating=row.content_rating, game_system=row.game_system, max_words=row.max_words)


def prefs_from_row(row: GuildSettings) -> GuildPrefs:
    """A settings row as `GuildPrefs` (a button kind that is no longer a kind falls back to the default)."""
    try:
        button_kind = parse_kind(row.button_kind)
    except ValueError:
        button_kind = DEFAULT_BUTTON_KIND
    return GuildPrefs(
        gm_role_id=row.gm_role_id,
        players_may_panic=row.players_may_panic,
        public_by_default=row.public_by_default,
        style=style_from_row(row),
        button_kind=button_kind,
    )


async def load_prefs(sessionmaker: async_sessionmaker[AsyncSession], guild_id: int) -> GuildPrefs:
    """The guild's prefs, its settings row created with defaults on first use."""
    async with sessionmaker.begin() as session:
        return prefs_from_row(await get_settings(session, guild_id))


async def change_prefs(sessionmaker: async_sessionmaker[AsyncSession], guild_id: int, **changes: Any) -> GuildPrefs:
    """Change some settings of a guild (`update_settings` keys) in one transaction; the prefs afterwards."""
    async with sessionmaker.begin() as session:
        return prefs_from_row(await update_settings(session, guild_id, **changes))
