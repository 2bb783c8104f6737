"""File names as stored and shown: control and bidirectional-formatting characters stripped, so a name like
"rtl-" + U+202E + "gnp.md" cannot pose as another file in lists and citations."""

from __future__ import annotations

import unicodedata

from bot.memory.errors import ImportProblem

__all__ = ["DuplicateFileName", "clean_file_name"]

MAX_NAME = 200  # characters kept of a file name


def clean_file_name(name: str) -> str:
    """`name` without control (Cc), format (Cf: bidi overrides, isolates, zero-width) or separator characters
    (line and paragraph separators), whitespace collapsed; "file" when nothing is left."""
    kept = "".join(
        " " if ch.isspace() else ch for ch in name if ch.isspace() or unicodedata.category(ch) not in _STRIPPED
    )
    return " ".join(kept.split())[:MAX_NAME] or "file"


_STRIPPED = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


class DuplicateFileName(ImportProblem):
    """A second file of the same name in one import (the first one is imported)."""

    def __init__(self, file_name: str) -> None:
        super().__init__(
            file_name,
            f"**{file_name}** appears twice in this import: only the first one was imported. "
            "Rename the other file and import it on its own.",
            title="Same file name twice",
        )
