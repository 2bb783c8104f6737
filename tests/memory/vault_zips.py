"""Zip archives for the vault-import tests: the Obsidian vault of `tests/data/vault/` zipped as Obsidian users do
(the folder itself, settings and attachments included), a Notion-style export, and hostile archives."""

from __future__ import annotations

import io
import stat
import struct
import zipfile
from collections.abc import Mapping
from pathlib import Path

__all__ = ["bomb_zip", "lying_zip", "notion_zip", "symlink_zip", "zip_folder", "zip_of"]

_DATE = (2026, 11, 30, 12, 0, 0)


def zip_of(members: Mapping[str, bytes | str], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip of `members` (name -> content), in order, with a fixed date (the same bytes every run)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, content in members.items():
            info = zipfile.ZipInfo(name, date_time=_DATE)
            info.compress_type = compression
            archive.writestr(info, content.encode() if isinstance(content, str) else content)
    return buffer.getvalue()


def zip_folder(folder: Path, *, prefix: str | None = None) -> bytes:
    """Every file under `folder` (hidden ones too), under `prefix/` (default: the folder's name), sorted."""
    root = folder.name if prefix is None else prefix
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return zip_of({f"{root}/{p.relative_to(folder).as_posix()}".lstrip("/"): p.read_bytes() for p in files})


def notion_zip() -> bytes:
    """A Notion Markdown export: 32-hex page ids after every page and folder name, a CSV and an image beside."""
    return zip_of(
        {
            "Saltmarsh Bells 0f1e2d3c4b5a69788796a5b4c3d2e1f0.md": "# Saltmarsh Bells\n\nThe campaign's home page.\n",
            "Saltmarsh Bells 0f1e2d3c4b5a69788796a5b4c3d2e1f0/Petra Gull 1234567890abcdef1234567890abcdef.md": (
                "# Petra Gull\n\nPetra Gull keeps the Drowned Bell tavern and a shelf of things the tide brought in.\n"
            ),
            "Saltmarsh Bells 0f1e2d3c4b5a69788796a5b4c3d2e1f0/NPCs abcdefabcdefabcdefabcdefabcdefab.csv": "Name\nPetra\n",
            "Saltmarsh Bells 0f1e2d3c4b5a69788796a5b4c3d2e1f0/Untitled.png": b"\x89PNG\r\n\x1a\n",
        }
    )


def bomb_zip(name: str = "notes/bomb.md", megabytes: int = 8) -> bytes:
    """A note of zeros that expands about a thousand times (the ratio guard's case)."""
    return zip_of({"notes/fine.md": "# Fine\n\nA fine note.\n", name: b"\0" * (megabytes * 1024 * 1024)})


def lying_zip(declared: int) -> bytes:
    """A small zip whose directory declares one member `declared` bytes unpacked (the total-size guard's case)."""
    data = bytearray(zip_of({"notes/a.md": "# A\n\nSmall.\n", "notes/b.md": "# B\n\nSmall too.\n"}))
    central = data.index(b"PK\x01\x02")  # the first member's central directory entry: uncompressed size at +24
    data[central + 24 : central + 28] = struct.pack("<I", declared)
    return bytes(data)


def symlink_zip() -> bytes:
    """A vault with a symbolic link to outside it among its notes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(zipfile.ZipInfo("vault/Note.md", date_time=_DATE), "# Note\n\nText.\n")
        link = zipfile.ZipInfo("vault/secrets.md", date_time=_DATE)
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    return buffer.getvalue()
