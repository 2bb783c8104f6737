"""Parse uploaded notes (Markdown, text, PDF, DOCX) into one normalised, structured text form.

Everything here is synchronous CPU work on bytes already in memory; the import pipeline runs
`parse_document` in a worker thread. Every problem with the input becomes an `ImportProblem`
subclass naming the file (see `bot.memory.errors`).
"""

from __future__ import annotations

import html
import io
import logging
import re
import threading
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from bot.memory.errors import (
    CorruptDocument,
    DocumentTooComplex,
    EmptyDocument,
    EncryptedDocument,
    FileTooLarge,
    NoTextLayer,
    UnsupportedFile,
)

__all__ = [
    "ALLOWED_CONTENT_TYPES",
    "DOCX_MAX_MEMBERS",
    "DOCX_MAX_UNCOMPRESSED",
    "SUPPORTED_EXTENSIONS",
    "ParsedDocument",
    "Section",
    "check_upload",
    "decode_text",
    "document_kind",
    "parse_document",
]

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]

SUPPORTED_EXTENSIONS: tuple[str, ...] = (".md", ".markdown", ".txt", ".pdf", ".docx")

_KIND_BY_EXTENSION: dict[str, str] = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".pdf": "pdf",
    ".docx": "docx",
}

# Content types Discord (or a browser) may report for each extension. `application/octet-stream` and a
# missing content type are accepted for every extension: uploads of unknown type are common.
ALLOWED_CONTENT_TYPES: dict[str, frozenset[str]] = {
    ".md": frozenset({"text/markdown", "text/x-markdown", "text/plain"}),
    ".markdown": frozenset({"text/markdown", "text/x-markdown", "text/plain"}),
    ".txt": frozenset({"text/plain"}),
    ".pdf": frozenset({"application/pdf", "application/x-pdf"}),
    ".docx": frozenset({"application/vnd.openxmlformats-officedocument.wordprocessingml.document", "application/zip"}),
}
_ANY_TYPE = frozenset({"application/octet-stream", "binary/octet-stream"})

# Zip-bomb guard for DOCX: limits checked on the archive's directory before python-docx opens it.
DOCX_MAX_MEMBERS = 2_000
DOCX_MAX_UNCOMPRESSED = 200 * 1024 * 1024
DOCX_MAX_RATIO = 200  # per member, uncompressed / compressed, for members over 1 MB


@dataclass(frozen=True)
class Section:
    """A run of text under one heading path (and, for PDFs, on one page)."""

    heading_path: tuple[str, ...]
    text: str  # paragraphs separated by blank lines, lines by "\n"
    page: int | None = None  # 1-based page for PDFs


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
    if not data or not data.strip():
        raise EmptyDocument(file_name)
    pages: int | None = None
    if kind == "markdown":
        sections = _parse_markdown(decode_text(file_name, data))
    elif kind == "text":
        sections = _parse_plain_text(decode_text(file_name, data))
    elif kind == "pdf":
        sections, pages = _parse_pdf(file_name, data, on_page)
    else:
        sections = _parse_docx(file_name, data)
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


# --------------------------------------------------------------------------------------------------
# Shared text helpers
# --------------------------------------------------------------------------------------------------

_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_CHAR_MAP = str.maketrans(
    {"\u00ad": None, "\u2010": "-", "\u2011": "-", "\ufb01": "fi", "\ufb02": "fl", "\ufeff": None, "\u200b": None}
)
_TERMINAL = tuple(".,;:!?")


class _SectionBuilder:
    """Collects paragraphs under a moving heading path."""

    def __init__(self) -> None:
        self.sections: list[Section] = []
        self.path: list[str] = []
        self.levels: list[int] = []
        self.paragraphs: list[str] = []
        self.page: int | None = None

    def heading(self, level: int, title: str) -> None:
        self.flush()
        while self.levels and self.levels[-1] >= level:
            self.levels.pop()
            self.path.pop()
        if self.path and self.path[-1] == title:  # "Title: Vald" then "Heading 1: Vald"
            return
        self.levels.append(level)
        self.path.append(title)

    def paragraph(self, text: str) -> None:
        text = text.strip()
        if text and not (self.path and text == self.path[-1]):
            self.paragraphs.append(text)

    def set_page(self, page: int | None) -> None:
        if page != self.page:
            self.flush()
            self.page = page

    def flush(self) -> None:
        if self.paragraphs:
            self.sections.append(Section(tuple(self.path), "\n\n".join(self.paragraphs), self.page))
            self.paragraphs = []


def _clean_line(line: str) -> str:
    return _SPACES.sub(" ", line.translate(_CHAR_MAP)).strip()


def _looks_like_heading(line: str) -> bool:
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


def _heading_runs(flags: list[bool], longest: int = 2) -> list[int | None]:
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


# --------------------------------------------------------------------------------------------------
# Markdown
# --------------------------------------------------------------------------------------------------

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_RULE = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_BULLET = re.compile(r"^(\s*)[*+•]\s+")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\[[^\]]*\])")
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^>\s]+)>")
_HTML_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
_ATTRS = re.compile(r"\{[:#.][^}]*\}|\{%.*?%\}")
_STARS = re.compile(r"\*{1,3}")
_UNDERSCORES = re.compile(r"(?<![A-Za-z0-9])_{1,3}|_{1,3}(?![A-Za-z0-9])")
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


def _inline_markdown(line: str) -> str:
    """Strip inline Markdown syntax, keeping the words."""
    line = _BR.sub(" ", line)
    line = _IMAGE.sub(r"\1", line)
    line = _LINK.sub(r"\1", line)
    line = _AUTOLINK.sub(r"\1", line)
    line = _HTML_TAG.sub("", line)
    line = _ATTRS.sub("", line)
    line = _BULLET.sub(r"\1- ", line)
    line = _STARS.sub("", line)
    line = _UNDERSCORES.sub("", line)
    line = line.replace("`", "")
    return _clean_line(html.unescape(line))


def _strip_front_matter(text: str) -> str:
    if text.startswith("---\n"):
        end = text.find("\n---", 4)
        if end != -1 and text[4:end].count(":") >= 1:
            newline = text.find("\n", end + 4)
            return text[newline + 1 :] if newline != -1 else ""
    return text


def _parse_markdown(text: str) -> list[Section]:
    text = _HTML_COMMENT.sub("", _strip_front_matter(text))
    builder = _SectionBuilder()
    lines = text.split("\n")
    block: list[str] = []
    fence: str | None = None

    def end_block() -> None:
        if block:
            builder.paragraph("\n".join(block))
            block.clear()

    for raw in lines:
        if fence is not None:
            if raw.strip().startswith(fence):
                fence = None
                end_block()
            else:
                cleaned = _clean_line(raw)
                if cleaned:
                    block.append(cleaned)
            continue
        fence_match = _FENCE.match(raw)
        if fence_match:
            end_block()
            fence = fence_match.group(1)
            continue
        atx = _ATX.match(raw)
        if atx:
            end_block()
            title = _inline_markdown(atx.group(2) or "")
            if title:
                builder.heading(len(atx.group(1)), title)
            continue
        setext = _SETEXT.match(raw)
        if setext and len(block) == 1 and not block[0].startswith(("-", "|", ">")):
            title = block.pop()
            builder.heading(1 if setext.group(1)[0] == "=" else 2, title)
            continue
        if not raw.strip() or _RULE.match(raw):
            end_block()
            continue
        if _TABLE_SEP.match(raw) and "-" in raw:
            continue
        line = raw.strip()
        if line.startswith(">"):
            line = line.lstrip("> ")
        if line.startswith("|") or (line.endswith("|") and "|" in line[:-1]):
            cells = [_inline_markdown(cell) for cell in line.strip("|").split("|")]
            line = " | ".join(cell for cell in cells if cell)
            if line:
                block.append(line)
            continue
        cleaned = _inline_markdown(line)
        if cleaned:
            block.append(cleaned)
    end_block()
    builder.flush()
    return builder.sections


# --------------------------------------------------------------------------------------------------
# Plain text
# --------------------------------------------------------------------------------------------------


def _parse_plain_text(text: str) -> list[Section]:
    builder = _SectionBuilder()
    paragraphs = []
    for raw in re.split(r"\n[ \t]*\n", text):
        lines = [line for line in (_clean_line(line) for line in raw.split("\n")) if line]
        if lines:
            paragraphs.append(lines)
    flags = [len(lines) == 1 and _looks_like_heading(lines[0]) for lines in paragraphs]
    if flags:
        flags[-1] = False
    for index, (lines, depth) in enumerate(zip(paragraphs, _heading_runs(flags), strict=True)):
        if depth is not None:
            builder.heading((1 if index == 0 else 2) + depth, lines[0])
        else:
            builder.paragraph("\n".join(lines))
    builder.flush()
    return builder.sections


# --------------------------------------------------------------------------------------------------
# PDF (pypdfium2)
# --------------------------------------------------------------------------------------------------

_DIGITS = re.compile(r"\d+")


_HYPHEN_RUN = re.compile(r"(?<=\w)-{2,}(?=\w)")


def _clean_pdf_line(line: str) -> str:
    line = _clean_line(line)
    return _HYPHEN_RUN.sub("-", line) if "--" in line else line


def _norm_title(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "", text.lower())


# PDFium is not thread-safe, not even across different documents: two imports parsing PDFs at once in worker
# threads crash the process. One PDF is read at a time per process; parsing the text afterwards runs freely.
_PDFIUM_LOCK = threading.Lock()


def _parse_pdf(file_name: str, data: bytes, on_page: ProgressCallback | None) -> tuple[list[Section], int]:
    if b"%PDF" not in data[:1024]:
        raise CorruptDocument(file_name, "PDF")
    with _PDFIUM_LOCK:
        pages_lines, bookmarks, total = _read_pdf(file_name, data, on_page)
    if not any(any(line for line in lines) for lines in pages_lines):
        raise NoTextLayer(file_name)
    return _pdf_sections(pages_lines, bookmarks), total


def _read_pdf(
    file_name: str, data: bytes, on_page: ProgressCallback | None
) -> tuple[list[list[str]], dict[int, list[tuple[int, str]]], int]:
    """Every page's cleaned lines and the outline; call with `_PDFIUM_LOCK` held."""
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower() or "security" in str(exc).lower():
            raise EncryptedDocument(file_name) from None
        raise CorruptDocument(file_name, "PDF") from None
    try:
        total = len(pdf)
        if total == 0:
            raise EmptyDocument(file_name)
        bookmarks = _pdf_bookmarks(pdf)
        pages_lines: list[list[str]] = []
        for index in range(total):
            try:
                raw = _pdf_page_text(pdf, index)
            except pdfium.PdfiumError:
                raise CorruptDocument(file_name, "PDF") from None
            pages_lines.append([_clean_pdf_line(line) for line in raw.replace("\r\n", "\n").split("\n")])
            if on_page is not None:
                on_page(index + 1, total)
    finally:
        pdf.close()
    return pages_lines, bookmarks, total


def _pdf_page_text(pdf: Any, index: int) -> str:
    page = pdf[index]
    try:
        textpage = page.get_textpage()
        try:
            return str(textpage.get_text_range())
        finally:
            textpage.close()
    finally:
        page.close()


def _pdf_bookmarks(pdf: object) -> dict[int, list[tuple[int, str]]]:
    """Outline entries by 0-based page: [(level, title)] in outline order."""
    by_page: dict[int, list[tuple[int, str]]] = {}
    try:
        toc = pdf.get_toc(max_depth=8)  # type: ignore[attr-defined]
        for bookmark in toc:
            dest = bookmark.get_dest()
            index = dest.get_index() if dest is not None else None
            title = _clean_line(bookmark.get_title() or "")
            if index is None or not title:
                continue
            by_page.setdefault(index, []).append((bookmark.level, title))
    except Exception:  # a malformed outline must not stop the import
        log.debug("PDF outline unreadable", exc_info=True)
        return {}
    return by_page


def _running_lines(pages_lines: list[list[str]]) -> set[str]:
    """Header/footer lines repeated (digits ignored) on at least a third of the pages."""
    if len(pages_lines) < 4:
        return set()
    counts: Counter[str] = Counter()
    for lines in pages_lines:
        candidates = {_DIGITS.sub("#", line) for line in lines[:2] + lines[-2:] if line and len(line) < 80}
        counts.update(candidates)
    threshold = max(3, len(pages_lines) // 3)
    return {line for line, count in counts.items() if count >= threshold}


def _pdf_sections(pages_lines: list[list[str]], bookmarks: dict[int, list[tuple[int, str]]]) -> list[Section]:
    builder = _SectionBuilder()
    running = _running_lines(pages_lines)
    have_outline = bool(bookmarks)
    for index, lines in enumerate(pages_lines):
        builder.set_page(index + 1)
        pending = list(bookmarks.get(index, []))
        lines = [line for line in lines if line and _DIGITS.sub("#", line) not in running]
        width = _typical_width(lines)
        paragraph: list[str] = []

        def end_paragraph(paragraph: list[str] = paragraph) -> None:
            if paragraph:
                builder.paragraph(_join_wrapped(paragraph))
                paragraph.clear()

        flags = [not have_outline and len(line) < 60 and _looks_like_heading(line) for line in lines]
        depths = _heading_runs(flags)
        for line, depth in zip(lines, depths, strict=True):
            if pending:
                matched = _match_bookmark(line, pending)
                if matched is not None:
                    end_paragraph()
                    for level, title in pending[: matched + 1]:
                        builder.heading(level + 1, title)
                    del pending[: matched + 1]
                    continue
            if depth is not None and not paragraph:
                builder.heading(1 + depth, line)
                continue
            paragraph.append(line)
            if len(line) < 0.6 * width and line.endswith((".", "!", "?", ":", "”", '"')):
                end_paragraph()
        end_paragraph()
        for level, title in pending:  # outline entries whose title isn't printed on the page
            builder.heading(level + 1, title)
    builder.flush()
    return builder.sections


def _match_bookmark(line: str, pending: list[tuple[int, str]]) -> int | None:
    key = _norm_title(line)
    if not key or len(line) > 120:
        return None
    for position, (_level, title) in enumerate(pending):
        if _norm_title(title) == key:
            return position
    return None


def _typical_width(lines: list[str]) -> float:
    lengths = sorted(len(line) for line in lines)
    if not lengths:
        return 0.0
    return float(lengths[int(len(lengths) * 0.8)])


def _join_wrapped(lines: list[str]) -> str:
    """Join hard-wrapped lines into one paragraph, re-joining words hyphenated at a line break."""
    out = lines[0]
    for line in lines[1:]:
        if out.endswith("-") and len(out) > 1 and out[-2].isalpha() and line[:1].islower():
            out = out[:-1] + line
        else:
            out = f"{out} {line}"
    return out


# --------------------------------------------------------------------------------------------------
# DOCX (python-docx)
# --------------------------------------------------------------------------------------------------

_HEADING_STYLE = re.compile(r"^heading\s*(\d)$", re.IGNORECASE)
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_CSS_NOISE = re.compile(r"^[\s;:{}]*$|^[\w-]+\s*:\s*[^.]*;\s*$")


def _check_docx_archive(file_name: str, data: bytes) -> None:
    if data.startswith(_OLE_MAGIC):  # an encrypted Office file is an OLE container, not a zip
        raise EncryptedDocument(file_name)
    if not data.startswith(b"PK"):
        raise CorruptDocument(file_name, "Word (.docx)")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise CorruptDocument(file_name, "Word (.docx)") from None
    if len(infos) > DOCX_MAX_MEMBERS:
        raise DocumentTooComplex(file_name, f"{len(infos)} parts inside")
    total = sum(info.file_size for info in infos)
    if total > DOCX_MAX_UNCOMPRESSED:
        raise DocumentTooComplex(file_name, f"{total / 1024 / 1024:.0f} MB when unpacked")
    for info in infos:
        if info.file_size > 1024 * 1024 and info.file_size > DOCX_MAX_RATIO * max(info.compress_size, 1):
            raise DocumentTooComplex(
                file_name, f"{info.filename} expands {info.file_size // max(info.compress_size, 1)}x"
            )
    if "word/document.xml" not in {info.filename for info in infos}:
        raise CorruptDocument(file_name, "Word (.docx)")


def _docx_blocks(document: object) -> Iterator[tuple[str, int, str]]:
    """(kind, level, text) in document order: kind is "heading", "para" or "table"."""
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    for item in document.iter_inner_content():  # type: ignore[attr-defined]
        if isinstance(item, Paragraph):
            text = _docx_paragraph_text(item.text)
            if not text:
                continue
            style = (item.style.name if item.style is not None else "") or ""
            match = _HEADING_STYLE.match(style)
            if style.lower() == "title":
                yield "heading", 0, text
            elif match:
                yield "heading", int(match.group(1)), text
            elif "list" in style.lower() or (item._p.pPr is not None and item._p.pPr.numPr is not None):
                yield "para", 0, f"- {text}"
            else:
                yield "para", 0, text
        elif isinstance(item, Table):
            yield "table", 0, "\n".join(_docx_table_rows(item))


def _docx_paragraph_text(text: str) -> str:
    text = html.unescape(_HTML_TAG.sub(" ", text)) if "<" in text else text
    text = _clean_line(text.replace("\n", " "))
    if _CSS_NOISE.match(text):
        return ""
    return text


def _docx_table_rows(table: object) -> Iterable[str]:
    for row in table.rows:  # type: ignore[attr-defined]
        cells: list[str] = []
        previous = None
        for cell in row.cells:
            if cell._tc is previous:  # a merged cell repeats; keep it once
                continue
            previous = cell._tc
            text = _clean_line(" ".join(p.text for p in cell.paragraphs))
            if text:
                cells.append(text)
        if cells:
            yield " | ".join(cells)


def _parse_docx(file_name: str, data: bytes) -> list[Section]:
    _check_docx_archive(file_name, data)
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(io.BytesIO(data))
        blocks = list(_docx_blocks(document))
    except (PackageNotFoundError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        log.debug("unreadable DOCX %s: %s", file_name, exc)
        raise CorruptDocument(file_name, "Word (.docx)") from None
    except Exception as exc:  # lxml errors and friends: still the user's file, not our bug
        if type(exc).__module__.startswith(("lxml", "docx")):
            raise CorruptDocument(file_name, "Word (.docx)") from None
        raise
    styled_headings = sum(1 for kind, _, _ in blocks if kind == "heading")
    infer_headings = styled_headings < 3
    flags = [
        infer_headings and kind == "para" and len(text) < 60 and _looks_like_heading(text) for kind, _, text in blocks
    ]
    builder = _SectionBuilder()
    for (kind, level, text), depth in zip(blocks, _heading_runs(flags), strict=True):
        if kind == "heading":
            builder.heading(level + 1, text)
        elif depth is not None:
            builder.heading(8 + depth, text)
        else:
            builder.paragraph(text)
    builder.flush()
    return builder.sections
