"""DOCX notes as sections, read with python-docx after a zip-bomb check of the archive."""

from __future__ import annotations

import html
import io
import logging
import re
import zipfile
import zlib
from collections.abc import Iterable, Iterator

from bot.memory.errors import CorruptDocument, DocumentTooComplex, EncryptedDocument
from bot.memory.parsing.archive import ZIP_MAX_MEMBERS, ZIP_MAX_RATIO, ZIP_MAX_UNCOMPRESSED, zip_problem
from bot.memory.parsing.limits import DOCX_MAX_XML, DOCX_MAX_XML_TAGS, TooLargeUnpacked
from bot.memory.parsing.sections import HTML_TAG, Section, SectionBuilder, clean_line, heading_runs, looks_like_heading
from bot.sizes import format_bytes

__all__ = ["DOCX_MAX_MEMBERS", "DOCX_MAX_RATIO", "DOCX_MAX_UNCOMPRESSED", "parse_docx"]

log = logging.getLogger(__name__)

# Zip-bomb guard for DOCX: the limits of every zip (archive.py), checked before python-docx opens it.
DOCX_MAX_MEMBERS = ZIP_MAX_MEMBERS
DOCX_MAX_UNCOMPRESSED = ZIP_MAX_UNCOMPRESSED
DOCX_MAX_RATIO = ZIP_MAX_RATIO


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
    problem = zip_problem(infos, members="parts")
    if problem is not None:
        raise DocumentTooComplex(file_name, problem)
    if "word/document.xml" not in {info.filename for info in infos}:
        raise CorruptDocument(file_name, "Word (.docx)")
    # zipfile enforces each member's directory size while reading it, so these sizes can be trusted
    xml = sum(info.file_size for info in infos if info.filename.endswith((".xml", ".rels")))
    if xml > DOCX_MAX_XML:
        raise TooLargeUnpacked(file_name, f"{format_bytes(xml)} of XML, over the {format_bytes(DOCX_MAX_XML)} limit")
    _count_tags(file_name, data)


def _count_tags(file_name: str, data: bytes) -> None:
    """Stream word/document.xml and refuse it once it has more than `DOCX_MAX_XML_TAGS` tags."""
    tags = 0
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive, archive.open("word/document.xml") as stream:
            while block := stream.read(1024 * 1024):
                tags += block.count(b"<")
                if tags > DOCX_MAX_XML_TAGS:
                    raise TooLargeUnpacked(file_name, f"over the limit of {DOCX_MAX_XML_TAGS:,} XML elements")
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, zlib.error):
        raise CorruptDocument(file_name, "Word (.docx)") from None


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
    text = html.unescape(HTML_TAG.sub(" ", text)) if "<" in text else text
    text = clean_line(text.replace("\n", " "))
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
            text = clean_line(" ".join(p.text for p in cell.paragraphs))
            if text:
                cells.append(text)
        if cells:
            yield " | ".join(cells)


def parse_docx(file_name: str, data: bytes) -> list[Section]:
    """Sections of a DOCX (headings from `Title` and `Heading N` styles; tables as pipe-joined rows)."""
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
        infer_headings and kind == "para" and len(text) < 60 and looks_like_heading(text) for kind, _, text in blocks
    ]
    builder = SectionBuilder()
    for (kind, level, text), depth in zip(blocks, heading_runs(flags), strict=True):
        if kind == "heading":
            builder.heading(level + 1, text)
        elif depth is not None:
            builder.heading(8 + depth, text)
        else:
            builder.paragraph(text)
    builder.flush()
    return builder.sections
