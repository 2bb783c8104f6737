"""`CampaignMemory.mutation`: the one way to write holds the guild's lock, bumps the notes version after each
committed visible change (so every process's cached rows go), and rebuilds the roster when asked."""

from __future__ import annotations

import pytest

from bot.memory import ImportBusy
from bot.memory.types import memory_version_key
from tests.memory.memory_support import NOTES_V1, Rig, new_guild


class Interrupted(RuntimeError):
    """Raised inside a mutation by these tests."""


async def _version(rig: Rig, guild_id: int) -> int:
    return int(await rig.kv.get(memory_version_key(guild_id)) or 0)


async def _delete_rows_then_fail(rig: Rig, guild_id: int, document_id: str) -> None:
    async with rig.memory.mutation(guild_id) as m, m.transaction() as tx:
        await tx.delete_document(document_id)
        raise Interrupted


async def _forget_then_fail(rig: Rig, guild_id: int, document_id: str) -> None:
    async with rig.memory.mutation(guild_id) as m:
        await m.forget_document(document_id)
        m.rebuild_roster()
        raise Interrupted


async def test_a_committed_write_drops_the_rows_another_process_cached(rig: Rig) -> None:
    guild = new_guild()
    harbor = await rig.memory.import_file(guild, "harbor.md", None, NOTES_V1)
    searcher = rig.make()  # another process: its rows of this guild are cached by this search
    assert "Marnie Quill" in (await searcher.search(guild, "Salty Eel tavern", k=1))[0].text

    # rows only: the vectors stay, so only a version bump keeps the searcher from answering with cached rows
    async with rig.memory.mutation(guild) as m, m.transaction() as tx:
        await tx.delete_document(harbor.document_id)
    assert await searcher.search(guild, "Salty Eel tavern", k=5) == []


async def test_a_player_safe_change_reaches_another_process_cached_rows(rig: Rig) -> None:
    guild = new_guild()
    harbor = await rig.memory.import_file(guild, "harbor.md", None, NOTES_V1)
    searcher = rig.make()
    assert await searcher.search(guild, "Salty Eel tavern", k=5)  # caches the rows, GM-only
    async with rig.memory.mutation(guild) as m:
        await m.set_player_safe(harbor.document_id, True)
    assert await searcher.search(guild, "Salty Eel tavern", k=5, player_safe_only=True)


async def test_a_failed_transaction_changes_nothing_and_bumps_nothing(rig: Rig) -> None:
    guild = new_guild()
    harbor = await rig.memory.import_file(guild, "harbor.md", None, NOTES_V1)
    version = await _version(rig, guild)
    with pytest.raises(Interrupted):
        await _delete_rows_then_fail(rig, guild, harbor.document_id)
    assert await _version(rig, guild) == version
    assert [d.file_name for d in await rig.memory.list_documents(guild)] == ["harbor.md"]


async def test_a_mutation_holds_the_guild_lock(rig: Rig) -> None:
    guild, other = new_guild(), new_guild()
    async with rig.memory.mutation(guild):
        with pytest.raises(ImportBusy):
            await rig.memory.import_file(guild, "harbor.md", None, NOTES_V1)
        with pytest.raises(ImportBusy):
            async with rig.make().mutation(guild):
                pass
        await rig.memory.import_file(other, "harbor.md", None, NOTES_V1)  # other guilds go on
    assert (await rig.memory.import_file(guild, "harbor.md", None, NOTES_V1)).outcome == "imported"


async def test_the_roster_is_rebuilt_when_asked_and_the_mutation_ends_cleanly(rig: Rig) -> None:
    guild = new_guild()
    harbor = await rig.memory.import_file(guild, "harbor.md", None, NOTES_V1)
    assert "Salty Eel" in await rig.memory.roster(guild)

    with pytest.raises(Interrupted):
        await _forget_then_fail(rig, guild, harbor.document_id)
    assert "Salty Eel" in await rig.memory.roster(guild)  # not rebuilt: the mutation failed

    await rig.memory.import_file(guild, "harbor.md", None, NOTES_V1)
    async with rig.memory.mutation(guild) as m:
        await m.forget_document(harbor.document_id)
        m.rebuild_roster()
    assert await rig.memory.roster(guild) == []
