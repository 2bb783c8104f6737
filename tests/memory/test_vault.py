"""A .zip of Markdown notes (an Obsidian vault, a Notion export) opens into its notes behind the zip guard, imports
as one document per note, and a secret callout of a player-safe note stays the GM's in search and in both stores,
whatever the document's visibility becomes."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from bot.cli import build_parser
from bot.errors import UserFacingError
from bot.memory import ImportReport, Upload
from bot.memory.errors import CorruptDocument, EncryptedDocument, FileTooLarge
from bot.memory.parsing import check_upload, unpack_notes
from bot.memory.parsing.archive import ZIP_MAX_MEMBERS, ArchiveRefused, NestedArchive, NoNotesInArchive
from bot.services import Services
from tests.memory.memory_support import HashingEmbedder, Rig, new_guild
from tests.memory.vault_zips import bomb_zip, lying_zip, notion_zip, symlink_zip, zip_folder, zip_of

VAULT_NOTES = [
    "The Drowned Choir.md",
    "Home.md",
    "LICENSE.md",
    "Mother Salt.md",
    "Osric Vane.md",
    "Saltmarsh.md",
    "The Drowned Bell.md",
    "Session 01.md",
]
SECRET_WORDS = ("Ymna", "Tidewyrm", "Ilse")  # only in the vault's secret callouts


@pytest.fixture
def vault(test_data: Path) -> bytes:
    return zip_folder(test_data / "vault")


def names(found: list[tuple[str, bytes] | UserFacingError]) -> list[str]:
    return [item[0] for item in found if isinstance(item, tuple)]


def problems(found: list[tuple[str, bytes] | UserFacingError]) -> list[UserFacingError]:
    return [item for item in found if isinstance(item, UserFacingError)]


# --- opening the archive ----------------------------------------------------------------------------------------
def test_a_vault_opens_into_its_notes_without_settings_trash_or_images(vault: bytes) -> None:
    found = unpack_notes("vault.zip", vault, max_note_bytes=1024 * 1024)
    assert names(found) == VAULT_NOTES  # by path: Factions/, Home, LICENSE, People/, Places/, Sessions/
    assert not problems(found)
    assert not any(b"Brinewick and the cult worshipped a crab" in item[1] for item in found if isinstance(item, tuple))


def test_notion_ids_are_stripped_from_document_names() -> None:
    found = unpack_notes("Export-1f2e.zip", notion_zip(), max_note_bytes=1024 * 1024)
    assert names(found) == ["Saltmarsh Bells.md", "Petra Gull.md"]


def test_two_notes_of_one_name_are_told_apart_by_their_folders() -> None:
    found = unpack_notes(
        "vault.zip",
        zip_of({"v/Index.md": "# A\n\nroot", "v/Places/Index.md": "# B\n\nplaces", "v/People/Index.md": "# C\n\nx"}),
        max_note_bytes=1024,
    )
    assert names(found) == ["v/Index.md", "v/People/Index.md", "v/Places/Index.md"]


@pytest.mark.parametrize(
    ("data", "detail"),
    [
        (bomb_zip(), "notes/bomb.md expands"),
        (lying_zip(300 * 1024 * 1024), "300.0 MB when unpacked, over the 200.0 MB limit"),
        (zip_of({f"n/{i}.md": "x" for i in range(ZIP_MAX_MEMBERS + 1)}), "2,001 files inside, over the limit of 2,000"),
        (zip_of({"ok.md": "# Ok\n\nfine", "../../etc/evil.md": "# Evil"}), "../../etc/evil.md points outside"),
        (zip_of({"/etc/cron.d/evil.md": "# Evil"}), "/etc/cron.d/evil.md points outside"),
        (zip_of({"C:\\Windows\\evil.md": "# Evil"}), "points outside the archive"),
        (zip_of({"vault\\..\\..\\evil.md": "# Evil"}), "points outside the archive"),
        (symlink_zip(), "vault/secrets.md is a symbolic link"),
    ],
)
def test_a_hostile_archive_is_refused_whole(data: bytes, detail: str) -> None:
    found = unpack_notes("vault.zip", data, max_note_bytes=64 * 1024 * 1024)
    [problem] = found
    assert isinstance(problem, ArchiveRefused)
    assert detail in problem.message
    assert problem.message.startswith("**vault.zip** can't be opened safely")


def test_nested_archives_and_big_notes_are_refused_one_by_one() -> None:
    inner = zip_of({"hidden.md": "# Hidden\n\nNever opened."})
    data = zip_of({"v/Note.md": "# Note\n\nKept.", "v/old/backup.zip": inner, "v/Big.md": "# Big\n\n" + "x" * 5000})
    found = unpack_notes("vault.zip", data, max_note_bytes=4096)
    assert names(found) == ["Note.md"]
    big, nested = problems(found)
    assert isinstance(big, FileTooLarge)
    assert "**Big.md**" in big.message
    assert isinstance(nested, NestedArchive)
    assert "**backup.zip** inside **vault.zip** is an archive itself" in nested.message


def test_damaged_locked_and_empty_archives_say_so(vault: bytes) -> None:
    [damaged] = unpack_notes("vault.zip", vault[: len(vault) // 2], max_note_bytes=1024)
    assert isinstance(damaged, CorruptDocument)
    data = bytearray(zip_of({"Note.md": "# Note\n\nText."}))
    central = data.index(b"PK\x01\x02")
    data[central + 8] |= 0x1  # the "encrypted" flag, as a password-protected zip carries it
    [locked] = unpack_notes("vault.zip", bytes(data), max_note_bytes=1024)
    assert isinstance(locked, EncryptedDocument)
    [empty] = unpack_notes("vault.zip", zip_of({"map.png": b"\x89PNG", ".obsidian/app.json": "{}"}), max_note_bytes=1)
    assert isinstance(empty, NoNotesInArchive)


def test_a_zip_upload_is_accepted_by_type_and_size() -> None:
    for content_type in ("application/zip", "application/x-zip-compressed", None, "application/octet-stream"):
        check_upload("vault.zip", content_type, 1000, 2000)
    with pytest.raises(UserFacingError, match="over the"):
        check_upload("vault.zip", "application/zip", 3000, 2000)
    with pytest.raises(UserFacingError, match="isn't a file type"):
        check_upload("vault.zip", "image/png", 1000, 2000)


# --- importing it -----------------------------------------------------------------------------------------------
async def _import_vault(rig: Rig, guild: int, vault: bytes, *, player_safe: bool) -> list[ImportReport]:
    uploads = await rig.memory.unpack(guild, Upload("vault.zip", "application/zip", vault))
    assert all(isinstance(u, Upload) for u in uploads)
    results = await rig.memory.import_files(
        guild, [u for u in uploads if isinstance(u, Upload)], player_safe=player_safe
    )
    assert all(isinstance(r, ImportReport) for r in results), results
    return [r for r in results if isinstance(r, ImportReport)]


async def test_a_vault_imports_with_clean_text_and_its_secrets_for_the_gm_alone(rig: Rig, vault: bytes) -> None:
    guild = new_guild()
    reports = await _import_vault(rig, guild, vault, player_safe=True)
    assert [r.file_name for r in reports] == VAULT_NOTES
    assert sorted(d.file_name for d in await rig.memory.list_documents(guild)) == sorted(VAULT_NOTES)

    query = "Drowned Choir true patron Abbess Ymna Tidewyrm bell-ringers"
    for_gm = await rig.memory.search(guild, query, k=10)
    assert any("Abbess Ymna" in p.text and not p.player_safe for p in for_gm), for_gm
    every = await rig.memory.search(guild, "Saltmarsh Osric Choir bell quay fog Ilse", k=50)
    for passage in every:
        for mark in ("[[", "]]", "%%", "[!", "==", "^wants"):
            assert mark not in passage.text, passage
        assert "Brinewick" not in passage.text  # a comment in Saltmarsh.md and a note in .trash/

    for audience in (query, "Osric daughter Ilse debt bell", "What the players can learn First Voice"):
        for_players = await rig.memory.search(guild, audience, k=50, player_safe_only=True)
        assert for_players
        for passage in for_players:
            assert passage.player_safe
            assert not any(word in passage.text for word in SECRET_WORDS), passage


async def test_visibility_changes_never_show_players_a_secret_callout(rig: Rig, vault: bytes) -> None:
    guild = new_guild()
    await _import_vault(rig, guild, vault, player_safe=False)
    query = "Drowned Choir patron Abbess Ymna Tidewyrm widows sing flats"
    assert await rig.memory.search(guild, query, k=10, player_safe_only=True) == []
    await rig.memory.set_player_safe(guild, "The Drowned Choir.md", True)
    shown = await rig.memory.search(guild, query, k=10, player_safe_only=True)
    assert any("widows" in p.text for p in shown)
    assert not any("Ymna" in p.text for p in shown)
    # the store itself keeps the secret chunk out of a player's candidates (not only the join to the rows)
    vector = await rig.embedder.embed_query(query)
    hits = await rig.store.query(guild, vector, 50, player_safe_only=True)
    secret_ids = {p.chunk_id for p in await rig.memory.search(guild, query, k=10) if "Ymna" in p.text}
    assert secret_ids
    assert hits
    assert not secret_ids & {h.chunk_id for h in hits}
    await rig.memory.set_player_safe(guild, "The Drowned Choir.md", False)
    assert await rig.memory.search(guild, query, k=10, player_safe_only=True) == []


async def test_reembedding_keeps_secret_callouts_hidden(rig: Rig, vault: bytes) -> None:
    guild = new_guild()
    await _import_vault(rig, guild, vault, player_safe=True)
    other = rig.make(HashingEmbedder(rig.embedder.dimension, name="test:other"))
    await other.reindex(guild)
    shown = await other.search(guild, "Abbess Ymna Tidewyrm Choir patron", k=20, player_safe_only=True)
    assert shown
    assert not any("Ymna" in p.text for p in shown)
    vector = await other.embedder.embed_query("Abbess Ymna Tidewyrm")
    hits = await rig.store.query(guild, vector, 100, player_safe_only=True)
    rows = {p.chunk_id: p for p in await other.search(guild, "Abbess Ymna Tidewyrm", k=100)}
    assert not any("Ymna" in rows[h.chunk_id].text for h in hits if h.chunk_id in rows)


# --- from the command line --------------------------------------------------------------------------------------
async def test_cli_imports_a_vault_one_line_per_note_and_refuses_a_bomb(
    services: Services, test_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    services.memory.embedder = HashingEmbedder(384)
    vault = tmp_path / "Saltmarsh vault.zip"
    vault.write_bytes(zip_folder(test_data / "vault"))
    bomb = tmp_path / "bomb.zip"
    bomb.write_bytes(bomb_zip())
    args = build_parser().parse_args(["campaign", "import", "--guild", "7", "-q", str(vault), str(bomb)])
    assert await args.handler(args, services) == 1  # the bomb failed
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert [line.split(":", 1)[0] for line in lines] == VAULT_NOTES
    assert all(": imported, " in line for line in lines)
    assert f"{bomb}: bomb.zip can't be opened safely (notes/bomb.md expands" in captured.err
    listed = await services.memory.list_documents(7)
    assert sorted(d.file_name for d in listed) == sorted(VAULT_NOTES)
    assert zipfile.is_zipfile(vault)
