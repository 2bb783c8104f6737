"""Reroll and Reveal act only for the answer's owner or a GM, through discord.py's real dispatch.

A player who clicks (or forges) a button under someone else's answer gets a private, friendly refusal and
nothing reaches the channel or the model; a GM may use any answer's buttons, but a reroll by anyone but the
owner never puts the owner's details into the prompt.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import pytest_asyncio

from bot.discord.checks import NOT_YOURS_MESSAGE
from bot.discord.offline.driver import BASIC_PERMISSIONS, MANAGE_GUILD, DiscordDriver, Exchange, FakeUser
from bot.settings import Settings
from tests.cogs.conftest import model_settings
from tests.fakes.openai import FakeOpenAI

CO_GM = FakeUser(1003, "cogm", BASIC_PERMISSIONS | MANAGE_GUILD)
OTHER_PLAYER = FakeUser(2004, "other")

GM_DETAILS = "the innkeeper Ostrava who is secretly the vampire queen"
PLAYER_DETAILS = "a fence my rogue Pim once cheated"


@pytest.fixture
def settings(tmp_path: Path, fake_openai: FakeOpenAI) -> Settings:
    """Embedded settings with the fake model (so each prompt can be read)."""
    return model_settings(tmp_path / "data", fake_openai)


@pytest_asyncio.fixture(loop_scope="session")
async def sim(discord_sim: DiscordDriver) -> DiscordDriver:
    """A guild where players may panic."""
    await discord_sim.slash("panic settings", players_may_panic=True)
    return discord_sim


def refused(ex: Exchange) -> bool:
    """The clicker got the private "not your answer" refusal."""
    last = ex.last
    return (
        last.ephemeral
        and last.embeds[0]["title"] == "Not your answer"
        and (NOT_YOURS_MESSAGE in last.embeds[0]["description"])
    )


def prompts(fake: FakeOpenAI) -> list[str]:
    return [json.dumps(r.body["messages"]) for r in fake.chat_requests()]


async def test_a_player_cannot_reroll_a_public_gm_answer(sim: DiscordDriver, fake_openai: FakeOpenAI) -> None:
    await sim.slash("panic settings", public_by_default=True)
    public = await sim.slash("panic npc", details=GM_DETAILS)
    assert not public.ephemeral
    asked = len(fake_openai.chat_requests())

    tried = await sim.click(public.message, "Reroll", user=sim.player)

    assert tried.ephemeral
    assert refused(tried)
    assert len(fake_openai.chat_requests()) == asked  # nothing went to the model
    assert not any(GM_DETAILS in p for p in prompts(fake_openai)[asked:])
    assert sim.channel_messages() == [public.message]


async def test_a_player_cannot_reveal_a_gm_answer(sim: DiscordDriver) -> None:
    private = await sim.slash("panic npc", details=GM_DETAILS)

    tried = await sim.click(private.message, "Reveal to table", user=sim.player)  # a forged click

    assert refused(tried)
    assert sim.channel_messages() == []


async def test_a_player_cannot_use_another_players_answer(sim: DiscordDriver) -> None:
    theirs = await sim.slash("panic npc", details=PLAYER_DETAILS, user=sim.player)

    for label in ("Reveal to table", "Reroll"):
        assert refused(await sim.click(theirs.message, label, user=OTHER_PLAYER))
    assert sim.channel_messages() == []


async def test_the_owner_rerolls_with_their_own_details(sim: DiscordDriver, fake_openai: FakeOpenAI) -> None:
    theirs = await sim.slash("panic npc", details=PLAYER_DETAILS, user=sim.player)
    asked = len(fake_openai.chat_requests())

    rerolled = await sim.click(theirs.message, "Reroll", user=sim.player)
    revealed = await sim.click(theirs.message, "Reveal to table", user=sim.player)

    assert rerolled.ephemeral
    assert rerolled.message.embeds[0]["fields"]
    assert any(PLAYER_DETAILS in p for p in prompts(fake_openai)[asked:])
    assert "Shared with the table" in revealed.last.content
    assert len(sim.channel_messages()) == 1


async def test_a_gm_rerolls_anyones_answer_without_their_details(sim: DiscordDriver, fake_openai: FakeOpenAI) -> None:
    players = await sim.slash("panic npc", details=PLAYER_DETAILS, user=sim.player)
    gms = await sim.slash("panic npc", details=GM_DETAILS)
    asked = len(fake_openai.chat_requests())

    for message in (players.message, gms.message):
        rerolled = await sim.click(message, "Reroll", user=CO_GM)
        assert rerolled.ephemeral
        assert rerolled.message.embeds[0]["fields"]

    mine = prompts(fake_openai)[asked:]
    assert len(mine) == 2
    assert not any(PLAYER_DETAILS in p or GM_DETAILS in p for p in mine)
    revealed = await sim.click(players.message, "Reveal to table", user=CO_GM)
    assert "Shared with the table" in revealed.last.content


async def test_an_owner_who_is_no_longer_a_gm_cannot_reveal_an_answer_made_from_gm_notes(sim: DiscordDriver) -> None:
    helper = FakeUser(3005, "helper", roles=(77,))
    await sim.slash("panic settings", gm_role=sim.role(77, "Co-GM"))
    theirs = await sim.slash("panic npc", details=GM_DETAILS, user=helper)  # made as a GM, from every note
    await sim.slash("panic settings", gm_role=sim.role(78, "GM"))

    tried = await sim.click(theirs.message, "Reveal to table", user=helper)
    rerolled = await sim.click(theirs.message, "Reroll", user=helper)  # their own details, player-safe notes only

    assert refused(tried)
    assert sim.channel_messages() == []
    assert "player-safe notes only" in rerolled.message.embeds[0]["footer"]["text"]
