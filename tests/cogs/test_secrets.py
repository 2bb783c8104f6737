"""GM secrets never reach the table: every path where the channel or a player sees an answer, driven through
discord.py's real dispatch (offline harness), with the fake model and with the offline tables.

Each test reads what the channel saw (every public message, every state of it) and what a player saw, and
asserts that none of it carries a GM-only value of the stored answer, a rumor's truth or the Sources list,
while the GM's private card still has them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bot.discord.offline.driver import DiscordDriver, Exchange
from bot.discord.offline.fake_discord import StoredMessage
from bot.improv.kinds import Improv
from bot.services import Services, open_services
from bot.settings import Settings
from db.migrate import upgrade
from tests.cogs.conftest import model_settings
from tests.fakes.openai import FakeOpenAI
from tests.support.discord import running_bot

NOTES = b"""# Emberfall

Emberfall is a mining town under the ash peaks, ruled by the Tithe Council.

## Brenna Coalhand, master smith

Brenna Coalhand is a soot-freckled woman who speaks in short sentences. She wants her apprentice Tobin to
earn his guild mark before winter. She secretly keeps one tithe ingot in ten for the Lantern Society.

## The Lantern Society

The Lantern Society meets in the cellar of the Crooked Lamp and buys silver it should not have.
"""

SECRET = "Brenna forges the town's tithe ingots and secretly keeps one in ten for the Lantern Society"
TRUTH = re.compile(r"\((?:true|false|partly true)\)")


@pytest.fixture
def settings(tmp_path: Path, fake_openai: FakeOpenAI) -> Settings:
    """Embedded settings with the fake model."""
    return model_settings(tmp_path / "data", fake_openai)


@pytest_asyncio.fixture(loop_scope="session")
async def sim(discord_sim: DiscordDriver, services: Services) -> DiscordDriver:
    """The harness over a guild whose notes hold the secret (so answers cite Sources)."""
    await services.memory.import_file(discord_sim.guild_id, "emberfall.md", "text/markdown", NOTES)
    return discord_sim


# --- what who saw ----------------------------------------------------------------------------------------------
def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _seen(messages: list[StoredMessage]) -> str:
    """All text of `messages`, in every state they were ever in (streamed edits included)."""
    return "\n".join(s for m in messages for state in (*m.history, m.payload) for s in _strings(state))


def channel_text(sim: DiscordDriver) -> str:
    """Everything the channel saw."""
    return _seen([m for m in sim.fake.messages.values() if not m.ephemeral])


def player_text(*exchanges: Exchange) -> str:
    """Everything a player saw of their own interactions."""
    return _seen([m for ex in exchanges for m in ex.responses])


def field_names(messages: list[StoredMessage]) -> set[str]:
    return {
        f["name"]
        for m in messages
        for e in (*m.history, m.payload)
        for em in e.get("embeds") or []
        for f in em.get("fields") or []
    }


def _improv_id(message: StoredMessage) -> int:
    ids = [str(b.get("custom_id", "")) for b in message.buttons()]
    return int(next(i for i in ids if i.startswith("panic:reroll:")).rsplit(":", 1)[1])


async def stored(services: Services, sim: DiscordDriver, message: StoredMessage) -> Improv:
    """The answer behind a card, as saved (both parts)."""
    return (await services.improv.load(_improv_id(message), sim.guild_id)).improv


def assert_kept_from(text: str, improv: Improv) -> None:
    """`text` (what the table saw) has no GM-only value of `improv`, no rumor truth and no Sources."""
    secrets = improv.gm_values()
    assert secrets, "the answer had no GM-only part to keep"
    for secret in secrets:
        if len(secret) >= 12:
            assert secret not in text
            assert secret[:24] not in text  # not even a truncated copy
    assert not TRUTH.search(text), TRUTH.search(text)
    assert "Sources" not in text


def assert_gm_sees(message: StoredMessage, improv: Improv) -> None:
    """The GM's private card shows every GM-only field in full, and the Sources."""
    assert message.ephemeral
    fields = {f["name"]: f["value"] for f in message.embeds[0]["fields"]}
    for label, value in improv.gm_fields():
        assert fields[label] == value
    assert "Sources" in fields


def labels(message: StoredMessage) -> list[str]:
    return [str(b.get("label")) for b in message.buttons()]


# --- reveal to table -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["npc", "location", "encounter", "rumor", "twist"])
async def test_reveal_to_table_shows_no_gm_only_field_truth_or_sources(
    kind: str, sim: DiscordDriver, services: Services, fake_openai: FakeOpenAI
) -> None:
    fake_openai.overrides = {"secret": SECRET} if kind in ("npc", "location") else {}
    private = await sim.slash(f"panic {kind}", details="Brenna Coalhand")
    improv = await stored(services, sim, private.message)
    assert_gm_sees(private.message, improv)
    if kind in ("npc", "location"):
        assert SECRET in improv.gm_values()

    revealed = await sim.click(private.message, "Reveal to table")

    [public] = sim.channel_messages()
    assert public.interaction_id == revealed.record.id  # posted through the interaction, not the bot's REST
    assert public.embeds[0]["title"] == private.message.embeds[0]["title"]
    table_labels = [label for label, _ in improv.fields("table")]
    assert [f["name"] for f in public.embeds[0]["fields"]] == table_labels
    assert table_labels  # the table still gets a usable card
    assert_kept_from(channel_text(sim), improv)
    assert not public.buttons()
    assert revealed.last.ephemeral
    assert "Shared with the table" in revealed.last.content


async def test_a_table_field_that_repeats_the_secret_is_withheld(
    sim: DiscordDriver, services: Services, fake_openai: FakeOpenAI
) -> None:
    fake_openai.overrides = {"secret": SECRET, "hook": f"Overheard at the forge: {SECRET.lower()}."}
    private = await sim.slash("panic npc", details="the smith")
    improv = await stored(services, sim, private.message)
    gm_fields = {f["name"]: f["value"] for f in private.message.embeds[0]["fields"]}
    assert SECRET.lower() in gm_fields["Hook"].lower()  # the GM sees the hook as the model wrote it
    await sim.click(private.message, "Reveal to table")
    shown = {f["name"] for f in sim.channel_messages()[0].embeds[0]["fields"]}
    assert "Hook" not in shown
    assert "Look" in shown
    assert_kept_from(channel_text(sim), improv)


async def test_the_model_is_told_which_fields_are_for_the_gm(sim: DiscordDriver, fake_openai: FakeOpenAI) -> None:
    await sim.slash("panic rumor", details="the Lantern Society")
    await sim.slash("panic tavern")
    rumor_system, tavern_system = (r.body["messages"][0]["content"] for r in fake_openai.chat_requests()[-2:])
    assert "For the GM's eyes only: rumors[].truth" in rumor_system
    assert "put no secret" in tavern_system


# --- public by default -----------------------------------------------------------------------------------------
async def test_public_answers_show_the_table_card_and_the_gm_gets_the_rest_privately(
    sim: DiscordDriver, services: Services, fake_openai: FakeOpenAI
) -> None:
    fake_openai.overrides = {"secret": SECRET}
    fake_openai.chunk_size = 6
    fake_openai.chunk_delay = 0.01
    cog = sim.bot.get_cog("Panic")
    assert cog is not None
    cog.edit_interval = 0.1  # type: ignore[attr-defined]
    await sim.slash("panic settings", public_by_default=True)

    ex = await sim.slash("panic npc", details="Brenna Coalhand")

    assert not ex.ephemeral
    public = ex.message
    assert any("Writing" in e["embeds"][0]["footer"]["text"] for e in public.edits if e.get("embeds"))  # streamed
    improv = await stored(services, sim, public)
    assert_kept_from(channel_text(sim), improv)
    assert "Secret" not in field_names(sim.channel_messages())
    assert "Reveal to table" not in labels(public)  # already public
    assert "Reveal secret…" not in labels(public)

    [gm_part] = ex.followups  # sent with the answer, to the GM only
    assert gm_part.ephemeral
    fields = {f["name"]: f["value"] for f in gm_part.embeds[0]["fields"]}
    assert fields["Secret"] == SECRET
    assert "emberfall.md" in fields["Sources"]
    assert labels(gm_part) == ["Reveal secret…"]


async def test_public_rumors_keep_their_truth_with_the_gm(sim: DiscordDriver, services: Services) -> None:
    await sim.slash("panic settings", public_by_default=True)
    ex = await sim.slash("panic rumor", details="the Lantern Society")
    improv = await stored(services, sim, ex.message)
    assert_kept_from(channel_text(sim), improv)
    [gm_part] = ex.followups
    assert gm_part.ephemeral
    assert TRUTH.search(gm_part.embeds[0]["fields"][0]["value"])


# --- the red button --------------------------------------------------------------------------------------------
async def test_the_red_button_answers_the_gm_privately_and_a_player_with_the_table_card(
    sim: DiscordDriver, services: Services, fake_openai: FakeOpenAI
) -> None:
    fake_openai.overrides = {"secret": SECRET}
    await sim.slash("panic settings", players_may_panic=True, public_by_default=True)
    panel = (await sim.slash("panic button")).message

    gm_click = await sim.click(panel, "PANIC!")
    improv = await stored(services, sim, gm_click.message)
    assert_gm_sees(gm_click.message, improv)
    assert "Reveal secret…" in labels(gm_click.message)

    player_click = await sim.click(panel, "PANIC!", user=sim.player)
    player_pick = await sim.select(panel, "panic:pick", ["rumor"], user=sim.player)
    for ex in (player_click, player_pick):
        assert ex.ephemeral
        assert_kept_from(player_text(ex), await stored(services, sim, ex.message))
        assert "Reveal secret…" not in labels(ex.message)
    assert sim.channel_messages() == [panel]  # nothing posted in the channel by the clicks
    assert_kept_from(channel_text(sim), improv)


# --- players who may panic -------------------------------------------------------------------------------------
async def test_a_player_panic_shows_the_player_only_the_table_card(
    sim: DiscordDriver, services: Services, fake_openai: FakeOpenAI
) -> None:
    fake_openai.overrides = {"secret": SECRET}
    await sim.slash("panic settings", players_may_panic=True)
    asked = await sim.slash("panic npc", details="Brenna Coalhand", user=sim.player)
    rumors = await sim.slash("panic rumor", details="the fair", user=sim.player)
    improv = await stored(services, sim, asked.message)
    assert improv.gm_values() == [SECRET]  # kept with the answer, for the GM
    assert labels(asked.message) == ["Reveal to table", "Reroll", "Save to campaign"]
    revealed = await sim.click(asked.message, "Reveal to table", user=sim.player)
    rerolled = await sim.click(asked.message, "Reroll", user=sim.player)

    for ex, card in ((asked, asked), (revealed, asked), (rerolled, rerolled), (rumors, rumors)):
        assert_kept_from(player_text(ex), await stored(services, sim, card.message))
    assert_kept_from(channel_text(sim), improv)
    assert len(sim.channel_messages()) == 1


async def test_a_player_in_public_mode_gets_no_gm_part(
    sim: DiscordDriver, services: Services, fake_openai: FakeOpenAI
) -> None:
    fake_openai.overrides = {"secret": SECRET}
    await sim.slash("panic settings", players_may_panic=True, public_by_default=True)
    ex = await sim.slash("panic npc", details="Brenna Coalhand", user=sim.player)
    assert not ex.ephemeral
    assert not ex.followups
    improv = await stored(services, sim, ex.message)
    assert_kept_from(player_text(ex) + channel_text(sim), improv)


# --- revealing a secret on purpose -----------------------------------------------------------------------------
async def test_a_secret_is_revealed_only_after_the_gm_confirms(
    sim: DiscordDriver, services: Services, fake_openai: FakeOpenAI
) -> None:
    fake_openai.overrides = {"secret": SECRET}
    private = await sim.slash("panic npc", details="Brenna Coalhand")
    improv = await stored(services, sim, private.message)

    asked = await sim.click(private.message, "Reveal secret…")
    assert asked.ephemeral
    question = asked.message
    assert question.ephemeral
    assert SECRET in _seen([question])
    assert labels(question) == ["Yes, show the table the secret"]
    assert sim.channel_messages() == []  # asking reveals nothing

    refused = await sim.click(question, "Yes, show the table the secret", user=sim.player)
    assert refused.last.embeds[0]["title"] == "GM only"
    assert sim.channel_messages() == []

    await sim.click(question, "Yes, show the table the secret")
    [public] = sim.channel_messages()
    fields = {f["name"]: f["value"] for f in public.embeds[0]["fields"]}
    assert fields == {"Secret": SECRET}
    assert "Sources" not in _seen([public])
    assert "Secret revealed by" in public.embeds[0]["footer"]["text"]
    assert question.buttons() == []  # the question is retired: no second reveal
    assert improv.gm_values() == [SECRET]


async def test_a_player_cannot_reveal_a_secret(sim: DiscordDriver, services: Services) -> None:
    await sim.slash("panic settings", players_may_panic=True)
    private = await sim.slash("panic twist", details="the party just got paid")
    improv = await stored(services, sim, private.message)
    tried = await sim.click(private.message, "Reveal secret…", user=sim.player)
    assert tried.ephemeral
    assert tried.last.embeds[0]["title"] == "GM only"
    assert_kept_from(player_text(tried) + channel_text(sim), improv)


async def test_saved_answers_keep_both_parts(sim: DiscordDriver, services: Services, fake_openai: FakeOpenAI) -> None:
    fake_openai.overrides = {"secret": SECRET, "name": "Odo Fennick"}
    private = await sim.slash("panic npc", details="a fence")
    saved = await sim.click(private.message, "Save to campaign")
    assert "Saved" in saved.last.content
    await sim.settle()
    hits = await services.memory.search(sim.guild_id, "Odo Fennick tithe ingots Lantern Society", 5)
    assert any(SECRET in " ".join(h.text.split()) for h in hits), hits


async def test_help_says_secrets_stay_with_the_gm(discord_sim: DiscordDriver) -> None:
    ex = await discord_sim.slash("panic help")
    assert "secrets, rumors' truth and sources stay with you" in ex.last.embeds[0]["description"]


# --- the offline tables ----------------------------------------------------------------------------------------
async def test_offline_answers_keep_secrets_and_truths_from_the_table(tmp_path: Path) -> None:
    settings = Settings.embedded(tmp_path / "d", panic_cooldown_seconds=0)
    async with open_services(settings) as services:
        await upgrade(services.engine)
        async with running_bot(services) as sim:
            await services.memory.import_file(sim.guild_id, "emberfall.md", "text/markdown", NOTES)
            npc = await sim.slash("panic npc", details="Brenna Coalhand")
            rumor = await sim.slash("panic rumor", details="the Lantern Society")
            assert "offline tables" in npc.message.embeds[0]["footer"]["text"]
            answers = [await stored(services, sim, ex.message) for ex in (npc, rumor)]
            for ex, improv in zip((npc, rumor), answers, strict=True):
                assert_gm_sees(ex.message, improv)
                await sim.click(ex.message, "Reveal to table")
            await sim.slash("panic settings", public_by_default=True)
            public = await sim.slash("panic location", details="the Crooked Lamp")
            answers.append(await stored(services, sim, public.message))
            seen = channel_text(sim)
    assert len(re.findall("Revealed by", seen)) == 2
    for improv in answers:
        assert_kept_from(seen, improv)
