"""Chunking: heading-aware, size-bounded, overlapping, deterministic."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from bot.memory.chunking import DEFAULT_MAX_CHARS, Chunk, chunk_document, document_id_for
from bot.memory.parsing import ParsedDocument, Section, parse_document


def _doc(*sections: Section) -> ParsedDocument:
    return ParsedDocument("notes.md", "markdown", list(sections), None, sum(len(s.text) for s in sections))


@pytest.fixture(scope="module")
def fate_chunks(test_data: Path) -> list[Chunk]:
    data = (test_data / "fate/fate-core-SRD.docx").read_bytes()
    return chunk_document(parse_document("fate-core-SRD.docx", data), document_id_for(data))


def test_document_id_is_a_content_hash() -> None:
    assert document_id_for(b"abc") == document_id_for(b"abc")
    assert document_id_for(b"abc") != document_id_for(b"abd")
    assert len(document_id_for(b"abc")) == 32


def test_chunk_ids_are_deterministic(test_data: Path) -> None:
    data = (test_data / "cairn/wardens-guide/vald.md").read_bytes()
    first = chunk_document(parse_document("vald.md", data), document_id_for(data))
    second = chunk_document(parse_document("vald.md", data), document_id_for(data))
    assert first == second
    assert [c.chunk_id for c in first] == [f"{document_id_for(data)}:{i:05d}" for i in range(len(first))]


def test_docx_without_heading_styles_chunks_within_bounds(fate_chunks: list[Chunk]) -> None:
    assert len(fate_chunks) > 400
    assert max(len(c.text) for c in fate_chunks) <= DEFAULT_MAX_CHARS
    assert sum(len(c.text) for c in fate_chunks) / len(fate_chunks) > DEFAULT_MAX_CHARS / 3


def test_chunks_stay_within_the_embedder_window(fate_chunks: list[Chunk]) -> None:
    from tokenizers import Tokenizer

    from bot.memory.embedders import TOKENIZER_FILE

    tokenizer = Tokenizer.from_file(str(TOKENIZER_FILE))
    tokenizer.no_truncation()
    lengths = [len(e.ids) for e in tokenizer.encode_batch([c.embed_text for c in fate_chunks])]
    assert max(lengths) <= 256


def test_chunks_never_cross_a_heading() -> None:
    doc = _doc(Section(("A",), "alpha " * 50, None), Section(("A", "B"), "beta " * 50, None))
    chunks = chunk_document(doc, "d")
    assert [(c.heading_path, set(c.text.split())) for c in chunks] == [(("A",), {"alpha"}), (("A", "B"), {"beta"})]


def test_long_section_splits_at_sentences_with_overlap() -> None:
    sentences = [f"Sentence number {i} tells of the Tideborn and their river god." for i in range(40)]
    doc = _doc(Section(("Vald", "Tideborn"), " ".join(sentences), None))
    chunks = chunk_document(doc, "d", max_chars=300, overlap_chars=80)
    assert len(chunks) > 5
    assert all(len(c.text) <= 300 for c in chunks)
    for previous, current in itertools.pairwise(chunks):
        assert current.text.split(". ")[0].rstrip(".") + "." in previous.text  # starts with the previous tail
        assert current.text.endswith(".")
    assert all(s in " ".join(c.text for c in chunks) for s in sentences)


def test_paragraphs_are_packed_together() -> None:
    doc = _doc(Section(("H",), "\n\n".join(f"Short paragraph {i}." for i in range(10)), None))
    chunks = chunk_document(doc, "d", max_chars=800)
    assert len(chunks) == 1
    assert chunks[0].text.count("\n\n") == 9


def test_an_unbroken_run_of_characters_is_still_bounded() -> None:
    doc = _doc(Section((), "x" * 2500, None))
    chunks = chunk_document(doc, "d", max_chars=500, overlap_chars=0)
    assert [len(c.text) for c in chunks] == [500] * 5


def test_pdf_chunks_carry_their_page(test_data: Path) -> None:
    data = (test_data / "cairn/derived/vald.pdf").read_bytes()
    chunks = chunk_document(parse_document("vald.pdf", data), document_id_for(data))
    tideborn = next(c for c in chunks if "worships Rivulus" in c.text)
    assert tideborn.page == 2
    assert tideborn.heading == "Vald › Belief › Tideborn"
    pages = {c.page for c in chunks}
    assert pages <= set(range(1, 14))
    assert len(pages) >= 10


def test_embed_text_starts_with_the_breadcrumb() -> None:
    chunk = Chunk("d:00000", "d", 0, "Body.", ("Vald", "Belief"), None)
    assert chunk.heading == "Vald › Belief"
    assert chunk.embed_text == "Vald › Belief\nBody."
    assert Chunk("d:00001", "d", 1, "Body.", (), None).embed_text == "Body."


def test_max_chars_too_small_is_refused() -> None:
    with pytest.raises(ValueError, match="max_chars"):
        chunk_document(_doc(Section((), "text", None)), "d", max_chars=10)
