"""Several campaigns per server, chosen by channel, through discord.py's real dispatch: two channels bound to two
campaigns never cite each other's notes (panics, search, the red button, the pool), as strictly as two guilds
(tests/memory/test_campaign.py); bindings by thread, channel and category; per-campaign settings; rename and
delete with confirmation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.discord.offline.driver import DiscordDriver
from bot.memory.scope import CampaignScope
from bot.services import Services
from bot.settings import Settings
from db.models.campaign import Campaign
from db.models.panic import Panic as PanicRow
from db.models.panic import SavedImprov
from tests.cogs.conftest import model_settings
from tests.fakes.openai import FakeOpenAI
from tests.memory.test_campaign import GUILD_A_NOTES, GUILD_B_NOTES
from tests.support.discord import running_bot

COURT_CHANNEL = 700_000_000_000_000_001
FROG_CHANNEL = 700_000_000_000_000_002
LOBBY_CHANNEL = 700_000_000_000_000_003  # bound to nothing: the server's default campaign

COURT_WORDS = ("Ysolde", "Corvin", "cinder", "Ember Vault", "court.md")
FROG_WORDS = ("Bulbous", "Ribbit", "Mossy", "lily pads", "frogs.md")


@pytest.fixture
def settings(tmp_path: Path, fake_openai: FakeOpenAI) -> Settings:
    """Embedded settings with the fake model."""
    return model_settings(tmp_path / "data", fake_openai)


def _fields(ex: Any) -> dict[str, str]:
    return {f["name"]: f["value"] for f in ex.last.embeds[0].get("fields", [])}


def _text(ex: Any) -> str:
    return str(ex.last.embeds[0]) + str(ex.last.content or "")


async def _two_campaigns(sim: DiscordDriver, tmp_path: Path) -> None:
    """The Ashen Court in one channel, the Frog Kingdom in another, each with its notes imported there."""
    for name, channel, file_name, notes in (
        ("Ashen Court", COURT_CHANNEL, "court.md", GUILD_A_NOTES),
        ("Frog Kingdom", FROG_CHANNEL, "frogs.md", GUILD_B_NOTES),
    ):
        created = await sim.slash("campaign new", name=name, channel_id=channel)
        assert created.last.embeds[0]["title"] == "Campaign created"
        used = await sim.slash("campaign use", name=name, channel_id=channel)
        assert name in used.last.embeds[0]["description"]
        path = tmp_path / file_name
        path.write_bytes(notes)
        imported = await sim.slash("campaign import", file=sim.attachment(path), channel_id=channel)
        assert "Imported" in _text(imported) or "imported" in _text(imported), _text(imported)
    await sim.settle()


async def test_two_channels_bound_to_two_campaigns_never_cite_each_others_notes(
    discord_sim: DiscordDriver, services: Services, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    sim = discord_sim
    await _two_campaigns(sim, tmp_path)

    # search: the other campaign's notes are not there, however the query names them
    for channel, mine, theirs, queries in (
        (COURT_CHANNEL, "court.md", FROG_WORDS, ["King Bulbous the Third", "Sir Ribbit herald", "frogs.md"]),
        (FROG_CHANNEL, "frogs.md", COURT_WORDS, ["Queen Ysolde Marrowgate", "Corvin Vell spymaster", "court.md"]),
    ):
        for query in queries:
            found = await sim.slash("campaign search", query=query, results=10, channel_id=channel)
            text = str(_fields(found))  # the passages (the title repeats the query)
            assert all(word not in text for word in theirs), (channel, query, text)
        listed = await sim.slash("campaign list", channel_id=channel)
        assert mine in _text(listed)
        assert all(word not in _text(listed) for word in theirs)
    court = await sim.slash("campaign search", query="Queen Ysolde", results=1, channel_id=COURT_CHANNEL)
    assert "Ysolde" in _text(court)
    lobby = await sim.slash("campaign search", query="Queen Ysolde King Bulbous", channel_id=LOBBY_CHANNEL)
    assert all(word not in str(_fields(lobby)) for word in COURT_WORDS + FROG_WORDS)  # the default campaign is empty

    # panics: the prompt and the Sources hold the channel's campaign only (and "Already given" its own answers)
    titles: list[str] = []
    for channel, details, mine, theirs in (
        (COURT_CHANNEL, "King Bulbous the Third of the Frog Kingdom", "court.md", FROG_WORDS),
        (FROG_CHANNEL, "Queen Ysolde Marrowgate's spymaster", "frogs.md", COURT_WORDS),
    ):
        answer = await sim.slash("panic npc", details=details, channel_id=channel)
        prompt = fake_openai.chat_requests()[-1].prompt
        assert mine in _fields(answer).get("Sources", ""), _fields(answer)
        assert all(title.split(" — ")[0] not in prompt for title in titles), (titles, prompt)
        titles.append(answer.last.embeds[0]["title"])
        for word in theirs:
            assert word not in prompt.replace(details, ""), (channel, word)
            assert word not in _text(answer).replace(details, "")

    # the red button, posted in the Frog Kingdom's channel, answers from the Frog Kingdom's notes
    panel = (await sim.slash("panic button", channel_id=FROG_CHANNEL)).message
    clicked = await sim.click(panel, "PANIC!")
    prompt = fake_openai.chat_requests()[-1].prompt
    assert "Bulbous" in prompt or "Ribbit" in prompt or "Mossy" in prompt
    assert all(word not in prompt for word in COURT_WORDS)
    assert all(word not in _text(clicked) for word in COURT_WORDS)

    # another campaign's documents are unknown here: forget and visibility refuse them
    court_doc = (await services.memory.list_documents(CampaignScope(sim.guild_id, await _id(services, "Ashen Court"))))[
        0
    ]
    refused = await sim.slash("campaign forget", document=court_doc.document_id, channel_id=FROG_CHANNEL)
    assert refused.last.embeds[0]["title"] != "Forgotten"
    assert await services.memory.list_documents(CampaignScope(sim.guild_id, await _id(services, "Ashen Court")))

    # Save keeps an answer in the campaign it was made in
    saved = await sim.click(clicked.message, "Save to campaign")
    assert "Saved" in saved.last.content
    frogs = CampaignScope(sim.guild_id, await _id(services, "Frog Kingdom"))
    assert any(d.file_name.startswith("note-") for d in await services.memory.list_documents(frogs))
    court_docs = await services.memory.list_documents(CampaignScope(sim.guild_id, await _id(services, "Ashen Court")))
    assert not any(d.file_name.startswith("note-") for d in court_docs)
    async with services.sessionmaker() as session:
        campaigns = set((await session.execute(select(SavedImprov.campaign_id))).scalars())
    assert campaigns == {frogs.campaign_id, await _id(services, "Ashen Court")}


async def _id(services: Services, name: str) -> int:
    async with services.sessionmaker() as session:
        return (await session.execute(select(Campaign.id).where(Campaign.name == name))).scalar_one()


async def test_the_party_and_the_roster_are_the_campaigns_own(
    discord_sim: DiscordDriver, services: Services, tmp_path: Path
) -> None:
    sim = discord_sim
    await _two_campaigns(sim, tmp_path)
    await sim.slash("campaign party add", name="Kestrel Vane", channel_id=COURT_CHANNEL)
    court = await sim.slash("campaign party list", channel_id=COURT_CHANNEL)
    frogs = await sim.slash("campaign party list", channel_id=FROG_CHANNEL)
    assert "Kestrel Vane" in _text(court)
    assert "Kestrel Vane" not in _text(frogs)
    court_roster = await services.memory.roster(CampaignScope(sim.guild_id, await _id(services, "Ashen Court")))
    frog_roster = await services.memory.roster(CampaignScope(sim.guild_id, await _id(services, "Frog Kingdom")))
    assert any("Ysolde" in n for n in court_roster)
    assert not any("Bulbous" in n for n in court_roster)
    assert any("Bulbous" in n for n in frog_roster)
    assert not any("Ysolde" in n for n in frog_roster)


async def test_the_pool_of_one_campaign_never_answers_in_another(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    from bot.services import open_services
    from db.migrate import upgrade

    settings = model_settings(tmp_path / "p", fake_openai, pool_size=2)
    async with open_services(settings) as services:
        await upgrade(services.engine)
        async with running_bot(services) as sim:
            await _two_campaigns(sim, tmp_path)
            await sim.slash("panic npc", channel_id=COURT_CHANNEL)
            await sim.settle()  # the Ashen Court's pool is refilled from its notes
            court = await sim.slash("panic npc", channel_id=COURT_CHANNEL)
            frog = await sim.slash("panic npc", channel_id=FROG_CHANNEL)
            await sim.settle()
            async with services.sessionmaker() as session:
                hits = list((await session.execute(select(PanicRow.pool_hit).order_by(PanicRow.id))).scalars())
    assert "instant pool" in court.last.embeds[0]["footer"]["text"]
    assert "instant pool" not in frog.last.embeds[0]["footer"]["text"]
    assert all(word not in _text(frog) for word in COURT_WORDS)
    assert hits == [False, True, False]


async def test_threads_follow_their_channel_and_channels_their_category(
    discord_sim: DiscordDriver, tmp_path: Path
) -> None:
    sim = discord_sim
    await _two_campaigns(sim, tmp_path)
    thread, sibling, category = 710_000_000_000_000_001, 710_000_000_000_000_002, 710_000_000_000_000_009
    sim.threads[thread] = FROG_CHANNEL
    found = await sim.slash("campaign search", query="King Bulbous", channel_id=thread)
    assert "Bulbous" in _text(found)

    sim.categories[LOBBY_CHANNEL] = category
    sim.categories[sibling] = category
    bound = await sim.slash("campaign use", name="Ashen Court", whole_category=True, channel_id=LOBBY_CHANNEL)
    assert "This category now uses **Ashen Court**" in _text(bound)
    found = await sim.slash("campaign search", query="Queen Ysolde", channel_id=sibling)
    assert "Ysolde" in _text(found)
    here = await sim.slash("campaign here", channel_id=sibling)
    assert "This channel uses **Ashen Court**" in _text(here)
    # a channel's own binding wins over its category's
    await sim.slash("campaign use", name="Frog Kingdom", channel_id=sibling)
    found = await sim.slash("campaign search", query="Queen Ysolde King Bulbous", channel_id=sibling)
    assert "Bulbous" in str(_fields(found))
    assert "Ysolde" not in str(_fields(found))
    # and `default` takes a channel back to the server's default campaign
    await sim.slash("campaign use", name="default", channel_id=FROG_CHANNEL)
    here = await sim.slash("campaign here", channel_id=FROG_CHANNEL)
    assert "the server's **default** campaign" in _text(here)


async def test_a_campaigns_own_settings_override_the_servers(
    discord_sim: DiscordDriver, fake_openai: FakeOpenAI
) -> None:
    sim = discord_sim
    await sim.slash("panic settings", game_system="Dungeon World")
    await sim.slash("campaign new", name="Doskvol", game_system="Blades in the Dark", channel_id=COURT_CHANNEL)
    await sim.slash("campaign use", name="Doskvol", channel_id=COURT_CHANNEL)
    await sim.slash("panic npc", channel_id=COURT_CHANNEL)
    assert "Blades in the Dark" in fake_openai.chat_requests()[-1].prompt
    await sim.slash("panic npc", channel_id=LOBBY_CHANNEL)
    lobby_prompt = fake_openai.chat_requests()[-1].prompt
    assert "Dungeon World" in lobby_prompt
    assert "Blades in the Dark" not in lobby_prompt

    changed = await sim.slash("campaign configure", name="doskvol", game_system="Scum and Villainy")
    assert "system: Scum and Villainy" in _text(changed)
    await sim.slash("panic npc", channel_id=COURT_CHANNEL)
    assert "Scum and Villainy" in fake_openai.chat_requests()[-1].prompt
    reset = await sim.slash("campaign configure", name="Doskvol", server_defaults=True)
    assert "the server's settings" in _text(reset)
    await sim.slash("panic npc", channel_id=COURT_CHANNEL)
    assert "Dungeon World" in fake_openai.chat_requests()[-1].prompt


async def test_rename_and_delete_with_confirmation(
    discord_sim: DiscordDriver, services: Services, tmp_path: Path
) -> None:
    sim = discord_sim
    await _two_campaigns(sim, tmp_path)
    frogs = CampaignScope(sim.guild_id, await _id(services, "Frog Kingdom"))
    renamed = await sim.slash(
        "campaign rename", name="frog kingdom", new_name="The Lily Court", channel_id=LOBBY_CHANNEL
    )
    assert "**The Lily Court**" in _text(renamed)
    taken = await sim.slash("campaign rename", name="The Lily Court", new_name="Ashen Court")
    assert taken.last.embeds[0]["title"] == "Already there"
    here = await sim.slash("campaign here", channel_id=FROG_CHANNEL)
    assert "This channel uses **The Lily Court**" in _text(here)

    asked = await sim.slash("campaign delete", name="The Lily Court")
    cancelled = await sim.click(asked.message, "Cancel")
    assert cancelled.last.embeds[0]["title"] == "Nothing deleted"
    assert await services.memory.list_documents(frogs)

    asked = await sim.slash("campaign delete", name="The Lily Court")
    refused = await sim.click(asked.message, "Delete the campaign and its notes", user=sim.player)
    assert refused.last.embeds[0]["title"] == "GM only"
    done = await sim.click(asked.message, "Delete the campaign and its notes")
    assert done.last.embeds[0]["title"] == "Campaign deleted"
    assert await services.memory.list_documents(frogs) == []
    assert await services.memory.store.count(frogs) == 0
    here = await sim.slash("campaign here", channel_id=FROG_CHANNEL)
    assert "the server's **default** campaign" in _text(here)
    found = await sim.slash("campaign search", query="King Bulbous", channel_id=FROG_CHANNEL)
    assert "Bulbous" not in str(_fields(found))
    court = await sim.slash("campaign search", query="Queen Ysolde", channel_id=COURT_CHANNEL)
    assert "Ysolde" in _text(court)  # the other campaign is untouched

    for name, title in (("default", "Nothing to delete"), ("Nowhere", "Nothing to delete")):
        assert (await sim.slash("campaign delete", name=name)).last.embeds[0]["title"] == title
    for bad in ("default", "a*b", " "):
        made = await sim.slash("campaign new", name=bad)
        assert made.last.embeds[0]["title"] == "Can't use that name"
