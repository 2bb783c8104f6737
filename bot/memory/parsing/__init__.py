"""Parse uploaded notes (Markdown, text, PDF, DOCX) into one normalised, structured text form.

The readers of each format live beside this module: markdown.py (Markdown and plain text, with Obsidian's
additions read by obsidian.py), pdf.py, word.py (DOCX); sections.py holds the structured form and the text
helpers they share; limits.py the unpacked-size limits each reader enforces while streaming; archive.py the
zip guard and the opening of a .zip of notes (`unpack_notes`) into the files it holds, each then read here.

Everything here is synchronous CPU work on bytes already in memory; the import pipeline runs `parse_document`
and chunking in a worker process under a time and a memory limit (pool.py, worker.py). Every problem with the
input becomes an `ImportProblem` subclass naming the file (see `bot.memory.errors` and limits.py).
"""

from __future__ import annotations

import logging
from pathlib import PurePath

from bot.memory.errors import CorruptDocument, EmptyDocument, FileTooLarge, UnsupportedFile
from bot.memory.parsing.archive import unpack_notes
from bot.memory.parsing.markdown import parse_markdown, parse_plain_text
from bot.memory.parsing.pdf import parse_pdf
from bot.memory.parsing.sections import ParsedDocument, ProgressCallback, Section
from bot.memory.parsing.word import DOCX_MAX_MEMBERS, DOCX_MAX_UNCOMPRESSED, parse_docx

__all__ = [
    "ALLOWED_CONTENT_TYPES",
    "DOCX_MAX_MEMBERS",
    "DOCX_MAX_UNCOMPRESSED",
    "SUPPORTED_EXTENSIONS",
    "ParsedDocument",
    "ProgressCallback",
    "Section",
    "check_upload",
    "decode_text",
    "document_kind",
    "is_archive",
    "parse_document",
    "unpack_notes",
]

log = logging.getLogger(__name__)

SUPPORTED_EXTENSIONS: tuple[str, ...] = (".md", ".markdown", ".txt", ".pdf", ".docx", ".zip")

_KIND_BY_EXTENSION: dict[str, str] = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".pdf": "pdf",
    ".docx": "docx",
    ".zip": "archive",  # opened into its notes (`unpack_notes`) before any is read
}

# Content types Discord (or a browser) may report for each extension. `application/octet-stream` and a
# missing content type are accepted for every extension: uploads of unknown type are common.
ALLOWED_CONTENT_TYPES: dict[str, frozenset[str]] = {
    ".md": frozenset({"text/markdown", "text/x-markdown", "text/plain"}),
    ".markdown": frozenset({"text/markdown", "text/x-markdown", "text/plain"}),
    ".txt": frozenset({"text/plain"}),
    ".pdf": frozenset({"application/pdf", "application/x-pdf"}),
    ".docx": frozenset({"application/vnd.openxmlformats-officedocument.wordprocessingml.document", "application/zip"}),
    ".zip": frozenset({"application/zip", "application/x-zip-compressed", "application/x-zip", "multipart/x-zip"}),
}
_ANY_TYPE = frozenset({"application/octet-stream", "binary/octet-stream"})


# --------------------------------------------------------------------------------------------------
# Upload checks (before any download)
# --------------------------------------------------------------------------------------------------


def document_kind(file_name: str) -> str:
    """The parser kind for `file_name`'s extension; `UnsupportedFile` when there is none."""
    suffix = PurePath(file_name).suffix.lower()
    kind = _KIND_BY_EXTENSION.get(suffix)
    if kind is None:
        raise UnsupportedFile(file_name, f"extension {suffix!r}" if suffix else "no extension")
    return kind


def is_archive(file_name: str) -> bool:
    """True for a .zip of notes (opened with `unpack_notes`, not read by `parse_document`)."""
    return PurePath(file_name).suffix.lower() == ".zip"


def check_upload(file_name: str, content_type: str | None, size: int, max_bytes: int) -> None:
    """Refuse an attachment from its metadata alone: wrong type, empty, or over `max_bytes`."""
    document_kind(file_name)
    suffix = PurePath(file_name).suffix.lower()
    if content_type:
        base = content_type.split(";", 1)[0].strip().lower()
        if base and base not in ALLOWED_CONTENT_TYPES[suffix] and base not in _ANY_TYPE:
            raise UnsupportedFile(file_name, f"it was sent as {base}")
    if size <= 0:
        raise EmptyDocument(file_name)
    if size > max_bytes:
        raise FileTooLarge(file_name, size, max_bytes)


# --------------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------------


def parse_document(file_name: str, data: bytes, *, on_page: ProgressCallback | None = None) -> ParsedDocument:
    """Parse `data` (the whole file) by its extension; raise an `ImportProblem` for bad input."""
    kind = document_kind(file_name)
    if kind == "archive":
        raise UnsupportedFile(file_name, "a .zip is opened into its notes before any is read")
    if not data or not data.strip():
        raise EmptyDocument(file_name)
    pages: int | None = None
    if kind == "markdown":
        sections = parse_markdown(decode_text(file_name, data))
    elif kind == "text":
        sections = parse_plain_text(decode_text(file_name, data))
    elif kind == "pdf":
        sections, pages = parse_pdf(file_name, data, on_page)
    else:
        sections = parse_docx(file_name, data)
    sections = [s for s in sections if s.text.strip()]
    if not sections:
        raise EmptyDocument(file_name)
    if kind != "pdf" and on_page is not None:
        on_page(1, 1)
    characters = sum(len(s.text) for s in sections)
    log.debug("parsed %s: %d sections, %d characters", file_name, len(sections), characters)
    return ParsedDocument(file_name=file_name, kind=kind, sections=sections, pages=pages, characters=characters)


# --------------------------------------------------------------------------------------------------
# Text decoding
# --------------------------------------------------------------------------------------------------


def decode_text(file_name: str, data: bytes) -> str:
    """Decode text bytes: UTF-8 (with or without BOM), UTF-16/32 with BOM, else cp1252."""
    if data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        text = _decode_or_corrupt(file_name, data, "utf-32")
    elif data.startswith(b"\xef\xbb\xbf"):
        text = _decode_or_corrupt(file_name, data[3:], "utf-8")
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = _decode_or_corrupt(file_name, data, "utf-16")
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            if data.count(b"\x00") > len(data) // 4:
                text = _decode_utf16_without_bom(file_name, data)
            else:
                text = data.decode("cp1252", errors="replace")
    if "\x00" in text:
        raise CorruptDocument(file_name, "text")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _decode_or_corrupt(file_name: str, data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        raise CorruptDocument(file_name, "text") from None


def _decode_utf16_without_bom(file_name: str, data: bytes) -> str:
    even_zeros = data[0::2].count(0)
    odd_zeros = data[1::2].count(0)
    encoding = "utf-16-le" if odd_zeros > even_zeros else "utf-16-be"
    return _decode_or_corrupt(file_name, data, encoding)
