"""Typed slash commands read against the bot's real command tree (what `improv console` runs)."""

from __future__ import annotations

import pytest

from bot.discord.offline.command_line import CommandLineError, parse_slash
from bot.discord.offline.driver import DiscordDriver, FakeRole


async def test_named_options_are_split_and_converted(discord_sim: DiscordDriver) -> None:
    name, options = parse_slash(discord_sim, "/panic settings tone: grim length: 80 players_may_panic: yes")
    assert name == "panic settings"
    assert options == {"tone": "grim", "length": 80, "players_may_panic": True}


async def test_text_before_any_option_fills_the_first_free_option(discord_sim: DiscordDriver) -> None:
    assert parse_slash(discord_sim, "/panic npc the blacksmith in Emberfall") == (
        "panic npc",
        {"details": "the blacksmith in Emberfall"},
    )


async def test_a_role_option_takes_its_id(discord_sim: DiscordDriver) -> None:
    _, options = parse_slash(discord_sim, "/panic settings gm_role: <@&777>")
    assert options == {"gm_role": FakeRole(777, "role")}


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("/nope", "unknown command '/nope'"),
        ("/panic", "/panic needs a subcommand"),
        ("/panic help extra words", "/panic help takes no more options"),
    ],
)
async def test_a_line_that_is_no_command_says_what_would_be(discord_sim: DiscordDriver, line: str, says: str) -> None:
    with pytest.raises(CommandLineError, match=says):
        parse_slash(discord_sim, line)
