"""Hostile uploads, generated (used by the parsing tests and `python -m bench hostile`): the worst case of each
parsing pattern, a DOCX of tiny paragraphs that passes the zip guard, and PDFs with a content-stream bomb or too
many pages."""

from __future__ import annotations

import io
import random
import zipfile
import zlib

__all__ = ["WORST_LINES", "docx_of_paragraphs", "pdf_of_pages", "slow_notes"]

N = 100_000

# The worst case of each pattern the parsers run on untrusted text, about 100 KB each (issue 15 found the first
# six super-linear: 32 KB of the ATX or table-separator case took 43-51 s).
WORST_LINES: dict[str, str] = {
    "atx": "# a" + " " * N + "#x",
    "table separator": " " * N + "x",
    "table separator pipe": "|" + " " * N + "x",
    "table separator cells": "| --" + " " * N + "|x",
    "html comment": "<!--" * (N // 4),
    "link": "[" * N,
    "link target": "[a](" * (N // 4),
    "attrs": "{:" * (N // 2),
    "liquid tag": "{%" * (N // 2),
    "html tag": "<a" * (N // 2),
    "image": "![" * (N // 2),
    "image target": "![a](" * (N // 5),
    "autolink": "<http:" * (N // 6),
    "thematic break": "-" + " " * N + "x",
    "setext": "x\n" + "=" * N + "x",
    "line break tag": "<br" + " " * N,
    "bullet": "*" + " " * N,
    "sentence end": "." + " " * N + "x",
    "mixed openings": "[![<a{:{%<!--" * (N // 13 + 1),
    # Obsidian's additions (bot/memory/parsing/obsidian.py)
    "wiki link": "[[" * (N // 2),
    "wiki link target": "[[a|" * (N // 4),
    "wiki embed": "![[" * (N // 3),
    "highlight": "==a" * (N // 3),
    "block id": " ^" + "a" * N + "x",
    "block ids": " ^a" * (N // 3),
    "comments": "%% a %%" * (N // 7),
    "quote depth": "> " * (N // 2) + "x",
    "callout": "> [!" * (N // 4),
    "callout title": "> [!secret]" + " " * N + "x",
    "secret callouts": "> [!secret] a\n" * (N // 14),
}

_WORDS = ["tavern", "harbor", "eel", "map", "guard", "salt", "rope", "lamp"]
_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def slow_notes(megabytes: int) -> bytes:
    """Plain, linear Markdown that still takes seconds to read: about 2.7 s for 19 MB on python-svc."""
    paragraph = b"The Salty Eel is a tavern on the docks where Mirela Vos sells maps. " * 5
    return b"# Harbor\n\n" + b"\n\n".join([paragraph] * (megabytes * 1024 * 1024 // len(paragraph)))


def docx_of_paragraphs(megabytes: float, *, block: int = 4096, seed: int = 1) -> bytes:
    """A DOCX whose document.xml is `megabytes` of tiny paragraphs: a block of `block` varied paragraphs repeated
    (about 720 give the issue's bomb: 193 MB in 2 MB, a ratio under the zip guard's 200)."""
    rnd = random.Random(seed)
    paragraphs = "".join(
        f"<w:p><w:r><w:t>{rnd.choice(_WORDS)} {rnd.randrange(100_000)}</w:t></w:r></w:p>" for _ in range(block)
    )
    repeats = max(1, int(megabytes * 1024 * 1024) // len(paragraphs))
    xml = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="{_NS}"><w:body>'
        + paragraphs * repeats
        + "</w:body></w:document>"
    ).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
        )
        archive.writestr(
            "_rels/.rels",
            '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Target="word/document.xml" Type="http://schemas.openxmlformats.org/'
            'officeDocument/2006/relationships/officeDocument"/></Relationships>',
        )
        archive.writestr("word/document.xml", xml)
    return buffer.getvalue()


def pdf_of_pages(texts: list[str], *, padding: int = 0) -> bytes:
    """A PDF with one page per text (Helvetica); the first page's Flate content stream is padded with `padding`
    spaces (a stream bomb: 600 MB of spaces pack into about 600 KB)."""
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    kids: list[int] = []
    space = b" " * (1 << 20)
    for index, text in enumerate(texts):
        packer = zlib.compressobj(9)
        body = packer.compress(b"BT /F1 12 Tf 72 720 Td (" + text.encode("latin-1") + b") Tj ET\n")
        left = padding if index == 0 else 0
        while left > 0:
            body += packer.compress(space[: min(left, len(space))])
            left -= len(space)
        body += packer.flush()
        objects.append(b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(body) + body + b"\nendstream")
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
            b"/Contents %d 0 R >>" % len(objects)
        )
        kids.append(len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(b"%d 0 R" % k for k in kids), len(kids))
    out = bytearray(b"%PDF-1.7\n")
    offsets: list[int] = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)
