"""Guild records and per-guild settings, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.guilds import ensure_guild, get_settings, update_settings
from db.models import Guild, GuildSettings

GUILD_ID = 987_654_321_012_345_678  # a real snowflake needs BIGINT


async def rows_for(session: AsyncSession, guild_id: int) -> tuple[int, int]:
    """How many guild rows and settings rows exist for `guild_id` (other tests may share the database)."""
    guilds = await session.execute(select(func.count()).select_from(Guild).where(Guild.id == guild_id))
    settings = await session.execute(
        select(func.count()).select_from(GuildSettings).where(GuildSettings.guild_id == guild_id)
    )
    return int(guilds.scalar_one()), int(settings.scalar_one())


async def test_ensure_guild_creates_guild_and_settings(db_session: AsyncSession) -> None:
    await ensure_guild(db_session, GUILD_ID, "The Gilded Griffin")
    guild = await db_session.get(Guild, GUILD_ID)
    assert guild is not None
    assert guild.name == "The Gilded Griffin"
    assert guild.joined_at.tzinfo is not None
    assert await db_session.get(GuildSettings, GUILD_ID) is not None


async def test_ensure_guild_is_idempotent(db_session: AsyncSession) -> None:
    await ensure_guild(db_session, GUILD_ID, "first")
    await ensure_guild(db_session, GUILD_ID, "second")
    assert await rows_for(db_session, GUILD_ID) == (1, 1)


async def test_ensure_guild_truncates_long_names(db_session: AsyncSession) -> None:
    await ensure_guild(db_session, GUILD_ID, "x" * 150)
    guild = await db_session.get(Guild, GUILD_ID)
    assert guild is not None
    assert len(guild.name) == 100


async def test_get_settings_creates_defaults_on_first_use(db_session: AsyncSession) -> None:
    settings = await get_settings(db_session, GUILD_ID)
    assert settings.guild_id == GUILD_ID
    assert settings.gm_role_id is None
    assert settings.players_may_panic is False
    assert settings.public_by_default is False
    assert settings.tone == "balanced"
    assert settings.content_rating == "pg13"
    assert settings.max_words == 120
    assert settings.button_kind == "npc"
    assert await db_session.get(Guild, GUILD_ID) is not None


async def test_update_settings_persists_changes(db_session: AsyncSession) -> None:
    await update_settings(db_session, GUILD_ID, tone="grim", max_words=60, gm_role_id=1234567890123456789)
    await db_session.commit()
    db_session.expire_all()
    reread = (await db_session.execute(select(GuildSettings).where(GuildSettings.guild_id == GUILD_ID))).scalar_one()
    assert (reread.tone, reread.max_words, reread.gm_role_id) == ("grim", 60, 1234567890123456789)


@pytest.mark.parametrize("key", ["no_such_setting", "updated_at", "guild", "metadata"])
async def test_update_settings_rejects_unknown_or_protected_keys(db_session: AsyncSession, key: str) -> None:
    with pytest.raises(KeyError):
        await update_settings(db_session, GUILD_ID, **{key: 1})
