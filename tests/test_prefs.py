"""A guild's panic preferences: read from and written to its settings row, on SQLite."""

from __future__ import annotations

from bot.improv.prompts import Style
from bot.prefs import DEFAULT_PREFS, change_prefs, load_prefs
from bot.services import Services

GUILD_ID = 987_654_321_012_345_678


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
