"""Parsing uploads: every format of the Vald notes, and a friendly error for each kind of bad input."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pypdf
import pytest

from bot.errors import UserFacingError
from bot.memory.errors import (
    CorruptDocument,
    DocumentTooComplex,
    EmptyDocument,
    EncryptedDocument,
    FileTooLarge,
    NoTextLayer,
    UnsupportedFile,
)
from bot.memory.parsing import DOCX_MAX_MEMBERS, check_upload, decode_text, parse_document
from bot.memory.parsing import pdf as pdf_reader
from bot.memory.parsing.limits import PDF_MAX_PAGES, TooLargeUnpacked
from tests.memory.hostile_files import docx_of_paragraphs, pdf_of_pages

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
KEY_SENTENCE = "they can be identified by tattoos of a white bird on their wrists, necks, or backs"


_STRAIGHT: dict[str, str | int | None] = {"’": "'", "‘": "'", "“": '"', "”": '"'}
_QUOTES = str.maketrans(_STRAIGHT)


def _flat(text: str) -> str:
    text = text.lower().translate(_QUOTES)
    return re.sub(r"\s+", " ", text)


@pytest.fixture(scope="module")
def vald(test_data: Path) -> dict[str, bytes]:
    return {
        "vald.md": (test_data / "cairn/wardens-guide/vald.md").read_bytes(),
        "vald.txt": (test_data / "cairn/derived/vald.txt").read_bytes(),
        "vald.pdf": (test_data / "cairn/derived/vald.pdf").read_bytes(),
        "vald.docx": (test_data / "cairn/derived/vald.docx").read_bytes(),
    }


@pytest.mark.parametrize("name", ["vald.md", "vald.txt", "vald.pdf", "vald.docx"])
def test_every_format_yields_the_same_key_sentence(vald: dict[str, bytes], name: str) -> None:
    doc = parse_document(name, vald[name])
    assert KEY_SENTENCE in _flat(doc.text)
    assert doc.kind == {"md": "markdown", "txt": "text", "pdf": "pdf", "docx": "docx"}[name.rsplit(".", 1)[1]]


@pytest.mark.parametrize("name", ["vald.md", "vald.txt", "vald.pdf", "vald.docx"])
def test_every_format_yields_the_same_amount_of_text(vald: dict[str, bytes], name: str) -> None:
    reference = parse_document("vald.md", vald["vald.md"]).characters
    assert abs(parse_document(name, vald[name]).characters - reference) < 0.05 * reference


@pytest.mark.parametrize("name", ["vald.md", "vald.pdf", "vald.docx"])
def test_headings_become_the_heading_path(vald: dict[str, bytes], name: str) -> None:
    doc = parse_document(name, vald[name])
    section = next(s for s in doc.sections if "worships rivulus" in _flat(s.text))
    assert section.heading_path[-3:] == ("Vald", "Belief", "Tideborn")


def test_plain_text_heading_lines_are_recognised(vald: dict[str, bytes]) -> None:
    doc = parse_document("vald.txt", vald["vald.txt"])
    section = next(s for s in doc.sections if "worships rivulus" in _flat(s.text))
    assert section.heading_path[-1] == "Tideborn"
    assert all(line != "Tideborn" for s in doc.sections for line in s.text.split("\n"))


def test_a_list_of_short_lines_in_text_stays_text() -> None:
    doc = parse_document("cast.txt", b"Cast\n\nMirela Vos\n\nOld Brannoc\n\nTobin Marsh\n\nNotes about them.\n")
    assert "Mirela Vos" in doc.text
    assert "Tobin Marsh" in doc.text
    assert all(not s.heading_path for s in doc.sections)


def test_markdown_syntax_is_stripped_and_front_matter_dropped(vald: dict[str, bytes]) -> None:
    doc = parse_document("vald.md", vald["vald.md"])
    assert "layout: default" not in doc.text
    assert "worships Rivulus, a petty god" in doc.text  # was "_Rivulus_"
    assert "**" not in doc.text


def test_markdown_setext_headings() -> None:
    data = b"Realm\n=====\n\nIntro text.\n\nTowns\n-----\n\nMany towns here.\n"
    doc = parse_document("notes.markdown", data)
    assert [(s.heading_path, s.text) for s in doc.sections] == [
        (("Realm",), "Intro text."),
        (("Realm", "Towns"), "Many towns here."),
    ]


def test_pdf_keeps_page_numbers(vald: dict[str, bytes]) -> None:
    doc = parse_document("vald.pdf", vald["vald.pdf"])
    assert doc.pages == 13
    pages = {s.page for s in doc.sections}
    assert pages <= set(range(1, 14))
    assert len(pages) == 13
    assert next(s.page for s in doc.sections if "worships rivulus" in _flat(s.text)) == 2
    assert next(s.page for s in doc.sections if "chamberlain" in _flat(s.text)) == 7


def test_pdf_reports_progress_per_page(vald: dict[str, bytes]) -> None:
    seen: list[tuple[int, int]] = []
    parse_document("vald.pdf", vald["vald.pdf"], on_page=lambda done, total: seen.append((done, total)))
    assert seen == [(n, 13) for n in range(1, 14)]


def test_pdf_text_is_repaired(test_data: Path) -> None:
    # Pages 101-112 of the publisher's SRD 5.1 PDF: tab-separated words and U+2010/U+00AD hyphens in the text layer.
    data = (test_data / "srd51/srd51-pages-101-112.pdf").read_bytes()
    raw = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)
    for noise in ("\t", "\u00ad", "\u2010"):  # the excerpt still has the noise to repair
        assert noise in raw
    doc = parse_document("srd-part.pdf", data)
    assert doc.pages == 12
    text = doc.text
    assert "\t" not in text
    assert "\u00ad" not in text
    assert "\u2010" not in text
    assert "\u2011" not in text
    assert "  " not in text
    assert not re.search(r"[a-z]- [a-z]", text)  # no word left split by a line-break hyphen


def test_docx_tables_become_pipe_joined_rows(vald: dict[str, bytes]) -> None:
    doc = parse_document("vald.docx", vald["vald.docx"])
    assert any(" | " in line for s in doc.sections for line in s.text.split("\n"))


def test_docx_without_heading_styles_gets_inferred_headings(test_data: Path) -> None:
    doc = parse_document("fate-core-SRD.docx", (test_data / "fate/fate-core-SRD.docx").read_bytes())
    paths = {s.heading_path for s in doc.sections}
    assert len(paths) > 50
    assert "<span" not in doc.text  # raw HTML noise removed


# --------------------------------------------------------------------------------------------------
# encodings
# --------------------------------------------------------------------------------------------------


def test_cp1252_text_decodes() -> None:
    original = "Café “Rivulus” – the naïve priest’s œuvre"
    assert decode_text("notes.txt", original.encode("cp1252")) == original


def test_utf16_with_bom_decodes() -> None:
    original = "Tideborn\n\nA sect that worships Rivulus."
    doc = parse_document("notes.txt", original.encode("utf-16"))
    assert doc.sections[0].text == "A sect that worships Rivulus."
    assert doc.sections[0].heading_path == ("Tideborn",)


def test_utf8_bom_is_dropped() -> None:
    assert decode_text("notes.md", b"\xef\xbb\xbf# Vald\n") == "# Vald\n"


def test_binary_named_txt_is_refused() -> None:
    with pytest.raises(CorruptDocument, match=r"data\.txt"):
        parse_document("data.txt", b"\x00\x01\x02\x03\xff\xfe" * 10 + b"\x00" * 40)


# --------------------------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------------------------


def test_truncated_pdf_is_corrupt(vald: dict[str, bytes]) -> None:
    with pytest.raises(CorruptDocument, match=r"vald\.pdf.*damaged"):
        parse_document("vald.pdf", vald["vald.pdf"][: len(vald["vald.pdf"]) // 2])


def test_pdf_without_pdf_header_is_corrupt() -> None:
    with pytest.raises(CorruptDocument):
        parse_document("notes.pdf", b"this is not a PDF at all")


def test_encrypted_pdf_is_refused(vald: dict[str, bytes]) -> None:
    writer = pypdf.PdfWriter()
    writer.append(io.BytesIO(vald["vald.pdf"]))
    writer.encrypt("hunter2")
    buffer = io.BytesIO()
    writer.write(buffer)
    with pytest.raises(EncryptedDocument, match="password"):
        parse_document("secret.pdf", buffer.getvalue())


def test_pdf_without_text_layer_is_refused() -> None:
    writer = pypdf.PdfWriter()
    writer.add_blank_page(612, 792)
    writer.add_blank_page(612, 792)
    buffer = io.BytesIO()
    writer.write(buffer)
    with pytest.raises(NoTextLayer, match=r"scan\.pdf.*no text layer"):
        parse_document("scan.pdf", buffer.getvalue())


@pytest.mark.parametrize("name", ["empty.md", "empty.txt", "empty.pdf", "empty.docx"])
def test_empty_file_is_refused(name: str) -> None:
    with pytest.raises(EmptyDocument, match=name.replace(".", r"\.")):
        parse_document(name, b"")


def test_whitespace_only_text_is_empty() -> None:
    with pytest.raises(EmptyDocument):
        parse_document("blank.md", b"\n\n   \n---\n")


def test_wrong_extension_is_refused() -> None:
    with pytest.raises(UnsupportedFile, match=r"map\.png"):
        parse_document("map.png", b"\x89PNG....")


def test_docx_that_is_not_a_zip_is_corrupt() -> None:
    with pytest.raises(CorruptDocument, match=r"Word"):
        parse_document("notes.docx", b"just some text pretending")


def test_zip_without_document_is_corrupt() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(CorruptDocument):
        parse_document("notes.docx", buffer.getvalue())


def test_zip_bomb_docx_is_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", b"<w:document/>")
        archive.writestr("word/media/filler.bin", b"\0" * (8 * 1024 * 1024))  # ~8 KB compressed
    data = buffer.getvalue()
    assert len(data) < 64 * 1024
    with pytest.raises(DocumentTooComplex, match=r"bomb\.docx.*too large or complex"):
        parse_document("bomb.docx", data)


def test_docx_with_too_many_parts_is_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", b"<w:document/>")
        for index in range(DOCX_MAX_MEMBERS + 1):
            archive.writestr(f"word/p{index}.xml", b"")
    with pytest.raises(DocumentTooComplex, match="parts"):
        parse_document("many.docx", buffer.getvalue())


def test_encrypted_docx_is_refused() -> None:
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512  # password-protected Office files are OLE containers
    with pytest.raises(EncryptedDocument):
        parse_document("locked.docx", ole)


def test_errors_are_user_facing_and_name_the_file() -> None:
    with pytest.raises(UserFacingError) as info:
        parse_document("campaign notes.pdf", b"%PDF-1.7\n garbage")
    assert "campaign notes.pdf" in info.value.message


# --------------------------------------------------------------------------------------------------
# upload checks (before download)
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("vald.md", "text/markdown; charset=utf-8"),
        ("vald.md", "text/plain"),
        ("vald.txt", "text/plain; charset=utf-8"),
        ("vald.pdf", "application/pdf"),
        ("Vald.PDF", None),
        ("vald.docx", DOCX_TYPE),
        ("vald.docx", "application/octet-stream"),
    ],
)
def test_check_upload_accepts_supported_files(name: str, content_type: str | None) -> None:
    check_upload(name, content_type, 1000, 10_000)


@pytest.mark.parametrize(("name", "content_type"), [("map.png", "image/png"), ("notes", None), ("x.doc", None)])
def test_check_upload_refuses_unsupported_types(name: str, content_type: str | None) -> None:
    with pytest.raises(UnsupportedFile, match="Markdown"):
        check_upload(name, content_type, 1000, 10_000)


def test_check_upload_refuses_mismatched_content_type() -> None:
    with pytest.raises(UnsupportedFile, match="image/png"):
        check_upload("vald.pdf", "image/png", 1000, 10_000)


def test_check_upload_refuses_oversized_files() -> None:
    with pytest.raises(FileTooLarge, match=r"big\.pdf\*\* is 2\.0 MB, over the 1\.0 MB limit"):
        check_upload("big.pdf", "application/pdf", 2 * 1024 * 1024, 1024 * 1024)


def test_check_upload_refuses_empty_files() -> None:
    with pytest.raises(EmptyDocument):
        check_upload("empty.md", "text/markdown", 0, 10_000)


def test_pdfs_parsed_in_several_threads_at_once_do_not_crash_the_process(test_data: Path) -> None:
    # PDFium is not thread-safe; two guilds importing PDFs at once used to segfault the whole bot. A crash
    # would kill pytest too, so the threads run in a child process.
    script = textwrap.dedent(
        f"""
        import concurrent.futures, pathlib
        from bot.memory.parsing import parse_document
        data = pathlib.Path({str(test_data / "cairn" / "derived" / "vald.pdf")!r}).read_bytes()
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            docs = list(pool.map(lambda _: parse_document("vald.pdf", data), range(8)))
        assert len({{d.characters for d in docs}}) == 1
        print("ok")
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "ok"


# --------------------------------------------------------------------------------------------------
# Markdown syntax read by the linear patterns
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "path"),
    [
        ("# The Salty Eel #", ("The Salty Eel",)),
        ("## Notes on C#", ("Notes on C#",)),
        ("   ### Harbor ###   ", ("Harbor",)),
        ("#\tTabbed", ("Tabbed",)),
    ],
)
def test_atx_headings_drop_their_closing_hashes(line: str, path: tuple[str, ...]) -> None:
    doc = parse_document("notes.md", f"{line}\n\nA tavern.\n".encode())
    assert doc.sections[0].heading_path == path


def test_links_images_comments_and_tables_keep_only_their_words() -> None:
    data = (
        "See [Mirela](https://en.wikipedia.org/wiki/Vos_(family)) and ![the map](map.png), [Brannoc][ref].\n"
        "<!-- hidden\nnote -->Visible <http://example.com> {: .class} {% raw %}\n\n"
        "| Name | Role |\n| :-- | --: |\n| Tobin | smith |\n\n---\n\nEnd.\n"
    )
    text = parse_document("notes.md", data.encode()).text
    assert "See Mirela and the map, Brannoc." in text
    assert "Visible http://example.com" in text
    assert "hidden" not in text
    assert "{" not in text
    assert "Name | Role\nTobin | smith" in text
    assert ":--" not in text
    assert "---" not in text


# --------------------------------------------------------------------------------------------------
# unpacked-size limits (refused early, naming the file and the limit)
# --------------------------------------------------------------------------------------------------


def test_docx_of_tiny_paragraphs_that_passes_the_zip_guard_is_refused_by_its_xml_size() -> None:
    data = docx_of_paragraphs(193, block=720)  # issue 15: 193 MB in under 2 MB, ratio about 114
    assert len(data) < 2 * 1024 * 1024
    with pytest.raises(TooLargeUnpacked, match=r"\*\*tiny\.docx\*\* is too large once unpacked \(.*over the 64\.0 MB"):
        parse_document("tiny.docx", data)


def test_docx_with_too_many_elements_is_refused_while_streaming() -> None:
    data = docx_of_paragraphs(40)  # under the XML size limit, over the element limit
    with pytest.raises(TooLargeUnpacked, match=r"\*\*many\.docx\*\*.*limit of 2,000,000 XML elements"):
        parse_document("many.docx", data)


def test_docx_of_paragraphs_under_the_limits_is_read() -> None:
    assert parse_document("fine.docx", docx_of_paragraphs(0.5)).characters > 10_000


def test_pdf_content_stream_bomb_is_refused_before_pdfium_unpacks_it() -> None:
    data = pdf_of_pages(["The Salty Eel is a tavern on the docks."], padding=64 * 1024 * 1024)
    assert len(data) < 128 * 1024
    with pytest.raises(TooLargeUnpacked, match=r"\*\*bomb\.pdf\*\*.*page's content is over the 32\.0 MB limit"):
        parse_document("bomb.pdf", data)


def test_pdf_with_small_content_streams_is_read() -> None:
    doc = parse_document("fine.pdf", pdf_of_pages(["The Salty Eel is a tavern on the docks."] * 3, padding=1024))
    assert doc.pages == 3
    assert "Salty Eel" in doc.text


def test_pdf_over_the_page_limit_is_refused() -> None:
    data = pdf_of_pages(["The Salty Eel is a tavern on the docks."] * (PDF_MAX_PAGES + 1))
    with pytest.raises(TooLargeUnpacked, match=r"\*\*long\.pdf\*\*.*2,001 pages, over the 2,000-page limit"):
        parse_document("long.pdf", data)


def test_pdf_over_the_text_limit_is_refused_while_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pdf_reader, "PDF_MAX_CHARACTERS", 100)  # 10 million characters need a large file
    data = pdf_of_pages(["The Salty Eel is a tavern on the docks where Mirela Vos sells maps."] * 3)
    with pytest.raises(TooLargeUnpacked, match=r"\*\*wordy\.pdf\*\*.*limit of 100 characters of text"):
        parse_document("wordy.pdf", data)
