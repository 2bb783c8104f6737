"""`/campaign` through discord.py's real dispatch (offline harness): import, progress, search, forget, refusals."""

from __future__ import annotations

import asyncio
import io
import random
import socket
import zipfile
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import discord
import numpy as np
import numpy.typing as npt
import pytest
import pytest_asyncio

from bot.services import Services, open_services
from bot.settings import Settings
from cogs.campaign import Campaign, ProgressThrottle
from db.migrate import upgrade
from tests.memory.memory_support import HashingEmbedder
from tests.support.discord import PLAYER, DiscordDriver, Exchange, running_bot


@pytest_asyncio.fixture(loop_scope="session")
async def sim(services: Services) -> AsyncIterator[DiscordDriver]:
    """The bot over embedded services, with a fast deterministic embedder instead of the ONNX model."""
    services.memory.embedder = HashingEmbedder(384)
    async with running_bot(services) as driver:
        yield driver


def cdn_downloads(sim: DiscordDriver) -> list[str]:
    return [url for method, url, _ in sim.fake.requests if method == "GET" and "cdn.discordapp.com" in str(url)]


def cog(sim: DiscordDriver) -> Campaign:
    found = sim.bot.get_cog("Campaign")
    assert found is not None
    assert type(found).__name__ == "Campaign"  # the extension loads its own copy of the module
    return found  # type: ignore[return-value]


VALD = [
    "cairn/derived/vald.txt",
    "cairn/derived/vald.pdf",
    "cairn/derived/vald.docx",
    "cairn/players-guide/vald.md",
]


@pytest.mark.parametrize("relative", VALD)
async def test_import_each_format_then_search_cites_it(sim: DiscordDriver, test_data: Path, relative: str) -> None:
    path = test_data / relative
    ex = await sim.slash("campaign import", file=sim.attachment(path))
    assert ex.ephemeral
    report = ex.message.embeds[0]
    assert report["title"] == "Import finished", report
    assert "Imported **vald" in report["description"]

    if relative.endswith("players-guide/vald.md"):
        query, expected = "Kettlewrights itinerant merchants peddlers", "Kettlewrights"
    else:
        query, expected = "Which god do the Tideborn worship ritual drowning", "Rivulus"
    found = await sim.slash("campaign search", query=query)
    fields = found.message.embeds[0]["fields"]
    assert any(expected in f["value"] for f in fields[:3]), fields
    first = next(f for f in fields if expected in f["value"])
    assert path.name in first["name"]  # the citation names the file …
    if relative.endswith(".pdf"):
        assert " p. " in first["name"] or "›" in first["name"]  # … and the page or heading
    if relative.endswith(".md"):
        assert "›" in first["name"]


async def test_progress_message_is_edited_and_throttled(sim: DiscordDriver, test_data: Path) -> None:
    clock = [0.0]

    class SlowHashing(HashingEmbedder):
        async def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
            clock[0] += 0.4  # each batch "takes" 0.4 s on the fake clock
            return await super().embed(texts)

    sim.bot.services.memory.embedder = SlowHashing(384)
    sim.bot.services.memory.embed_batch = 4
    cog(sim).throttle_factory = lambda: ProgressThrottle(1.0, clock=lambda: clock[0])
    ex = await sim.slash("campaign import", file=sim.attachment(test_data / "cairn/derived/vald.txt"))
    progress = [
        e for e in ex.message.edits if e.get("embeds") and e["embeds"][0]["title"] == "Importing campaign notes"
    ]
    batches = round(clock[0] / 0.4)
    assert batches >= 8
    assert 2 <= len(progress) <= batches * 0.4 / 1.0 + 2  # about one edit per (fake) second, not one per batch
    assert any("Chunks embedded:" in e["embeds"][0]["description"] for e in progress)
    assert ex.message.embeds[0]["title"] == "Import finished"


async def test_identical_reimport_says_nothing_was_reembedded(sim: DiscordDriver, test_data: Path) -> None:
    file = sim.attachment(test_data / "cairn/players-guide/vald.md")
    await sim.slash("campaign import", file=file)
    embedder = sim.bot.services.memory.embedder
    assert isinstance(embedder, HashingEmbedder)
    calls = embedder.calls
    ex = await sim.slash("campaign import", file=file)
    assert "nothing re-embedded" in ex.message.embeds[0]["description"]
    assert embedder.calls == calls


def _zip_bomb_docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", b"<w:document>" + b" " * (20 * 1024 * 1024) + b"</w:document>")
    return buffer.getvalue()


async def test_bad_inputs_get_their_message_and_keep_earlier_data(sim: DiscordDriver, test_data: Path) -> None:
    await sim.slash("campaign import", file=sim.attachment(test_data / "cairn/players-guide/vald.md"))
    before = await sim.slash("campaign list")
    cases: list[tuple[object, str]] = [
        (sim.attachment("map.png", b"\x89PNG\r\n", "image/png"), "isn't a file type I can read"),
        (sim.attachment("notes.md", b"", "text/markdown"), "is empty"),
        (sim.attachment("huge.pdf", b"%PDF-1.7", "application/pdf", size=200 * 1024 * 1024), "over the"),
        (sim.attachment("broken.pdf", b"%PDF-1.7 this is not really a pdf", "application/pdf"), "looks damaged"),
        (sim.attachment("bomb.docx", _zip_bomb_docx(), None), "too large or complex"),
        (sim.attachment("latin.txt", "Caf\xe9 of the Grey \xc6lf".encode("cp1252"), "text/plain"), "Imported"),
    ]
    for attachment, expected in cases:
        ex = await sim.slash("campaign import", file=attachment)
        assert ex.ephemeral
        assert expected in ex.message.embeds[0]["description"], (attachment, ex.message.embeds[0])
    downloads = cdn_downloads(sim)
    assert not any(u.endswith(("/map.png", "/notes.md", "/huge.pdf")) for u in downloads)  # refused unread
    after = await sim.slash("campaign list")
    assert "vald.md" in after.message.embeds[0]["description"]
    assert before.message.embeds[0]["description"].split("\n")[0] in after.message.embeds[0]["description"]


async def test_failure_half_way_keeps_the_previous_version(sim: DiscordDriver, test_data: Path) -> None:
    from tests.memory.memory_support import FailingEmbedder

    path = test_data / "cairn/players-guide/vald.md"
    await sim.slash("campaign import", file=sim.attachment(path))
    sim.bot.services.memory.embedder = FailingEmbedder(ok_batches=2, dimension=384)
    sim.bot.services.memory.embed_batch = 2  # fails after two batches of two passages
    changed = path.read_bytes() + b"\n\n## Appendix\n\nThe Brass Owl inn serves plum wine.\n"
    ex = await sim.slash("campaign import", file=sim.attachment("vald.md", changed, "text/markdown"))
    assert "Something went wrong" in ex.last.embeds[0]["title"]
    assert len(sim.take_errors()) == 1  # logged with a reference for the host
    sim.bot.services.memory.embedder = HashingEmbedder(384)
    found = await sim.slash("campaign search", query="Kettlewrights itinerant merchants")
    assert any("Kettlewrights" in f["value"] for f in found.message.embeds[0]["fields"])
    none = await sim.slash("campaign search", query="Brass Owl plum wine")
    assert all("Brass Owl" not in f["value"] for f in none.message.embeds[0].get("fields", []))


async def test_busy_guild_gets_a_friendly_message(sim: DiscordDriver, test_data: Path) -> None:
    memory = sim.bot.services.memory
    token = await memory.kv.acquire(memory._lock_key(sim.guild_id), 60)
    assert token is not None
    try:
        ex = await sim.slash("campaign import", file=sim.attachment(test_data / "cairn/players-guide/vald.md"))
    finally:
        await memory.kv.release(memory._lock_key(sim.guild_id), token)
    assert ex.last.embeds[0]["title"] == "Import already running"


async def test_forget_with_autocomplete(sim: DiscordDriver, test_data: Path) -> None:
    await sim.slash("campaign import", file=sim.attachment(test_data / "cairn/players-guide/vald.md"))
    await sim.slash("campaign import", file=sim.attachment(test_data / "cairn/derived/vald.txt"))
    choices = await sim.autocomplete("campaign forget", "document", "TX")
    assert [c["name"].split(" (")[0] for c in choices] == ["vald.txt"]
    ex = await sim.slash("campaign forget", document=choices[0]["value"])
    assert ex.message.embeds[0]["title"] == "Forgotten"
    listing = (await sim.slash("campaign list")).message.embeds[0]["description"]
    assert "vald.txt" not in listing
    assert "vald.md" in listing
    assert await sim.autocomplete("campaign forget", "document", "", user=PLAYER) == []  # players see nothing
    ex = await sim.slash("campaign forget", document="no-such-document")
    assert ex.last.embeds[0]["title"] == "No such document"


async def test_forget_everything_asks_first(sim: DiscordDriver, test_data: Path) -> None:
    await sim.slash("campaign import", file=sim.attachment(test_data / "cairn/players-guide/vald.md"))
    ask = await sim.slash("campaign forget-everything")
    assert ask.ephemeral
    ids = {b["custom_id"] for b in ask.message.buttons()}
    assert ids == {"campaign:forget-all:yes", "campaign:forget-all:no"}
    await sim.click(ask.message, "Cancel")
    assert "vald.md" in (await sim.slash("campaign list")).message.embeds[0]["description"]
    ask = await sim.slash("campaign forget-everything")
    await sim.click(ask.message, "Forget everything")
    assert ask.message.embeds[0]["title"] == "Campaign memory cleared"
    assert "No notes yet" in (await sim.slash("campaign list")).message.embeds[0]["description"]


async def test_player_is_refused_everywhere(sim: DiscordDriver, test_data: Path) -> None:
    for command, options in [
        ("campaign import", {"file": sim.attachment(test_data / "cairn/players-guide/vald.md")}),
        ("campaign search", {"query": "Vald"}),
        ("campaign list", {}),
        ("campaign status", {}),
        ("campaign forget-everything", {}),
    ]:
        ex = await sim.slash(command, user=PLAYER, **options)
        assert ex.ephemeral
        assert ex.last.embeds[0]["title"] == "GM only", command
    assert cdn_downloads(sim) == []


async def test_status_and_list_show_usage(sim: DiscordDriver, test_data: Path) -> None:
    await sim.slash("campaign import", file=sim.attachment(test_data / "cairn/derived/vald.pdf"), player_safe=True)
    status = (await sim.slash("campaign status")).message.embeds[0]
    usage = next(f for f in status["fields"] if f["name"] == "Usage")
    assert usage["value"].startswith("1 documents")
    assert next(f for f in status["fields"] if f["name"] == "Vector store")["value"] == "local"
    listing = (await sim.slash("campaign list")).message.embeds[0]["description"]
    assert "vald.pdf" in listing
    assert "player-safe" in listing
    assert "pages" in listing


async def test_five_files_at_once(sim: DiscordDriver, test_data: Path) -> None:
    files = [sim.attachment(test_data / r) for r in VALD]
    ex = await sim.slash(
        "campaign import",
        file=files[0],
        file2=files[1],
        file3=files[2],
        file4=files[3],
        file5=sim.attachment("map.png", b"\x89PNG", "image/png"),
    )
    description = ex.message.embeds[0]["description"]
    assert description.count("✅") == 4
    assert "map.png" in description
    assert ex.message.embeds[0]["title"] == "Import finished with problems"


def _gated_import(sim: DiscordDriver) -> asyncio.Event:
    """An embedder that waits for the returned event, and a token budget that "expires" at once."""
    gate = asyncio.Event()

    class Gated(HashingEmbedder):
        async def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
            await gate.wait()
            return await super().embed(texts)

    sim.bot.services.memory.embedder = Gated(384)
    cog(sim).token_budget = 0.0
    asyncio.get_running_loop().call_later(0.05, gate.set)
    return gate


async def test_long_import_reports_to_the_importer_privately(sim: DiscordDriver, test_data: Path) -> None:
    _gated_import(sim)
    ex = await sim.slash("campaign import", file=sim.attachment(test_data / "cairn/players-guide/vald.md"))
    assert ex.message.embeds[0]["title"] == "Still importing"
    assert ex.message.ephemeral
    [result] = ex.followups  # while the interaction token lives: a private followup
    assert result.ephemeral
    assert result.embeds[0]["title"] == "Import finished"
    assert "vald.md" in result.embeds[0]["description"]
    assert sim.channel_messages() == []  # never the channel: no public file names
    status = await sim.slash("campaign status")
    [last] = [f for f in status.message.embeds[0]["fields"] if f["name"] == "Last long import"]
    assert "Import finished" in last["value"]
    assert "vald.md" in last["value"]


async def test_long_import_past_the_token_reports_by_direct_message(sim: DiscordDriver, test_data: Path) -> None:
    _gated_import(sim)
    cog(sim).token_lifetime = 0.0  # the interaction token is gone when the import ends
    ex = await sim.slash("campaign import", file=sim.attachment(test_data / "cairn/players-guide/vald.md"))
    assert ex.message.embeds[0]["title"] == "Still importing"
    assert ex.followups == []
    assert sim.channel_messages(sim.channel_id) == []
    [dm] = sim.fake.direct_messages(sim.gm.id)
    assert dm.embeds[0]["title"] == "Import finished"
    assert "vald.md" in dm.embeds[0]["description"]


async def test_leaving_a_guild_deletes_its_notes(sim: DiscordDriver, test_data: Path) -> None:
    await sim.slash("campaign import", file=sim.attachment(test_data / "cairn/players-guide/vald.md"))
    # the harness has no guild cache; the listener only reads the guild's id
    sim.bot.dispatch("guild_remove", discord.Object(id=sim.guild_id))
    await sim.settle()
    assert await sim.bot.services.memory.list_documents(sim.guild_id) == []


async def test_long_results_stay_within_discord_embed_limits(sim: DiscordDriver, test_data: Path) -> None:
    await sim.slash("campaign import", file=sim.attachment(test_data / "cairn/derived/vald.txt"))
    ex = await sim.slash("campaign search", query="the " + "Vald faction god ritual " * 40, results=10)
    embed = ex.message.embeds[0]  # the fake Discord answers 400 (and the test fails) past any limit
    total = len(embed.get("title", "")) + sum(len(f["name"]) + len(f["value"]) for f in embed["fields"])
    assert total <= 6000
    assert len(embed["title"]) <= 256


# --- the party ---------------------------------------------------------------------------------------------------

HARROWGATE = b"""# Harrowgate

Harrowgate is a river town of tanners and ferrymen.

## The party
- Kestrel Vane, half-elf ranger

## Session log
Brother Osric argued with the ferry warden at the east gate. Later Brother Osric paid the toll for Mira Fenwick.
The tanners cursed Brother Osric and Mira Fenwick alike.

## Mira Fenwick, ferry warden
A wiry woman who counts the coins twice. Mira Fenwick wants the toll raised.
"""


def _fields(ex: Exchange) -> dict[str, str]:
    embed = ex.message.embeds[0]
    return {f["name"]: f["value"] for f in embed.get("fields", [])}


async def test_party_add_list_remove_answer_privately_and_keep_pcs_out_of_the_roster(sim: DiscordDriver) -> None:
    memory = sim.bot.services.memory
    await sim.slash("campaign import", file=sim.attachment("harrowgate.md", HARROWGATE, "text/markdown"))
    assert "Brother Osric" in (await memory.canon(sim.guild_id)).people  # a person until the GM says otherwise

    added = await sim.slash("campaign party add", name="Brother  Osric")
    assert added.ephemeral
    assert added.last.embeds[0]["title"] == "Added to the party"
    canon = await memory.canon(sim.guild_id)
    assert "Brother Osric" in canon.party
    assert "Brother Osric" not in await memory.roster(sim.guild_id)
    assert "Mira Fenwick" in canon.people

    listed = await sim.slash("campaign party list")
    assert listed.ephemeral
    fields = _fields(listed)
    assert fields["Added with /campaign party add"] == "• Brother Osric"
    assert fields["Found in your notes (under a party heading)"] == "• Kestrel Vane"

    again = await sim.slash("campaign party add", name="brother osric")
    assert again.last.embeds[0]["title"] == "Already in the party"

    choices = await sim.autocomplete("campaign party remove", "name", "os")
    assert [c["value"] for c in choices] == ["Brother Osric"]
    removed = await sim.slash("campaign party remove", name=choices[0]["value"])
    assert removed.last.embeds[0]["title"] == "Removed from the party"
    assert "Brother Osric" in await memory.roster(sim.guild_id)  # an NPC again
    missing = await sim.slash("campaign party remove", name="Brother Osric")
    assert missing.last.embeds[0]["title"] == "Not in the party"


async def test_party_is_per_guild_and_outlives_forgetting_the_notes(sim: DiscordDriver) -> None:
    await sim.slash("campaign import", file=sim.attachment("harrowgate.md", HARROWGATE, "text/markdown"))
    await sim.slash("campaign party add", name="Tamsin Reed")
    ask = await sim.slash("campaign forget-everything")
    await sim.click(ask.message, "Forget everything")
    assert _fields(await sim.slash("campaign party list")) == {"Added with /campaign party add": "• Tamsin Reed"}
    other = await sim.slash("campaign party list", guild_id=sim.guild_id + 1)
    assert "No player characters yet" in other.message.embeds[0]["description"]


async def test_players_cannot_see_or_change_the_party(sim: DiscordDriver) -> None:
    for command, options in [
        ("campaign party add", {"name": "Sneaky Pete"}),
        ("campaign party remove", {"name": "Sneaky Pete"}),
        ("campaign party list", {}),
    ]:
        ex = await sim.slash(command, user=PLAYER, **options)
        assert ex.ephemeral
        assert ex.last.embeds[0]["title"] == "GM only", command
    assert await sim.autocomplete("campaign party remove", "name", "", user=PLAYER) == []
    assert await sim.bot.services.memory.party(sim.guild_id) == []


async def test_offline_npcs_never_use_a_pc_after_party_add(tmp_path: Path) -> None:
    settings = Settings.embedded(tmp_path / "d", panic_cooldown_seconds=0, pool_size=0)
    async with open_services(settings) as services:
        await upgrade(services.engine)
        services.memory.embedder = HashingEmbedder(384)
        async with running_bot(services) as sim:
            await sim.slash("campaign import", file=sim.attachment("harrowgate.md", HARROWGATE, "text/markdown"))

            async def npcs(seed: int) -> list[str]:
                services.improv.rng = random.Random(seed)
                answers = []
                for details in ("someone at the east gate", "a tanner", "the toll", "a ferryman", "a stranger"):
                    embed = (await sim.slash("panic npc", details=details)).last.embeds[0]
                    assert "offline tables" in embed["footer"]["text"]
                    answers.append(" ".join([embed["title"], *(f["value"] for f in embed["fields"])]))
                return answers

            before = await npcs(7)
            await sim.slash("campaign party add", name="Brother Osric")
            after = await npcs(7)
    assert any("Brother Osric" in a for a in before)  # the roster wove him in as canon …
    assert not [a for a in after if "Osric" in a]  # … and never once he is a player character
    assert not [a for a in after if "Kestrel" in a]  # nor the PC under the notes' party heading


# --- names, duplicates and an unreachable lock service (issue 15) -----------------------------------------------


async def test_two_attachments_of_one_name_are_reported_each(sim: DiscordDriver) -> None:
    first = sim.attachment("notes.md", HARROWGATE, "text/markdown")
    second = sim.attachment("notes.md", b"# Other\n\nThe Salt Kings rule the marsh.\n", "text/markdown")
    ex = await sim.slash("campaign import", file=first, file2=second)
    embed = ex.message.embeds[0]
    assert embed["title"] == "Import finished with problems"
    imported, refused = embed["description"].splitlines()
    assert imported.startswith("✅ Imported **notes.md**")
    assert "appears twice in this import: only the first one was imported" in refused
    listing = (await sim.slash("campaign list")).message.embeds[0]["description"]
    assert listing.count("notes.md") == 1
    found = await sim.slash("campaign search", query="Mira Fenwick ferry warden toll")
    assert any("Mira Fenwick" in f["value"] for f in found.message.embeds[0]["fields"])


async def test_empty_and_good_attachment_of_one_name_are_reported_each(sim: DiscordDriver) -> None:
    empty = sim.attachment("notes.md", b"", "text/markdown")
    good = sim.attachment("notes.md", HARROWGATE, "text/markdown")
    ex = await sim.slash("campaign import", file=empty, file2=good)
    refused, imported = ex.message.embeds[0]["description"].splitlines()
    assert "is empty" in refused
    assert imported.startswith("✅ Imported **notes.md**")
    assert ex.message.embeds[0]["title"] == "Import finished with problems"


async def test_bidi_characters_are_stripped_from_file_names(sim: DiscordDriver) -> None:
    name = "rtl-\u202egnp.md"
    ex = await sim.slash("campaign import", file=sim.attachment(name, HARROWGATE, "text/markdown"))
    assert "Imported **rtl-gnp.md**" in ex.message.embeds[0]["description"]
    listing = (await sim.slash("campaign list")).message.embeds[0]["description"]
    assert "rtl-gnp.md" in listing
    assert "\u202e" not in listing
    answer = await sim.slash("panic npc", details="Mira Fenwick the ferry warden")
    sources = next(f["value"] for f in answer.last.embeds[0]["fields"] if f["name"] == "Sources")
    assert "rtl-gnp.md" in sources
    assert "\u202e" not in str(answer.last.embeds[0])


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_import_with_the_lock_service_down_says_so(tmp_path: Path) -> None:
    settings = Settings.embedded(tmp_path / "d", redis_url=f"redis://127.0.0.1:{_closed_port()}/0")
    async with open_services(settings) as services:
        await upgrade(services.engine)
        services.memory.embedder = HashingEmbedder(384)
        async with running_bot(services) as sim:
            ex = await sim.slash("campaign import", file=sim.attachment("notes.md", HARROWGATE, "text/markdown"))
            assert sim.take_errors() == []  # an expected outage, not an unhandled error
    embed = ex.last.embeds[0]
    assert embed["title"] == "Lock service unreachable"
    assert "Try again" in embed["description"]


async def test_shutdown_mid_import_cancels_it_and_keeps_the_old_notes(sim: DiscordDriver, test_data: Path) -> None:
    memory = sim.bot.services.memory
    await sim.slash("campaign import", file=sim.attachment("harrowgate.md", HARROWGATE, "text/markdown"))
    [before] = await memory.list_documents(sim.guild_id)
    embedding = asyncio.Event()

    class Stuck(HashingEmbedder):
        async def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
            embedding.set()
            await asyncio.Event().wait()  # never finishes on its own
            return await super().embed(texts)

    memory.embedder = Stuck(384)
    changed = HARROWGATE + b"\n## The Brass Owl\n\nThe Brass Owl inn serves plum wine.\n"
    running = asyncio.create_task(
        sim.slash("campaign import", file=sim.attachment("harrowgate.md", changed, "text/markdown"))
    )
    await asyncio.wait_for(embedding.wait(), 10)
    sim.bot.shutdown_grace = 0.1
    await sim.bot.close()  # what SIGTERM does to `python -m bot`
    ex = await asyncio.wait_for(running, 10)
    assert ex.last.embeds[0]["title"] == "Import cancelled"
    [after] = await memory.list_documents(sim.guild_id)
    assert (after.document_id, after.chunk_count, after.size_bytes) == (
        before.document_id,
        before.chunk_count,
        before.size_bytes,
    )
    memory.embedder = HashingEmbedder(384)
    assert not [p for p in await memory.search(sim.guild_id, "Brass Owl plum wine") if "Brass Owl" in p.text]
    token = await memory.kv.acquire(memory._lock_key(sim.guild_id), 5)  # the guild is free
    assert token is not None
    await memory.kv.release(memory._lock_key(sim.guild_id), token)
