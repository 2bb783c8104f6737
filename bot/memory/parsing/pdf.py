"""PDF notes as sections, read with pypdfium2 (one PDF at a time per process)."""

from __future__ import annotations

import logging
import re
import threading
import zlib
from collections import Counter
from typing import Any

from bot.memory.errors import CorruptDocument, EmptyDocument, EncryptedDocument, NoTextLayer
from bot.memory.parsing.limits import PDF_MAX_CHARACTERS, PDF_MAX_PAGES, PDF_MAX_STREAM, TooLargeUnpacked
from bot.memory.parsing.sections import (
    ProgressCallback,
    Section,
    SectionBuilder,
    clean_line,
    heading_runs,
    looks_like_heading,
)
from bot.sizes import format_bytes

__all__ = ["parse_pdf"]

log = logging.getLogger(__name__)

_DIGITS = re.compile(r"\d+")


_HYPHEN_RUN = re.compile(r"(?<=\w)-{2,}(?=\w)")


def _clean_pdf_line(line: str) -> str:
    line = clean_line(line)
    return _HYPHEN_RUN.sub("-", line) if "--" in line else line


def _norm_title(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "", text.lower())


# PDFium is not thread-safe, not even across different documents: two imports parsing PDFs at once in worker
# threads crash the process. One PDF is read at a time per process; parsing the text afterwards runs freely.
_PDFIUM_LOCK = threading.Lock()


def parse_pdf(file_name: str, data: bytes, on_page: ProgressCallback | None) -> tuple[list[Section], int]:
    """Sections of a PDF (headings from its outline or from heading-like lines) and its page count."""
    if b"%PDF" not in data[:1024]:
        raise CorruptDocument(file_name, "PDF")
    _check_streams(file_name, data)
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
        if total > PDF_MAX_PAGES:
            raise TooLargeUnpacked(file_name, f"{total:,} pages, over the {PDF_MAX_PAGES:,}-page limit")
        characters = 0
        bookmarks = _pdf_bookmarks(pdf)
        pages_lines: list[list[str]] = []
        for index in range(total):
            try:
                raw = _pdf_page_text(pdf, index)
            except pdfium.PdfiumError:
                raise CorruptDocument(file_name, "PDF") from None
            characters += len(raw)
            if characters > PDF_MAX_CHARACTERS:
                raise TooLargeUnpacked(file_name, f"over the limit of {PDF_MAX_CHARACTERS:,} characters of text")
            pages_lines.append([_clean_pdf_line(line) for line in raw.replace("\r\n", "\n").split("\n")])
            if on_page is not None:
                on_page(index + 1, total)
    finally:
        pdf.close()
    return pages_lines, bookmarks, total


_STREAM = re.compile(rb"stream\r?\n")
_DICT_WINDOW = 4096  # how far before `stream` its dictionary is looked for


def _check_streams(file_name: str, data: bytes) -> None:
    """Unpack every Flate-compressed stream that is not an image, in bounded steps, and refuse the file when one
    unpacks to more than `PDF_MAX_STREAM` (PDFium would unpack a page's content stream whole, in memory)."""
    for match in _STREAM.finditer(data):
        if data[max(0, match.start() - 3) : match.start()] == b"end":
            continue
        start = match.end()
        head = data[max(0, match.start() - _DICT_WINDOW) : match.start()]
        head = head[head.rfind(b" obj") + 1 :] if b" obj" in head else head
        if b"/FlateDecode" not in head or b"/Image" in head:
            continue
        size = _inflated_size(data, start, PDF_MAX_STREAM + 1)
        if size > PDF_MAX_STREAM:
            raise TooLargeUnpacked(file_name, f"a page's content is over the {format_bytes(PDF_MAX_STREAM)} limit")


def _inflated_size(data: bytes, start: int, cap: int) -> int:
    """Bytes the zlib stream at `start` unpacks to, counting at most `cap` (0 when it is not valid zlib)."""
    inflater = zlib.decompressobj()
    size = 0
    position = start
    try:
        while position < len(data) and not inflater.eof and size < cap:
            pending = inflater.unconsumed_tail or data[position : position + 65536]
            if not inflater.unconsumed_tail:
                position += 65536
            size += len(inflater.decompress(pending, 1024 * 1024))
    except zlib.error:
        return size
    return size


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
            title = clean_line(bookmark.get_title() or "")
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
    builder = SectionBuilder()
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

        flags = [not have_outline and len(line) < 60 and looks_like_heading(line) for line in lines]
        depths = heading_runs(flags)
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
