"""`/panic help` and the one error route, through discord.py's real dispatch."""

from __future__ import annotations

import re
from typing import Any

import discord
import pytest
from discord import app_commands

from bot.discord.offline.driver import DiscordDriver
from bot.discord.views import PanicView, PersistentItem
from bot.errors import UserFacingError
from bot.improv.kinds import KIND_INFO


async def test_panic_help_answers_privately_with_the_kinds(discord_sim: DiscordDriver) -> None:
    ex = await discord_sim.slash("panic help")
    assert ex.ephemeral
    embed = ex.message.embeds[0]
    assert embed["title"] == "Improv Panic Button"
    for word in ("npc", "tavern", "/campaign import", "/panic button"):
        assert word in embed["description"]


async def test_panic_help_lists_every_kind_with_its_description(discord_sim: DiscordDriver) -> None:
    text = (await discord_sim.slash("panic help")).message.embeds[0]["description"]
    for kind, info in KIND_INFO.items():
        assert f"`/panic {kind}` — {info.description}" in text


def test_every_kind_has_its_command_with_the_registrys_texts(discord_sim: DiscordDriver) -> None:
    group = discord_sim.bot.tree.get_command("panic")
    assert isinstance(group, app_commands.Group)
    payload = {option["name"]: option for option in group.to_dict(discord_sim.bot.tree)["options"]}
    for kind, info in KIND_INFO.items():
        assert payload[kind]["description"] == info.description
        [details] = payload[kind]["options"]
        assert details == {
            "type": discord.AppCommandOptionType.string.value,
            "name": "details",
            "description": info.details_hint,
            "required": False,
            "min_length": 1,
            "max_length": 300,
        }
    kinds = list(KIND_INFO)
    assert list(payload) == ["help", *kinds, "button", "settings"]


async def test_the_kind_picker_offers_every_kind(discord_sim: DiscordDriver) -> None:
    panel = (await discord_sim.slash("panic button")).message
    picker = discord_sim.find_component(panel, "panic:pick")
    assert [(o["label"], o["value"]) for o in picker["options"]] == [(i.label, k) for k, i in KIND_INFO.items()]


def _add(driver: DiscordDriver, func: Any) -> None:
    driver.bot.tree.add_command(app_commands.Command(name=func.__name__, description="test", callback=func))


async def test_user_facing_error_is_shown_as_a_friendly_private_message(discord_sim: DiscordDriver) -> None:
    async def oops(interaction: discord.Interaction) -> None:
        raise UserFacingError("That file is empty.", title="Nothing to import")

    _add(discord_sim, oops)
    ex = await discord_sim.slash("oops")
    assert ex.ephemeral
    assert ex.message.embeds[0]["title"] == "Nothing to import"
    assert ex.message.embeds[0]["description"] == "That file is empty."
    assert discord_sim.errors == []  # expected problems are not logged as errors


async def test_unexpected_error_shows_a_reference_and_logs_the_traceback(discord_sim: DiscordDriver) -> None:
    async def boom(interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        raise RuntimeError("database password is hunter2")

    _add(discord_sim, boom)
    ex = await discord_sim.slash("boom")
    text = ex.message.embeds[0]["description"]
    reference = re.search(r"`([0-9a-f]{8})`", text)
    assert reference is not None
    assert "hunter2" not in str(ex.message.payload)  # the exception text never reaches the user
    [record] = discord_sim.take_errors()
    assert reference.group(1) in record.getMessage()
    assert "command=boom" in record.getMessage()
    assert f"guild={discord_sim.guild_id}" in record.getMessage()
    assert record.exc_info is not None
    assert "hunter2" in str(record.exc_info[1])


async def test_view_and_dynamic_item_errors_take_the_same_route(discord_sim: DiscordDriver) -> None:
    class Broken(PersistentItem[discord.ui.Button[Any]], template=r"test:broken:(?P<n>\d+)"):
        def __init__(self, n: int) -> None:
            super().__init__(discord.ui.Button(label="Break", custom_id=f"test:broken:{n}"))

        @classmethod
        def from_match(cls, match: re.Match[str]) -> Broken:
            return cls(int(match["n"]))

        async def run(self, interaction: discord.Interaction) -> None:
            raise UserFacingError("Broken on purpose.")

    discord_sim.bot.add_dynamic_items(Broken)

    async def post(interaction: discord.Interaction) -> None:
        view = PanicView(timeout=None)
        view.add_item(Broken(7))
        await interaction.response.send_message("here", view=view)

    _add(discord_sim, post)
    ex = await discord_sim.slash("post")
    click = await discord_sim.click(ex.message, "Break")
    assert click.ephemeral
    assert click.last.embeds[0]["description"] == "Broken on purpose."


async def test_harness_fails_an_interaction_that_is_never_acknowledged(discord_sim: DiscordDriver) -> None:
    async def silent(interaction: discord.Interaction) -> None:
        return None

    _add(discord_sim, silent)
    await discord_sim.slash("silent")
    [violation] = discord_sim.take_violations()
    assert "never acknowledged" in violation.message


async def test_harness_answers_an_oversized_message_with_discords_400(discord_sim: DiscordDriver) -> None:
    async def twice(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("x" * 2001)

    _add(discord_sim, twice)
    await discord_sim.slash("twice")
    assert [v.code for v in discord_sim.take_violations()] == [50035]
    assert len(discord_sim.take_errors()) == 1  # the bot's error route logged the 400 it got


async def test_harness_refuses_a_command_tree_sync(discord_sim: DiscordDriver) -> None:
    with pytest.raises(discord.HTTPException):
        await discord_sim.bot.tree.sync()
    assert "sync" in discord_sim.take_violations()[0].message
