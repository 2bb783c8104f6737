"""`CampaignMemory` as plain async calls: import, dedupe, atomic replace, failure clean-up, locking, isolation."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.kv import MemoryKeyValue
from bot.memory import CampaignMemory, DocumentNotFound, ImportBusy, ImportProgress, MemoryConfig, MemoryFull, Upload
from bot.memory.errors import EmptyDocument, FileTooLarge, UnsupportedFile
from bot.memory.indexing import vector_record
from bot.memory.mutation import lock_key
from bot.memory.parsing.limits import TooLargeUnpacked
from bot.memory.stores import LocalVectorStore
from bot.memory.types import memory_version_key
from bot.tasks import BackgroundTasks
from db.engine import create_sessionmaker
from db.models.campaign import CampaignChunk, CampaignDocument
from tests.memory.memory_support import (
    DIM,
    NOTES_V1,
    NOTES_V2,
    EmbedderBroke,
    FailingEmbedder,
    HashingEmbedder,
    Rig,
    many_sections,
    new_guild,
)

# --- import and search ---------------------------------------------------------------------------------------


async def test_import_then_search_finds_the_passage_with_its_citation(rig: Rig) -> None:
    guild = new_guild()
    report = await rig.memory.import_file(guild, "harbor.md", "text/markdown", NOTES_V1)
    assert report.outcome == "imported"
    assert report.chunks >= 2
    assert report.embedded == report.chunks
    passages = await rig.memory.search(guild, "who runs the Salty Eel tavern?", k=3)
    assert passages
    best = passages[0]
    assert "Marnie Quill" in best.text
    assert best.file == "harbor.md"
    assert best.heading == "Harbor Town › The Salty Eel"
    assert best.citation() == "harbor.md › Harbor Town › The Salty Eel"


async def test_identical_reimport_costs_no_embedding_and_says_so(rig: Rig) -> None:
    guild = new_guild()
    await rig.memory.import_file(guild, "harbor.md", None, NOTES_V1)
    calls = rig.embedder.calls
    again = await rig.memory.import_file(guild, "harbor.md", None, NOTES_V1)
    assert again.outcome == "unchanged"
    assert again.embedding_skipped
    assert again.embedded == 0
    assert rig.embedder.calls == calls
    renamed = await rig.memory.import_file(guild, "copy of harbor.md", None, NOTES_V1)
    assert renamed.outcome == "duplicate"
    assert renamed.duplicate_of == "harbor.md"
    assert rig.embedder.calls == calls
    assert [d.file_name for d in await rig.memory.list_documents(guild)] == ["harbor.md"]


async def test_reimport_replaces_the_old_version(rig: Rig) -> None:
    guild = new_guild()
    first = await rig.memory.import_file(guild, "harbor.md", None, NOTES_V1)
    second = await rig.memory.import_file(guild, "harbor.md", None, NOTES_V2)
    assert second.outcome == "replaced"
    texts = " ".join(p.text for p in await rig.memory.search(guild, "tavern run by", k=10))
    assert "Petra Vane" in texts
    assert "Marnie Quill" not in texts
    rows = await rig.chunk_rows(guild)
    assert {r.document_id for r in rows} == {second.document_id}
    assert first.document_id != second.document_id
    assert await rig.store.count(guild) == second.chunks  # old vectors deleted (the fake reads its writes)


async def test_progress_reports_parsing_then_each_embedded_batch(rig: Rig) -> None:
    guild = new_guild()
    seen: list[ImportProgress] = []

    async def progress(update: ImportProgress) -> None:
        seen.append(update)

    report = await rig.memory.import_file(guild, "gazetteer.md", None, many_sections("north", 7), progress=progress)
    stages = [u.stage for u in seen]
    assert stages[0] == "parsing"
    assert stages[-1] == "done"
    embedded = [u.chunks_embedded for u in seen if u.stage == "embedding"]
    assert embedded == sorted(embedded)
    assert embedded[-1] == report.chunks
    assert len(embedded) == -(-report.chunks // 2)  # one report per batch of 2


async def test_a_failing_progress_callback_does_not_fail_the_import(rig: Rig) -> None:
    async def broken(update: ImportProgress) -> None:
        raise RuntimeError("discord is down")

    report = await rig.memory.import_file(new_guild(), "harbor.md", None, NOTES_V1, progress=broken)
    assert report.outcome == "imported"


async def test_every_change_bumps_the_memory_version(rig: Rig) -> None:
    guild = new_guild()
    key = memory_version_key(guild)
    await rig.memory.import_file(guild, "harbor.md", None, NOTES_V1)
    v1 = int(await rig.kv.get(key) or 0)
    assert v1 >= 1
    await rig.memory.import_file(guild, "harbor.md", None, NOTES_V1)  # unchanged: no bump
    assert int(await rig.kv.get(key) or 0) == v1
    await rig.memory.import_file(guild, "harbor.md", None, NOTES_V2)
    v2 = int(await rig.kv.get(key) or 0)
    assert v2 > v1
    await rig.memory.forget_document(guild, "harbor.md")
    assert int(await rig.kv.get(key) or 0) > v2


# --- atomicity ---------------------------------------------------------------------------------------------------


async def test_failure_half_way_leaves_previous_version_searchable_and_no_partial_chunks(rig: Rig) -> None:
    guild = new_guild()
    old = await rig.memory.import_file(guild, "gazetteer.md", None, many_sections("north", 6))
    broken = rig.make(embedder=FailingEmbedder(ok_batches=2, dimension=DIM))
    with pytest.raises(EmbedderBroke):
        await broken.import_file(guild, "gazetteer.md", None, many_sections("south", 6))

    passages = await rig.memory.search(guild, "north place number 3 well mill shrine", k=3)
    assert passages
    assert all(p.document_id == old.document_id for p in passages)
    assert "north place number 3" in passages[0].text
    assert all("south" not in p.text for p in await rig.memory.search(guild, "south place number", k=10))
    rows = await rig.chunk_rows(guild)
    assert {r.document_id for r in rows} == {old.document_id}
    (doc,) = await rig.document_rows(guild)
    assert doc.document_id == old.document_id
    assert doc.pending_document_id is None
    assert await rig.store.count(guild) == old.chunks  # the new version's vectors were removed


async def test_failed_first_import_leaves_nothing_behind(rig: Rig) -> None:
    guild = new_guild()
    broken = rig.make(embedder=FailingEmbedder(ok_batches=1, dimension=DIM))
    with pytest.raises(EmbedderBroke):
        await broken.import_file(guild, "gazetteer.md", None, many_sections("west", 5))
    assert await rig.document_rows(guild) == []
    assert await rig.chunk_rows(guild) == []
    assert await rig.store.count(guild) == 0
    assert await rig.memory.list_documents(guild) == []


async def test_cancelled_import_cleans_up_and_releases_the_lock(rig: Rig) -> None:
    guild = new_guild()
    old = await rig.memory.import_file(guild, "gazetteer.md", None, many_sections("north", 4))
    embedder = FailingEmbedder(ok_batches=1, hang=True, dimension=DIM)
    hanging = rig.make(embedder=embedder)
    task = asyncio.create_task(hanging.import_file(guild, "gazetteer.md", None, many_sections("east", 6)))
    await asyncio.wait_for(embedder.reached.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert {r.document_id for r in await rig.chunk_rows(guild)} == {old.document_id}
    assert await rig.store.count(guild) == old.chunks
    again = await rig.memory.import_file(guild, "gazetteer.md", None, many_sections("east", 6))  # lock is free
    assert again.outcome == "replaced"


async def test_next_import_cleans_up_after_a_crashed_one(rig: Rig) -> None:
    guild = new_guild()
    old = await rig.memory.import_file(guild, "harbor.md", None, NOTES_V1)
    # what a process killed between upsert and swap leaves: the marker and the new version's vectors
    from bot.memory.chunking import chunk_document, document_id_for
    from bot.memory.parsing import parse_document

    orphan_id = document_id_for(NOTES_V2)
    chunks = chunk_document(parse_document("harbor.md", NOTES_V2), orphan_id)
    vectors = await rig.embedder.embed([c.embed_text for c in chunks])
    await rig.store.upsert(guild, [vector_record(c, v, False) for c, v in zip(chunks, vectors, strict=True)])
    async with rig.sessionmaker.begin() as session:
        (doc,) = (await session.execute(select(CampaignDocument).where(CampaignDocument.guild_id == guild))).scalars()
        doc.pending_document_id = orphan_id
    assert await rig.store.count(guild) == old.chunks + len(chunks)
    assert all(p.document_id == old.document_id for p in await rig.memory.search(guild, "tavern", k=10))

    await rig.memory.import_file(guild, "other.md", None, b"# Other\n\nA quiet village with a mill.\n")
    assert await rig.store.count(guild) == old.chunks + 1
    (harbor,) = [d for d in await rig.document_rows(guild) if d.file_name == "harbor.md"]
    assert harbor.pending_document_id is None


class KeyValueDown(RuntimeError):
    """Injected key-value failure."""


class IncrFails(MemoryKeyValue):
    """A key-value store whose counters fail (the notes version cannot be bumped)."""

    async def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        raise KeyValueDown(key)


async def test_a_failure_after_the_swap_committed_keeps_the_new_version(rig: Rig) -> None:
    guild = new_guild()
    await rig.memory.import_file(guild, "harbor.md", None, NOTES_V1)
    broken = CampaignMemory(rig.sessionmaker, IncrFails(), rig.store, rig.embedder, MemoryConfig(embed_batch=2))
    with pytest.raises(KeyValueDown):
        await broken.import_file(guild, "harbor.md", None, NOTES_V2)  # swapped in, then the version bump fails
    (doc,) = await rig.document_rows(guild)
    assert doc.pending_document_id is None
    texts = " ".join(p.text for p in await rig.make().search(guild, "tavern run by", k=10))
    assert "Petra Vane" in texts  # its vectors were kept
    assert "Marnie Quill" not in texts


# --- locking, limits, bad input --------------------------------------------------------------------------------


async def test_one_import_per_guild_at_a_time(rig: Rig) -> None:
    guild, other = new_guild(), new_guild()
    token = await rig.kv.acquire(lock_key(guild), 60)
    assert token is not None
    try:
        with pytest.raises(ImportBusy):
            await rig.memory.import_file(guild, "harbor.md", None, NOTES_V1)
        assert (await rig.memory.import_file(other, "harbor.md", None, NOTES_V1)).outcome == "imported"
    finally:
        await rig.kv.release(lock_key(guild), token)
    assert (await rig.memory.import_file(guild, "harbor.md", None, NOTES_V1)).outcome == "imported"


async def test_bad_files_give_their_error_and_keep_earlier_data(rig: Rig) -> None:
    guild = new_guild()
    await rig.memory.import_file(guild, "harbor.md", None, NOTES_V1)
    small = rig.make(max_upload_bytes=100)
    with pytest.raises(FileTooLarge):
        await small.import_file(guild, "big.md", None, NOTES_V2)
    with pytest.raises(UnsupportedFile):
        await rig.memory.import_file(guild, "map.png", "image/png", b"\x89PNG....")
    with pytest.raises(EmptyDocument):
        await rig.memory.import_file(guild, "blank.md", None, b"   \n\n ")
    assert [d.file_name for d in await rig.memory.list_documents(guild)] == ["harbor.md"]
    assert "Marnie Quill" in (await rig.memory.search(guild, "Salty Eel tavern", k=1))[0].text


async def test_several_files_at_once_report_each(rig: Rig) -> None:
    guild = new_guild()
    results = await rig.memory.import_files(
        guild,
        [Upload("harbor.md", None, NOTES_V1), Upload("empty.txt", "text/plain", b"  "), Upload("b.md", None, NOTES_V2)],
    )
    assert [type(r).__name__ for r in results] == ["ImportReport", "EmptyDocument", "ImportReport"]
    assert sorted(d.file_name for d in await rig.memory.list_documents(guild)) == ["b.md", "harbor.md"]


async def test_plan_hooks_limit_upload_and_memory_size(rig: Rig) -> None:
    guild = new_guild()

    async def upload_limit(guild_id: int) -> int:
        assert guild_id == guild
        return 300

    async def memory_limit(guild_id: int) -> int | None:
        return 400

    limited = rig.make(upload_limit=upload_limit, memory_limit=memory_limit)
    assert await limited.upload_limit_bytes(guild) == 300
    with pytest.raises(FileTooLarge):
        await limited.check_upload(guild, "harbor.md", "text/markdown", 301)
    await limited.import_file(guild, "harbor.md", None, NOTES_V1[:250])
    with pytest.raises(MemoryFull):
        await limited.import_file(guild, "more.md", None, NOTES_V2[:250])
    replaced = await limited.import_file(guild, "harbor.md", None, NOTES_V2[:250])  # replacing frees its own size
    assert replaced.outcome == "replaced"


# --- visibility and notes ------------------------------------------------------------------------------------


async def test_cached_rows_follow_every_change_seen_by_a_searching_process(rig: Rig) -> None:
    guild = new_guild()
    searcher = rig.make()  # another process: shares database, kv and store, not the in-process caches
    small = rig.make(row_cache_guild_chunks=1)  # too big to cache: reads the candidates' rows per search
    await rig.memory.import_file(guild, "harbor.md", None, NOTES_V1)
    for memory in (searcher, small):
        assert "Marnie Quill" in " ".join(p.text for p in await memory.search(guild, "tavern run by", k=10))

    await rig.memory.import_file(guild, "harbor.md", None, NOTES_V2)
    for memory in (searcher, small):
        texts = " ".join(p.text for p in await memory.search(guild, "tavern run by", k=10))
        assert "Petra Vane" in texts
        assert "Marnie Quill" not in texts

    await rig.memory.set_player_safe(guild, "harbor.md", True)
    for memory in (searcher, small):
        assert await memory.search(guild, "tavern run by", k=10, player_safe_only=True)

    await rig.memory.forget_document(guild, "harbor.md")
    for memory in (searcher, small):
        assert await memory.search(guild, "tavern run by", k=10) == []


async def test_each_file_of_a_batch_is_searchable_as_soon_as_it_is_swapped_in(rig: Rig) -> None:
    guild = new_guild()
    searcher = rig.make()
    await rig.memory.import_file(guild, "harbor.md", None, NOTES_V1)
    assert "Marnie Quill" in " ".join(p.text for p in await searcher.search(guild, "tavern run by", k=10))
    seen: list[str] = []

    async def progress(update: ImportProgress) -> None:
        if update.file_number == 1 and update.stage == "done":
            seen.append(" ".join(p.text for p in await searcher.search(guild, "tavern run by", k=10)))

    await rig.memory.import_files(
        guild,
        [Upload("harbor.md", None, NOTES_V2), Upload("other.md", None, many_sections("north", 2))],
        progress=progress,
    )
    assert len(seen) == 1
    assert "Petra Vane" in seen[0]
    assert "Marnie Quill" not in seen[0]


async def test_player_safe_only_search_sees_only_player_safe_documents(rig: Rig) -> None:
    guild = new_guild()
    await rig.memory.import_file(guild, "secrets.md", None, NOTES_V1)
    await rig.memory.import_file(guild, "handout.md", None, NOTES_V2, player_safe=True)
    for_players = await rig.memory.search(guild, "tavern run by", k=10, player_safe_only=True)
    assert for_players
    assert {p.file for p in for_players} == {"handout.md"}
    assert all(p.player_safe for p in for_players)
    await rig.memory.set_player_safe(guild, "secrets.md", True)
    assert "secrets.md" in {p.file for p in await rig.memory.search(guild, "Salty Eel", k=10, player_safe_only=True)}
    await rig.memory.set_player_safe(guild, "secrets.md", False)
    assert "secrets.md" not in {
        p.file for p in await rig.memory.search(guild, "Salty Eel", k=10, player_safe_only=True)
    }


async def test_saved_note_is_found_by_later_searches(rig: Rig) -> None:
    guild = new_guild()
    report = await rig.memory.save_note(
        guild, "Brother Quillon", "A nervous monk who counts bells and owes the smugglers money.", author="GM Ana"
    )
    assert report.kind == "note"
    passages = await rig.memory.search(guild, "monk who counts bells", k=1)
    assert passages[0].document_id == report.document_id
    assert "Brother Quillon" in passages[0].heading
    (doc,) = await rig.memory.list_documents(guild)
    assert doc.kind == "note"


TWO_PLACES = b"""# The Docks

Smugglers unload crates of black powder on the docks at midnight while the harbour watch looks away.

# The Temple

Monks ring the bronze bells of the temple at dawn and keep a ledger of every pilgrim's sins.
"""


async def test_context_steers_the_search_and_is_embedded_once(rig: Rig) -> None:
    guild = new_guild()
    await rig.memory.import_file(guild, "places.md", None, TWO_PLACES)
    smugglers, monks = "smugglers unload crates on the docks", "monks ring the bronze bells"
    assert (await rig.memory.search(guild, monks, k=1))[0].heading == "The Temple"
    rig.embedder.calls = rig.embedder.texts_embedded = 0
    rig.embedder.queries.clear()

    # an ambiguous request lands where the recent requests were
    steered = await rig.memory.search(guild, "a stranger arrives", k=1, context=[smugglers])
    assert steered[0].heading == "The Docks"
    assert (rig.embedder.calls, rig.embedder.texts_embedded) == (1, 2)  # query and context in one batch
    assert (await rig.memory.search(guild, "a stranger arrives", k=1, context=[monks]))[0].heading == "The Temple"
    assert rig.embedder.queries == []  # both were remembered: nothing embedded again

    # context steers, it does not override: a clear request still finds its own passage
    clear = await rig.memory.search(guild, "smugglers unload black powder crates", k=1, context=[monks])
    assert clear[0].heading == "The Docks"
    assert rig.embedder.queries == ["smugglers unload black powder crates"]  # only the new text was embedded


# --- forgetting ----------------------------------------------------------------------------------------------


async def test_forget_one_document_keeps_the_others(rig: Rig) -> None:
    guild = new_guild()
    harbor = await rig.memory.import_file(guild, "harbor.md", None, NOTES_V1)
    await rig.memory.import_file(guild, "other.md", None, many_sections("north", 2))
    forgotten = await rig.memory.forget_document(guild, harbor.document_id)
    assert forgotten.file_name == "harbor.md"
    assert [d.file_name for d in await rig.memory.list_documents(guild)] == ["other.md"]
    assert all(p.file == "other.md" for p in await rig.memory.search(guild, "Salty Eel tavern Marnie", k=5))
    assert {r.document_id for r in await rig.chunk_rows(guild)} != {harbor.document_id}
    with pytest.raises(DocumentNotFound):
        await rig.memory.forget_document(guild, harbor.document_id)


async def test_forget_all_and_delete_guild_remove_everything(rig: Rig) -> None:
    guild = new_guild()
    await rig.memory.import_file(guild, "harbor.md", None, NOTES_V1)
    await rig.memory.import_file(guild, "other.md", None, NOTES_V2)
    assert await rig.memory.forget_all(guild) == 2
    assert await rig.memory.list_documents(guild) == []
    assert await rig.memory.search(guild, "tavern", k=5) == []
    assert await rig.store.count(guild) == 0
    await rig.memory.import_file(guild, "harbor.md", None, NOTES_V1)
    await rig.memory.delete_guild(guild)
    assert await rig.chunk_rows(guild) == []
    assert await rig.memory.roster(guild) == []


async def test_status_reports_usage(rig: Rig) -> None:
    guild = new_guild()
    report = await rig.memory.import_file(guild, "harbor.md", None, NOTES_V1)
    status = await rig.memory.status(guild)
    assert status.documents == 1
    assert status.chunks == report.chunks
    assert status.bytes == len(NOTES_V1)
    assert status.vectors == report.chunks
    assert status.store == rig.store.name
    assert status.embedder == rig.embedder.id
    assert not status.reindex_needed


async def test_switching_embedder_reembeds_on_next_import(rig: Rig) -> None:
    guild = new_guild()
    await rig.memory.import_file(guild, "harbor.md", None, NOTES_V1)
    other = HashingEmbedder(DIM, name="test:other")
    switched = rig.make(embedder=other)
    assert (await switched.status(guild)).reindex_needed
    assert await switched.search(guild, "Salty Eel", k=3) == []  # never mixes vector spaces
    await switched.import_file(guild, "other.md", None, many_sections("north", 2))
    assert other.texts_embedded > 2  # the old document was embedded again
    assert not (await switched.status(guild)).reindex_needed
    assert "Marnie Quill" in (await switched.search(guild, "Salty Eel tavern", k=1))[0].text


async def test_switching_embedder_reembeds_in_the_background_after_a_search(rig: Rig) -> None:
    guild = new_guild()
    await rig.memory.import_file(guild, "harbor.md", None, NOTES_V1)
    other = HashingEmbedder(DIM, name="test:other")
    background = BackgroundTasks()
    switched = rig.make(embedder=other, background=background)
    assert await switched.search(guild, "Salty Eel tavern", k=1) == []  # never mixes vector spaces...
    await background.drain(30)  # ...and re-embeds meanwhile, with no import or command needed
    assert other.texts_embedded > 0
    assert not (await switched.status(guild)).reindex_needed
    assert "Marnie Quill" in (await switched.search(guild, "Salty Eel tavern", k=1))[0].text


# --- isolation -----------------------------------------------------------------------------------------------


GUILD_A_NOTES = b"""# The Ashen Court

## Queen Ysolde Marrowgate

Queen Ysolde Marrowgate rules the Ashen Court from the obsidian throne. Her spymaster is Corvin Vell.

## The Ember Vault

The Ember Vault lies beneath the court; its password is "cinder and salt".
"""

GUILD_B_NOTES = b"""# The Frog Kingdom

## King Bulbous the Third

King Bulbous the Third rules the lily pads of the Frog Kingdom. His herald is Sir Ribbit.

## The Mossy Well

The Mossy Well grants one wish a year to whoever sings to it.
"""


async def test_two_guilds_never_see_each_others_notes(rig: Rig) -> None:
    guild_a, guild_b = new_guild(), new_guild()
    await rig.memory.import_file(guild_a, "court.md", None, GUILD_A_NOTES)
    await rig.memory.import_file(guild_b, "frogs.md", None, GUILD_B_NOTES)
    await rig.memory.save_note(guild_a, "Corvin's secret", "Corvin Vell secretly serves the Frog Kingdom.")
    adversarial_for_a = [
        "King Bulbous the Third",
        "Sir Ribbit herald of the Frog Kingdom",
        "Mossy Well wish sings",
        "frogs.md",
        "lily pads",
    ]
    for query in adversarial_for_a:
        for passage in await rig.memory.search(guild_a, query, k=10):
            assert passage.file in {"court.md"} or passage.file.startswith("note-")
            assert "Bulbous" not in passage.text
            assert "Mossy" not in passage.text
    for query in ["Queen Ysolde Marrowgate", "Corvin Vell spymaster", "Ember Vault password cinder", "court.md"]:
        for passage in await rig.memory.search(guild_b, query, k=10):
            assert passage.file == "frogs.md"
            assert "Ysolde" not in passage.text
            assert "Corvin" not in passage.text
            assert "cinder" not in passage.text
    assert {d.file_name for d in await rig.memory.list_documents(guild_b)} == {"frogs.md"}
    court = (await rig.memory.list_documents(guild_a))[0]
    with pytest.raises(DocumentNotFound):
        await rig.memory.forget_document(guild_b, court.document_id)  # another guild's id is unknown here
    with pytest.raises(DocumentNotFound):
        await rig.memory.set_player_safe(guild_b, court.document_id, True)
    assert (await rig.memory.search(guild_a, "Queen Ysolde", k=1))[0].file == "court.md"


# --- PostgreSQL --------------------------------------------------------------------------------------------------


@pytest.mark.postgres
async def test_import_replace_and_forget_on_postgres(pg_engine: AsyncEngine, tmp_path: Path) -> None:
    sessionmaker = create_sessionmaker(pg_engine)
    memory = CampaignMemory(
        sessionmaker, MemoryKeyValue(), LocalVectorStore(tmp_path), HashingEmbedder(DIM), MemoryConfig(embed_batch=2)
    )
    guild = new_guild()
    await memory.import_file(guild, "harbor.md", None, NOTES_V1)
    second = await memory.import_file(guild, "harbor.md", None, NOTES_V2)
    assert second.outcome == "replaced"
    assert "Petra Vane" in (await memory.search(guild, "Drowned Bell tavern", k=1))[0].text
    async with sessionmaker() as session:
        count = (
            await session.execute(select(func.count(CampaignChunk.id)).where(CampaignChunk.guild_id == guild))
        ).scalar_one()
    assert count == second.chunks
    await memory.delete_guild(guild)
    assert await memory.list_documents(guild) == []


def _wordy_docx(characters: int) -> bytes:
    """A DOCX whose text unpacks to about `characters` characters of varied words (so it compresses only ~3x)."""
    import io
    import random

    import docx

    rng = random.Random(7)
    vocabulary = [
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9))) for _ in range(3000)
    ]
    document = docx.Document()
    written = 0
    while written < characters:
        paragraph = " ".join(rng.choice(vocabulary) for _ in range(80))
        document.add_paragraph(paragraph)
        written += len(paragraph)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


async def test_the_upload_limit_holds_for_the_unpacked_text_too(rig: Rig) -> None:
    guild = new_guild()
    data = _wordy_docx(400_000)
    limit = 300_000
    assert len(data) < limit  # the file itself passes the upload check

    async def upload_limit(guild_id: int) -> int:
        return limit

    limited = rig.make(upload_limit=upload_limit)
    await limited.import_file(guild, "harbor.md", None, NOTES_V1)
    with pytest.raises(TooLargeUnpacked) as refused:
        await limited.import_file(guild, "tome.docx", None, data)
    assert "tome.docx" in refused.value.message
    assert "over the 293 KB upload limit" in refused.value.message
    assert [d.file_name for d in await limited.list_documents(guild)] == ["harbor.md"]  # earlier notes intact
