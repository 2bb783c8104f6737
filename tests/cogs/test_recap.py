"""`/campaign recap` through discord.py's real dispatch: it lists what the GM revealed or saved this session in the
channel's campaign (and nothing else), single items can be dropped, and "Save all to canon" makes the next panic
cite them and puts their names on the roster."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.discord.offline.driver import DiscordDriver
from bot.memory.scope import CampaignScope
from bot.services import Services
from bot.settings import Settings
from db.base import utcnow
from db.models.campaign import Campaign
from db.models.panic import SavedImprov
from tests.cogs.conftest import model_settings
from tests.fakes.openai import FakeOpenAI

LOBBY = 720_000_000_000_000_001  # the server's default campaign


@pytest.fixture
def settings(tmp_path: Path, fake_openai: FakeOpenAI) -> Settings:
    """Embedded settings with the fake model."""
    return model_settings(tmp_path / "data", fake_openai)


def _title(ex: Any) -> str:
    return str(ex.last.embeds[0]["title"])


def _drop_option(message: Any, title: str) -> str:
    menu = next(c for c in message.buttons() if c.get("placeholder") == "Drop from tonight's list…")
    return next(o["value"] for o in menu["options"] if title[:60] in o["label"])


async def _frogs(sim: DiscordDriver, services: Services) -> CampaignScope:
    await sim.slash("campaign new", name="Frogs")
    await sim.slash("campaign use", name="Frogs")
    async with services.sessionmaker() as session:
        campaign_id = (await session.execute(select(Campaign.id))).scalar_one()
    return CampaignScope(sim.guild_id, campaign_id)


async def test_recap_lists_this_sessions_reveals_and_saves_and_save_all_makes_the_next_panic_cite_them(
    discord_sim: DiscordDriver, services: Services, fake_openai: FakeOpenAI
) -> None:
    sim = discord_sim
    scope = await _frogs(sim, services)
    revealed = await sim.slash("panic npc", details="the ferryman of the lily pads")
    await sim.click(revealed.message, "Reveal to table")
    saved = await sim.slash("panic location", details="the mossy well")
    await sim.click(saved.message, "Save to campaign")
    unseen = await sim.slash("panic tavern", details="a tavern nobody is told about")
    dropped = await sim.slash("panic npc", details="a heckler at the frog races")
    await sim.click(dropped.message, "Reveal to table")
    elsewhere = await sim.slash("panic npc", details="a stranger in the lobby", channel_id=LOBBY)
    await sim.click(elsewhere.message, "Reveal to table")
    await sim.settle()

    recap = await sim.slash("campaign recap")
    listed = recap.last.embeds[0]["description"]
    for shown in (revealed, saved, dropped):
        assert _title(shown) in listed
    assert _title(unseen) not in listed  # never shown to the table nor saved
    assert _title(elsewhere) not in listed  # another campaign's
    assert "2 not in your notes yet" in recap.last.embeds[0]["footer"]["text"]

    after_drop = await sim.select(
        recap.message, "Drop from tonight's list…", [_drop_option(recap.message, _title(dropped))]
    )
    listed = after_drop.message.embeds[0]["description"]
    assert _title(dropped) not in listed
    assert _title(revealed) in listed

    done = await sim.click(after_drop.message, "Save all to canon")
    assert _title(revealed) in done.last.content
    assert _title(dropped) not in done.last.content
    await sim.settle()
    assert "Everything here is in your notes already" in done.message.embeds[0]["footer"]["text"]
    notes = [d.file_name for d in await services.memory.list_documents(scope)]
    assert len([n for n in notes if n.startswith("note-")]) == 2  # the saved location and the revealed NPC
    assert await services.memory.list_documents(sim.guild_id) == []  # nothing went to the default campaign

    name = _title(revealed).split(" — ")[0]
    assert name in await services.memory.roster(scope)  # the improvised NPC is canon now
    cited = await sim.slash("panic rumor", details=f"what people say about {name}")
    sources = next(f["value"] for f in cited.last.embeds[0]["fields"] if f["name"] == "Sources")
    assert "note-" in sources
    assert name in fake_openai.chat_requests()[-1].prompt

    again = await sim.slash("campaign recap")
    assert _title(dropped) not in again.last.embeds[0]["description"]  # dropped stays dropped
    assert not [b for b in again.message.buttons() if b.get("label") == "Save all to canon"]


async def test_a_session_starts_after_six_hours_without_a_panic(discord_sim: DiscordDriver, services: Services) -> None:
    sim = discord_sim
    await _frogs(sim, services)
    last_week = await sim.slash("panic npc", details="the old ferryman")
    await sim.click(last_week.message, "Reveal to table")
    await sim.settle()
    async with services.sessionmaker.begin() as session:  # as if it was made at last week's session
        await session.execute(update(SavedImprov).values(created_at=utcnow() - timedelta(days=6, hours=20)))
    tonight = await sim.slash("panic npc", details="the new ferryman")
    await sim.click(tonight.message, "Reveal to table")
    await sim.settle()

    recap = await sim.slash("campaign recap")
    assert _title(tonight) in recap.last.embeds[0]["description"]
    assert _title(last_week) not in recap.last.embeds[0]["description"]
    week = await sim.slash("campaign recap", since="7d")
    assert _title(last_week) in week.last.embeds[0]["description"]
    bad = await sim.slash("campaign recap", since="last tuesday")
    assert bad.last.embeds[0]["title"] == "Can't read that time"
    player = await sim.slash("campaign recap", user=sim.player)
    assert player.last.embeds[0]["title"] == "GM only"


async def test_an_answer_the_gm_posts_publicly_counts_as_revealed(
    discord_sim: DiscordDriver, services: Services
) -> None:
    sim = discord_sim
    await _frogs(sim, services)
    await sim.slash("panic settings", public_by_default=True)
    public = await sim.slash("panic npc", details="the toll frog")
    await sim.settle()
    recap = await sim.slash("campaign recap")
    assert not public.message.ephemeral
    assert public.message.embeds[0]["title"] in recap.last.embeds[0]["description"]


async def test_an_empty_session_says_so(discord_sim: DiscordDriver, services: Services) -> None:
    await _frogs(discord_sim, services)
    await discord_sim.slash("panic npc")
    recap = await discord_sim.slash("campaign recap")
    assert "Nothing revealed or saved yet this session" in recap.last.embeds[0]["description"]
    assert not recap.message.buttons()
