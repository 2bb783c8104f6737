"""`/campaign import` of a .zip of notes through discord.py's real dispatch (offline harness): an Obsidian vault
imports as its notes with clean text, one line per note; its secret callouts reach the GM's search and panics but
never a player (panic, red button) or the table (a revealed answer), whatever the note's visibility; hostile
zips get a friendly message and cost nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_asyncio

from bot.discord.offline.driver import DiscordDriver, Exchange
from bot.services import Services
from bot.settings import Settings
from tests.cogs.conftest import model_settings
from tests.fakes.openai import FakeOpenAI
from tests.memory.memory_support import HashingEmbedder
from tests.memory.vault_zips import bomb_zip, zip_folder, zip_of

NOTES = [
    "The Drowned Choir.md",
    "Home.md",
    "LICENSE.md",
    "Mother Salt.md",
    "Osric Vane.md",
    "Saltmarsh.md",
    "The Drowned Bell.md",
    "Session 01.md",
]
SECRET_WORDS = ("Ymna", "Tidewyrm", "Ilse", "GM only")  # only in the vault's secret callouts
SYNTAX = ("[[", "]]", "%%", "[!", "==")


@pytest.fixture
def settings(tmp_path: Path, fake_openai: FakeOpenAI) -> Settings:
    """Embedded settings with the fake model."""
    return model_settings(tmp_path / "data", fake_openai)


@pytest_asyncio.fixture(loop_scope="session")
async def sim(discord_sim: DiscordDriver, services: Services) -> DiscordDriver:
    services.memory.embedder = HashingEmbedder(384)
    return discord_sim


def vault(sim: DiscordDriver, test_data: Path, name: str = "Saltmarsh vault.zip") -> object:
    return sim.attachment(name, zip_folder(test_data / "vault"), "application/zip")


def seen(*exchanges: Exchange) -> str:
    """Every text a player or the channel saw in these exchanges, in every state of every message."""
    return "\n".join(str(state) for ex in exchanges for m in ex.responses for state in (*m.history, m.payload))


def channel(sim: DiscordDriver) -> str:
    return "\n".join(str(state) for m in sim.channel_messages() for state in (*m.history, m.payload))


def assert_no_secret(text: str) -> None:
    for word in SECRET_WORDS:
        assert word not in text


async def test_a_vault_imports_one_line_per_note_with_clean_text(sim: DiscordDriver, test_data: Path) -> None:
    ex = await sim.slash("campaign import", file=vault(sim, test_data), player_safe=True)
    report = ex.message.embeds[0]
    assert report["title"] == "Import finished", report
    lines = report["description"].splitlines()
    assert len(lines) == len(NOTES)
    for line, name in zip(lines, NOTES, strict=True):
        assert line.startswith(f"✅ Imported **{name}**: "), line
        assert line.endswith("· player-safe.")
    assert "Saltmarsh vault.zip" not in report["description"]  # the notes are the documents, not the archive

    listing = (await sim.slash("campaign list")).message.embeds[0]["description"]
    assert all(name in listing for name in NOTES)
    assert "Old draft" not in listing  # .trash/ is skipped, and so are .obsidian/ and the map

    found = await sim.slash("campaign search", query="the Drowned Choir's true patron Abbess bell-ringers")
    fields = found.message.embeds[0]["fields"]
    assert any("Abbess Ymna" in f["value"] for f in fields), fields  # the GM sees the secret
    everything = await sim.slash("campaign search", query="Osric harbourmaster toll quay Saltmarsh fog table")
    for field in (*fields, *everything.message.embeds[0]["fields"]):
        for mark in SYNTAX:
            assert mark not in field["value"], field


@pytest.mark.parametrize("player_safe", [True, False])
async def test_a_secret_callout_never_reaches_a_player_or_the_table(
    sim: DiscordDriver, test_data: Path, fake_openai: FakeOpenAI, player_safe: bool
) -> None:
    await sim.slash("campaign import", file=vault(sim, test_data), player_safe=player_safe)
    if not player_safe:  # made player-safe afterwards: its secret callouts stay the GM's
        for note in NOTES:
            shown = await sim.slash("campaign visibility", document=note, player_safe=True)
            assert "player" in str(shown.last.payload).lower()
    await sim.slash("panic settings", players_may_panic=True)
    details = "the Drowned Choir's true patron, who drowned the bell-ringers on the flats"

    asked = await sim.slash("panic npc", details=details, user=sim.player)
    prompt = fake_openai.chat_requests()[-1].prompt
    assert "First Voice" in prompt  # the player-safe passages ground the answer …
    assert_no_secret(prompt)  # … and no secret callout went to the model for a player
    revealed = await sim.click(asked.message, "Reveal to table", user=sim.player)
    panel = (await sim.slash("panic button")).message
    pressed = await sim.click(panel, "PANIC!", user=sim.player)
    picked = await sim.select(panel, "panic:pick", ["rumor"], user=sim.player)
    assert_no_secret("\n".join(r.prompt for r in fake_openai.chat_requests()))
    assert_no_secret(seen(asked, revealed, pressed, picked))
    assert_no_secret(channel(sim))
    assert sim.channel_messages()  # the table did see the revealed answer

    await sim.slash("panic npc", details=details)  # the GM's own panic draws on the secret
    assert "Abbess Ymna" in fake_openai.chat_requests()[-1].prompt


async def test_hostile_zips_get_friendly_messages_and_lose_nothing_else(sim: DiscordDriver, test_data: Path) -> None:
    await sim.slash("campaign import", file=sim.attachment(test_data / "cairn/players-guide/vald.md"))
    many = zip_of({f"notes/{i}.md": f"# Note {i}\n\nText {i}." for i in range(2001)})
    traversal = zip_of({"vault/ok.md": "# Ok\n\nFine.", "../../outside.md": "# Evil\n\nEscaped."})
    nested = zip_of({"vault/Kept.md": "# Kept\n\nThe Salt Lantern inn.", "vault/inner.zip": zip_of({"x.md": "# X"})})
    ex = await sim.slash(
        "campaign import",
        file=sim.attachment("bomb.zip", bomb_zip(), "application/zip"),
        file2=sim.attachment("many.zip", many, "application/zip"),
        file3=sim.attachment("escape.zip", traversal, "application/zip"),
        file4=sim.attachment("nested.zip", nested, "application/zip"),
        file5=vault(sim, test_data),
    )
    report = ex.message.embeds[0]
    assert report["title"] == "Import finished with problems"
    lines = report["description"].splitlines()
    assert lines[0].startswith("⚠️ **bomb.zip** can't be opened safely (notes/bomb.md expands")
    assert lines[1].startswith("⚠️ **many.zip** can't be opened safely (2,001 files inside, over the limit of 2,000)")
    assert lines[2].startswith("⚠️ **escape.zip** can't be opened safely (../../outside.md points outside")
    assert lines[3].startswith("✅ Imported **Kept.md**")
    assert lines[4].startswith("⚠️ **inner.zip** inside **nested.zip** is an archive itself")
    assert [line.split("**")[1] for line in lines[5:]] == NOTES
    assert len(lines) == 5 + len(NOTES)

    listing = (await sim.slash("campaign list")).message.embeds[0]["description"]
    for name in ("vald.md", "Kept.md", *NOTES):
        assert name in listing
    for name in ("ok.md", "outside.md", "x.md", "fine.md", "bomb.md"):
        assert f"**{name}**" not in listing
    found = await sim.slash("campaign search", query="Kettlewrights itinerant merchants peddlers")
    assert any("Kettlewrights" in f["value"] for f in found.message.embeds[0]["fields"])


async def test_a_big_vault_reports_every_problem_and_counts_the_notes_it_cannot_list(sim: DiscordDriver) -> None:
    notes: dict[str, bytes | str] = {
        f"big vault/Chapter {i:03d}.md": f"# Chapter {i}\n\nThe tide brought in crate number {i}." for i in range(150)
    }
    notes["big vault/zz/old backup.zip"] = zip_of({"x.md": "# X\n\nNever opened."})
    ex = await sim.slash("campaign import", file=sim.attachment("big vault.zip", zip_of(notes), "application/zip"))
    report = ex.message.embeds[0]
    assert report["title"] == "Import finished with problems"
    lines = report["description"].splitlines()
    listed = [line for line in lines if line.startswith("✅ Imported **Chapter ")]
    assert 10 < len(listed) < 150
    assert lines[len(listed)].startswith("⚠️ **old backup.zip** inside **big vault.zip** is an archive itself")
    assert lines[-1] == f"… and {150 - len(listed)} more."
    assert len(await sim.bot.services.memory.list_documents(sim.guild_id)) == 150
