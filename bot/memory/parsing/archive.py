"""Zip archives: the guard every zip passes before anything in it is unpacked (a DOCX, a .zip of notes), and a
.zip of Markdown notes (an Obsidian vault, a Notion or Google Docs Markdown export) opened into its notes.

Nothing is ever written to disk: member names only name documents, yet a name that climbs out of the archive
(`../`, an absolute path), a symbolic link or a password refuses the whole archive, since no tool makes those
by accident. An archive inside the archive, and a note over the upload limit, are refused one by one; the
app's settings (`.obsidian/`), hidden files and anything that is not a note (images, canvases) are skipped.
"""

from __future__ import annotations

import io
import re
import stat
import zipfile
import zlib
from collections import Counter
from pathlib import PurePosixPath

from bot.memory.errors import CorruptDocument, EncryptedDocument, FileTooLarge, ImportProblem
from bot.sizes import format_bytes

__all__ = [
    "NOTE_EXTENSIONS",
    "ZIP_MAX_MEMBERS",
    "ZIP_MAX_RATIO",
    "ZIP_MAX_UNCOMPRESSED",
    "ArchiveRefused",
    "NestedArchive",
    "NoNotesInArchive",
    "Note",
    "document_name",
    "unpack_notes",
    "zip_problem",
]

# Zip-bomb guard (DOCX and note archives alike), checked on the archive's directory before anything is unpacked.
ZIP_MAX_MEMBERS = 2_000
ZIP_MAX_UNCOMPRESSED = 200 * 1024 * 1024
ZIP_MAX_RATIO = 200  # per member, uncompressed / compressed, for members over 1 MB

NOTE_EXTENSIONS = (".md", ".markdown", ".txt")
_ARCHIVES = (".zip", ".7z", ".rar", ".tar", ".gz", ".tgz", ".bz2", ".xz")
_NOTION_ID = re.compile(r"[ _-]?[0-9a-f]{32}\Z")  # Notion appends each page's id to its file and folder names
_DRIVE = re.compile(r"\A[A-Za-z]:")

Note = tuple[str, bytes]  # (document name, bytes)


class ArchiveRefused(ImportProblem):
    """A zip of notes that is unsafe to open: a bomb, too many files, a path out of the archive, a link."""

    def __init__(self, file_name: str, detail: str) -> None:
        super().__init__(
            file_name,
            f"**{file_name}** can't be opened safely ({detail}), so I imported nothing from it. "
            "Zip the notes folder again, or import the notes as separate files.",
        )
        self.detail = detail


class NestedArchive(ImportProblem):
    """An archive inside the archive: never opened."""

    def __init__(self, file_name: str, archive: str) -> None:
        super().__init__(
            file_name,
            f"**{file_name}** inside **{archive}** is an archive itself; I don't open archives inside archives, "
            "so I skipped it. Extract it and import it on its own.",
        )
        self.archive = archive


class NoNotesInArchive(ImportProblem):
    """An archive without any Markdown or text note."""

    def __init__(self, file_name: str) -> None:
        super().__init__(
            file_name,
            f"**{file_name}** has no notes in it: I import the Markdown (.md) and text (.txt) files of a .zip.",
        )


def zip_problem(infos: list[zipfile.ZipInfo], *, members: str = "files") -> str | None:
    """Why an archive with this directory is unsafe to unpack (members, total size, expansion ratio), or None.
    zipfile enforces each member's directory size while reading it, so these sizes can be trusted."""
    if len(infos) > ZIP_MAX_MEMBERS:
        return f"{len(infos):,} {members} inside, over the limit of {ZIP_MAX_MEMBERS:,}"
    total = sum(info.file_size for info in infos)
    if total > ZIP_MAX_UNCOMPRESSED:
        return f"{format_bytes(total)} when unpacked, over the {format_bytes(ZIP_MAX_UNCOMPRESSED)} limit"
    for info in infos:
        if info.file_size > 1024 * 1024 and info.file_size > ZIP_MAX_RATIO * max(info.compress_size, 1):
            return f"{info.filename} expands {info.file_size // max(info.compress_size, 1)}x"
    return None


def _unsafe(info: zipfile.ZipInfo) -> str | None:
    """Why this member refuses the whole archive, or None."""
    name = info.filename.replace("\\", "/")
    if name.startswith("/") or _DRIVE.match(name) or ".." in name.split("/"):
        return f"{info.filename} points outside the archive"
    if stat.S_ISLNK(info.external_attr >> 16):
        return f"{info.filename} is a symbolic link"
    return None


def _skipped(path: PurePosixPath) -> bool:
    """Hidden files and folders (`.obsidian/`, `.trash/`, `.git/`) and macOS resource forks."""
    return any(part.startswith(".") or part == "__MACOSX" for part in path.parts)


def _clean_part(part: str, *, suffix: str = "") -> str:
    """A file or folder name without the Notion page id Notion appends to it."""
    stem = part[: -len(suffix)] if suffix else part
    bare = _NOTION_ID.sub("", stem).strip()
    return (bare or stem) + suffix


def document_name(member: str) -> str:
    """The document name of an archive member: its file name without a Notion id ("Drowned Choir.md")."""
    path = PurePosixPath(member.replace("\\", "/"))
    return _clean_part(path.name, suffix=path.suffix)


def _qualified(member: str) -> str:
    """The member's folders and file name, Notion ids stripped ("Places/Saltmarsh.md")."""
    path = PurePosixPath(member.replace("\\", "/"))
    folders = [_clean_part(part) for part in path.parts[:-1]]
    return "/".join([*folders, document_name(member)])


def unpack_notes(file_name: str, data: bytes, *, max_note_bytes: int) -> list[Note | ImportProblem]:
    """The notes of a .zip as (document name, bytes) in path order, with a problem in place of each note that
    cannot be taken; one problem alone when the archive itself is refused. A name two notes share is qualified
    by their folders."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            refused = zip_problem(infos) or next(filter(None, map(_unsafe, infos)), None)
            if refused is not None:
                return [ArchiveRefused(file_name, refused)]
            if any(info.flag_bits & 0x1 for info in infos):
                return [EncryptedDocument(file_name)]
            members: list[zipfile.ZipInfo] = []
            problems: list[ImportProblem] = []
            for info in sorted(infos, key=lambda i: i.filename.lower()):
                path = PurePosixPath(info.filename.replace("\\", "/"))
                if info.is_dir() or _skipped(path):
                    continue
                suffix = path.suffix.lower()
                if suffix in _ARCHIVES:
                    problems.append(NestedArchive(document_name(info.filename), file_name))
                elif suffix in NOTE_EXTENSIONS:
                    members.append(info)
            counts = Counter(document_name(info.filename) for info in members)
            notes: list[Note | ImportProblem] = []
            taken: set[str] = set()
            for info in members:
                name = document_name(info.filename)
                name = name if counts[name] == 1 else _qualified(info.filename)
                stem, dot, extension = name.rpartition(".")
                number = 2
                while name in taken:  # two pages of one title in one folder
                    name = f"{stem} ({number}){dot}{extension}"
                    number += 1
                taken.add(name)
                if info.file_size > max_note_bytes:
                    notes.append(FileTooLarge(name, info.file_size, max_note_bytes))
                    continue
                try:
                    notes.append((name, archive.read(info)))
                except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError):
                    notes.append(CorruptDocument(name, "text"))
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError):
        return [CorruptDocument(file_name, "zip")]
    if not notes and not problems:
        return [NoNotesInArchive(file_name)]
    return [*notes, *problems]
