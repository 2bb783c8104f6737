"""Replies inside Discord's rules, through real dispatch: the first answer after a defer edits the placeholder
(the fake refuses the deprecated followup in its place), an error never replaces a public answer, and every text
fits Discord's limits however long the user's options or the model's fields are."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.discord.client import NO_ANSWER
from bot.discord.offline.driver import DiscordDriver
from bot.errors import UserFacingError
from bot.services import Services
from bot.settings import Settings
from tests.cogs.conftest import model_settings
from tests.fakes.openai import FakeOpenAI

LONG_OPTION = "ë" * 5990 + " <@1> **x**"  # 6,000 characters: Discord's longest string option


@pytest.fixture
def settings(tmp_path: Path, fake_openai: FakeOpenAI) -> Settings:
    """Embedded settings with the fake model."""
    return model_settings(tmp_path / "data", fake_openai)


def _no_followup_in_place_of_an_edit(sim: DiscordDriver) -> None:
    """Every followup request went to an interaction whose placeholder was already filled (else the fake refused)."""
    assert not sim.fake.violations, sim.fake.violations


async def test_answers_after_a_defer_edit_the_placeholder(discord_sim: DiscordDriver, services: Services) -> None:
    await services.memory.import_file(discord_sim.guild_id, "town.md", "text/markdown", b"# Town\n\nA quiet town.\n")
    for command, options in [
        ("campaign list", {}),
        ("campaign status", {}),
        ("campaign search", {"query": "town"}),
        ("campaign party add", {"name": "Mira"}),
        ("campaign party list", {}),
        ("panic settings", {}),
    ]:
        ex = await discord_sim.slash(command, **options)
        assert ex.ephemeral
        assert not ex.followups, command  # the answer is the edited placeholder, not a new message
        assert ex.message.embeds, command
        assert not ex.message.payload["flags"] & 128, command  # no longer loading
    _no_followup_in_place_of_an_edit(discord_sim)


@pytest.mark.parametrize("command", ["campaign forget", "campaign visibility"])
async def test_a_6000_character_document_option_gets_a_fitting_error(discord_sim: DiscordDriver, command: str) -> None:
    options: dict[str, Any] = {"document": LONG_OPTION}
    if command == "campaign visibility":
        options["player_safe"] = True
    ex = await discord_sim.slash(command, **options)
    [reply] = ex.responses
    assert reply.ephemeral
    [embed] = reply.embeds
    assert embed["title"]
    assert len(embed["description"]) <= 4096
    _no_followup_in_place_of_an_edit(discord_sim)


async def test_save_confirmation_fits_a_2500_character_title(
    discord_sim: DiscordDriver, fake_openai: FakeOpenAI
) -> None:
    fake_openai.overrides = {"name": "The " + "very " * 499 + "long name"}  # an NPC's title is its name
    try:
        ex = await discord_sim.slash("panic npc")
        saved = await discord_sim.click(ex.message, "Save to campaign")
    finally:
        fake_openai.overrides = {}
    [reply] = saved.responses
    assert reply.ephemeral
    assert reply.content.startswith("Saved **The very")
    assert len(reply.content) <= 2000
    _no_followup_in_place_of_an_edit(discord_sim)


async def test_an_error_after_a_public_defer_stays_private(
    discord_sim: DiscordDriver, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    await discord_sim.slash("panic settings", public_by_default=True)

    async def failing_panic(*args: Any, **kwargs: Any) -> Any:
        raise UserFacingError("The improviser is out to lunch.", title="No answer")

    monkeypatch.setattr(services.improv, "panic", failing_panic)
    ex = await discord_sim.slash("panic npc")
    assert not ex.ephemeral  # the defer was public
    placeholder = discord_sim.fake.messages[ex.record.original_message_id or 0]
    assert placeholder.deleted
    assert [bool(state["content"] or state["embeds"]) for state in placeholder.edits] == [False]  # only "thinking…"
    assert placeholder.content == NO_ANSWER
    assert not placeholder.embeds
    assert discord_sim.channel_messages() == []  # nothing public is left, least of all the error
    [error] = ex.followups
    assert error.ephemeral
    assert error.embeds[0]["title"] == "No answer"
    _no_followup_in_place_of_an_edit(discord_sim)
