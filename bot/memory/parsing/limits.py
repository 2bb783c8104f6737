"""What a file may take to read, and the errors naming the limit it ran into.

The worker process's time and memory limits (`pool.py`) stop anything; the format limits here refuse a bomb
early, while streaming, before it has cost that much: a DOCX by its XML's size and element count, a PDF by its
pages, its text and the unpacked size of each content stream.
"""

from __future__ import annotations

from bot.memory.errors import ImportProblem

__all__ = [
    "DOCX_MAX_XML",
    "DOCX_MAX_XML_TAGS",
    "PDF_MAX_CHARACTERS",
    "PDF_MAX_PAGES",
    "PDF_MAX_STREAM",
    "TooLargeUnpacked",
    "TookTooLong",
]

DOCX_MAX_XML = 64 * 1024 * 1024  # unpacked XML of all parts (the Fate Core SRD has 1 MB)
DOCX_MAX_XML_TAGS = 2_000_000  # tags in word/document.xml, counted while streaming it (Fate Core SRD: 45,000)
PDF_MAX_PAGES = 2_000
PDF_MAX_CHARACTERS = 10_000_000  # text extracted from all pages
PDF_MAX_STREAM = 32 * 1024 * 1024  # one unpacked content stream (a page's text and drawing)


class TookTooLong(ImportProblem):
    """Parsing a file ran over the wall-clock limit; the worker was killed."""

    def __init__(self, file_name: str, seconds: float) -> None:
        super().__init__(
            file_name,
            f"**{file_name}** took too long to read (over the {seconds:g}-second limit), so I stopped. "
            "Split it into smaller files, or export it as plain text, and import those.",
        )
        self.seconds = seconds


class TooLargeUnpacked(ImportProblem):
    """A file that would take more than a limit once unpacked (memory, XML, pages, text or a content stream)."""

    def __init__(self, file_name: str, detail: str) -> None:
        super().__init__(
            file_name,
            f"**{file_name}** is too large once unpacked ({detail}), so I stopped reading it. "
            "Split it into smaller files, or export it as plain text, and import those.",
        )
        self.detail = detail
