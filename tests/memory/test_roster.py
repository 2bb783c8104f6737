"""Roster: canon proper names from headings and recurring proper nouns of the Cairn notes."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.memory.chunking import Chunk, chunk_document, document_id_for
from bot.memory.parsing import ParsedDocument, Section, parse_document
from bot.memory.roster import extract_canon_names


@pytest.fixture(scope="module")
def cairn_names(test_data: Path) -> list[str]:
    chunks: list[Chunk] = []
    for name in ("vald.md", "bestiary.md"):
        data = (test_data / "cairn/wardens-guide" / name).read_bytes()
        chunks.extend(chunk_document(parse_document(name, data), document_id_for(data)))
    return extract_canon_names(chunks)


@pytest.mark.parametrize(
    "name",
    ["Tideborn", "White Raven", "Order of Nine", "Marchguard", "House of Burgesses", "Aqua Primaris", "Woodwose"],
)
def test_real_names_are_found(cairn_names: list[str], name: str) -> None:
    assert name in cairn_names


@pytest.mark.parametrize("word", ["The", "However", "Introduction", "Belief", "Most", "Larger", "When", "They"])
def test_common_words_are_not_names(cairn_names: list[str], word: str) -> None:
    assert word not in cairn_names


def test_names_are_deterministic(test_data: Path, cairn_names: list[str]) -> None:
    data = (test_data / "cairn/wardens-guide/vald.md").read_bytes()
    first = extract_canon_names(chunk_document(parse_document("vald.md", data), "d"))
    second = extract_canon_names(chunk_document(parse_document("vald.md", data), "d"))
    assert first == second
    assert len(cairn_names) == len(set(cairn_names))


def test_a_name_seen_once_is_not_canon() -> None:
    doc = ParsedDocument(
        "n.md",
        "markdown",
        [
            Section(
                ("Notes",), "We met Old Brannoc once. Later we saw Mirela Vos at the docks. Then Mirela Vos left.", None
            )
        ],
        None,
        0,
    )
    names = extract_canon_names(chunk_document(doc, "d"))
    assert "Mirela Vos" in names
    assert "Old Brannoc" not in names
    assert "Later" not in names


def test_limit_is_respected(cairn_names: list[str], test_data: Path) -> None:
    data = (test_data / "cairn/wardens-guide/bestiary.md").read_bytes()
    assert len(extract_canon_names(chunk_document(parse_document("b.md", data), "d"), limit=5)) == 5
