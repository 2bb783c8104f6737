"""Split a parsed document into heading-aware, size-bounded, overlapping chunks with deterministic ids."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass

from bot.memory.parsing import ParsedDocument, Section

__all__ = [
    "DEFAULT_MAX_CHARS",
    "DEFAULT_OVERLAP_CHARS",
    "HEADING_SEPARATOR",
    "Chunk",
    "chunk_document",
    "document_id_for",
]

# About 200 word-pieces of English prose: the local embedder reads 256 at most, breadcrumb included.
DEFAULT_MAX_CHARS = 800
DEFAULT_OVERLAP_CHARS = 150
HEADING_SEPARATOR = " › "


@dataclass(frozen=True)
class Chunk:
    """One retrievable passage of a document."""

    chunk_id: str
    document_id: str
    index: int
    text: str
    heading_path: tuple[str, ...]
    page: int | None
    gm_only: bool = False  # a GM-only passage (a secret callout): never shown to players, whatever the document

    @property
    def heading(self) -> str:
        """The heading path as one breadcrumb string ("" when the document has no headings)."""
        return HEADING_SEPARATOR.join(self.heading_path)

    @property
    def embed_text(self) -> str:
        """The text given to the embedder: the breadcrumb, then the passage."""
        if not self.heading_path:
            return self.text
        return f"{self.heading}\n{self.text}"


def document_id_for(data: bytes) -> str:
    """Content hash of an uploaded file: identical bytes give the same document id."""
    return hashlib.sha256(data).hexdigest()[:32]


_SENTENCE_END = re.compile(r"(?<=[.!?…:;”\"')\]])\s+(?=\S)|\n+")


@dataclass(frozen=True)
class _Unit:
    text: str
    page: int | None
    joiner: str  # how this unit attaches to the previous one in a chunk


def chunk_document(
    doc: ParsedDocument,
    document_id: str,
    *,
    max_chars: int = DEFAULT_MAX_CHARS,
    overlap_chars: int = DEFAULT_OVERLAP_CHARS,
) -> list[Chunk]:
    """Chunks of `doc` in reading order: never across a heading change or a GM-only passage's edge, at most
    `max_chars` each (so no overlap carries a GM-only passage's words into a chunk players may see).

    Paragraphs are packed together up to the limit; a longer paragraph is split at sentence ends (or
    words); each chunk after the first in a section starts with up to `overlap_chars` of the previous one.
    """
    if max_chars < 100:
        raise ValueError("max_chars must be at least 100")
    overlap_chars = max(0, min(overlap_chars, max_chars // 2))
    chunks: list[Chunk] = []
    for (path, gm_only), sections in _runs(doc.sections):
        for text, page in _pack(_units(sections, max_chars), max_chars, overlap_chars):
            index = len(chunks)
            chunks.append(
                Chunk(
                    chunk_id=f"{document_id}:{index:05d}",
                    document_id=document_id,
                    index=index,
                    text=text,
                    heading_path=path,
                    page=page,
                    gm_only=gm_only,
                )
            )
    return chunks


def _runs(sections: list[Section]) -> Iterator[tuple[tuple[tuple[str, ...], bool], list[Section]]]:
    """Consecutive sections with the same heading path and visibility (a section continued over PDF pages)."""
    current: list[Section] = []
    for section in sections:
        if current and (section.heading_path, section.gm_only) != (current[0].heading_path, current[0].gm_only):
            yield (current[0].heading_path, current[0].gm_only), current
            current = []
        current.append(section)
    if current:
        yield (current[0].heading_path, current[0].gm_only), current


def _units(sections: list[Section], max_chars: int) -> Iterator[_Unit]:
    """Paragraphs, with any paragraph over `max_chars` broken into sentence- or word-sized pieces."""
    for section in sections:
        for paragraph in section.text.split("\n\n"):
            paragraph = paragraph.strip()
            if not paragraph:
                continue
            if len(paragraph) <= max_chars:
                yield _Unit(paragraph, section.page, "\n\n")
                continue
            first = True
            for piece in _split_long(paragraph, max_chars):
                yield _Unit(piece, section.page, "\n\n" if first else " ")
                first = False


def _split_long(paragraph: str, max_chars: int) -> Iterator[str]:
    for sentence in _SENTENCE_END.split(paragraph):
        sentence = sentence.strip()
        if not sentence:
            continue
        if len(sentence) <= max_chars:
            yield sentence
            continue
        piece: list[str] = []
        size = 0
        for word in sentence.split():
            while len(word) > max_chars:  # a pathological unbroken run of characters
                if piece:
                    yield " ".join(piece)
                    piece, size = [], 0
                yield word[:max_chars]
                word = word[max_chars:]
            if piece and size + 1 + len(word) > max_chars:
                yield " ".join(piece)
                piece, size = [], 0
            piece.append(word)
            size += len(word) + (1 if size else 0)
        if piece:
            yield " ".join(piece)


def _pack(units: Iterator[_Unit], max_chars: int, overlap_chars: int) -> Iterator[tuple[str, int | None]]:
    text = ""
    page: int | None = None
    fresh = False  # whether `text` holds anything beyond carried-over overlap
    for unit in units:
        if text and len(text) + len(unit.joiner) + len(unit.text) > max_chars:
            if fresh:
                yield text, page
            tail = _tail(text, overlap_chars)
            if tail and len(tail) + 1 + len(unit.text) <= max_chars:
                text, page, fresh = tail, unit.page, False
            else:
                text, page, fresh = "", None, False
        if text:
            text = f"{text}{unit.joiner}{unit.text}"
        else:
            text, page = unit.text, unit.page
        fresh = True
    if text and fresh:
        yield text, page


def _tail(text: str, limit: int) -> str:
    """The last whole sentences of `text` within `limit` characters, else its last words within it."""
    if limit <= 0:
        return ""
    sentences = [s for s in _SENTENCE_END.split(text) if s.strip()]
    tail = ""
    for sentence in reversed(sentences):
        candidate = f"{sentence.strip()} {tail}".strip()
        if len(candidate) > limit:
            break
        tail = candidate
    if tail:
        return tail
    words = text[-limit:].split(" ", 1)
    return words[1].strip() if len(words) == 2 else ""
