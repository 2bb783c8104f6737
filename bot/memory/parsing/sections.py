"""The structured form of a parsed document (sections under heading paths) and the text helpers the readers
share."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "HTML_TAG",
    "ParsedDocument",
    "ProgressCallback",
    "Section",
    "SectionBuilder",
    "clean_line",
    "heading_runs",
    "looks_like_heading",
]

ProgressCallback = Callable[[int, int], None]  # (pages done, pages in all), called from the parsing thread

HTML_TAG = re.compile(r"</?[A-Za-z][^<>]*>")  # [^<>]: scans from different `<` never overlap (linear)


@dataclass(frozen=True)
class Section:
    """A run of text under one heading path (and, for PDFs, on one page)."""

    heading_path: tuple[str, ...]
    text: str  # paragraphs separated by blank lines, lines by "\n"
    page: int | None = None  # 1-based page for PDFs
    gm_only: bool = False  # a GM-only passage (an Obsidian secret callout), hidden from players whatever the document


@dataclass(frozen=True)
class ParsedDocument:
    """A parsed upload: its sections in reading order."""

    file_name: str
    kind: str  # "markdown" | "text" | "pdf" | "docx"
    sections: list[Section]
    pages: int | None
    characters: int

    @property
    def text(self) -> str:
        """All section texts joined (for tests and diagnostics)."""
        return "\n\n".join(section.text for section in self.sections)


_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_CHAR_MAP = str.maketrans(
    {"\u00ad": None, "\u2010": "-", "\u2011": "-", "\ufb01": "fi", "\ufb02": "fl", "\ufeff": None, "\u200b": None}
)
_TERMINAL = tuple(".,;:!?")


class SectionBuilder:
    """Collects paragraphs under a moving heading path; GM-only paragraphs go to sections of their own."""

    def __init__(self) -> None:
        self.sections: list[Section] = []
        self.path: list[str] = []
        self.levels: list[int] = []
        self.paragraphs: list[str] = []
        self.page: int | None = None
        self.gm_only = False  # whether `paragraphs` are GM-only

    def heading(self, level: int, title: str) -> None:
        self.flush()
        while self.levels and self.levels[-1] >= level:
            self.levels.pop()
            self.path.pop()
        if self.path and self.path[-1] == title:  # "Title: Vald" then "Heading 1: Vald"
            return
        self.levels.append(level)
        self.path.append(title)

    def paragraph(self, text: str, *, gm_only: bool = False) -> None:
        text = text.strip()
        if text and not (self.path and text == self.path[-1]):
            if gm_only != self.gm_only:
                self.flush()
                self.gm_only = gm_only
            self.paragraphs.append(text)

    def set_page(self, page: int | None) -> None:
        if page != self.page:
            self.flush()
            self.page = page

    def flush(self) -> None:
        if self.paragraphs:
            self.sections.append(Section(tuple(self.path), "\n\n".join(self.paragraphs), self.page, self.gm_only))
            self.paragraphs = []


def clean_line(line: str) -> str:
    """The line with odd spaces collapsed and ligatures, soft hyphens and zero-width characters mapped."""
    return _SPACES.sub(" ", line.translate(_CHAR_MAP)).strip()


def looks_like_heading(line: str) -> bool:
    """A plain-text line that reads as a heading: short, capitalised, not a sentence or a list item."""
    if not line or len(line) > 70 or line.endswith(_TERMINAL) or line.startswith(("-", "*", "•", "|", "(")):
        return False
    words = line.split()
    if len(words) > 9 or (not line[0].isupper() and not line[0].isdigit()):
        return False
    if not any(ch.isalpha() for ch in line) or line.count("|") or line.count('"') == 1:
        return False
    # Title case or all caps: most words of four letters or more start with a capital letter.
    long_words = [w for w in words if len(w) > 3 and w[0].isalpha()]
    return not long_words or sum(w[0].isupper() for w in long_words) >= max(1, (len(long_words) + 1) // 2)


def heading_runs(flags: list[bool], longest: int = 2) -> list[int | None]:
    """For heading-like items: their depth within a run of consecutive ones, or None when not a heading.

    A run longer than `longest` is a list of short lines (names, items), not headings: its text stays text.
    """
    out: list[int | None] = [None] * len(flags)
    index = 0
    while index < len(flags):
        if not flags[index]:
            index += 1
            continue
        end = index
        while end < len(flags) and flags[end]:
            end += 1
        if end - index <= longest:
            for position in range(index, end):
                out[position] = position - index
        index = end
    return out
