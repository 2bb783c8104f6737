"""Guild records and per-guild settings, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.guilds import DEFAULT_PREFS, change_prefs, ensure_guild, get_settings, load_prefs, update_settings
from bot.improv.prompts import Style
from bot.services import Services
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


async def test_load_prefs_of_a_new_guild_are_the_defaults(services: Services) -> None:
    assert await load_prefs(services.sessionmaker, GUILD_ID) == DEFAULT_PREFS


async def test_changed_prefs_are_what_later_loads_see(services: Services) -> None:
    changed = await change_prefs(
        services.sessionmaker,
        GUILD_ID,
        gm_role_id=42,
        players_may_panic=True,
        tone="noir",
        content_rating="r",
        game_system="Cairn",
        max_words=80,
        button_kind="tavern",
    )
    assert changed == await load_prefs(services.sessionmaker, GUILD_ID)
    assert changed.gm_role_id == 42
    assert changed.players_may_panic is True
    assert changed.public_by_default is False
    assert changed.style == Style(tone="noir", content_rating="r", game_system="Cairn", max_words=80)
    assert changed.button_kind == "tavern"


async def test_a_button_kind_that_is_no_longer_a_kind_falls_back_to_the_default(services: Services) -> None:
    prefs = await change_prefs(services.sessionmaker, GUILD_ID, button_kind="dragon")
    assert prefs.button_kind == DEFAULT_PREFS.button_kind
