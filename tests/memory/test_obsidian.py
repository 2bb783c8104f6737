"""Obsidian notes read as plain text: wiki links, embeds, comments, callouts and front matter leave no syntax in
the text, and a secret callout is a GM-only passage that no chunk players may see carries a word of."""

from __future__ import annotations

import pytest

from bot.memory.chunking import chunk_document
from bot.memory.parsing import ParsedDocument, parse_document


def parse(text: str) -> ParsedDocument:
    return parse_document("note.md", text.encode())


def public(doc: ParsedDocument) -> str:
    return "\n\n".join(s.text for s in doc.sections if not s.gm_only)


def secret(doc: ParsedDocument) -> str:
    return "\n\n".join(s.text for s in doc.sections if s.gm_only)


SYNTAX = ("[[", "]]", "%%", "[!", "==", "^", "|")


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("Ask [[Osric Vane]] about it.", "Ask Osric Vane about it."),
        ("Ask [[Osric Vane|the harbourmaster]] about it.", "Ask the harbourmaster about it."),
        ("Walk to [[Saltmarsh#The Lantern Quay]] at dusk.", "Walk to Saltmarsh at dusk."),
        ("Walk to [[Saltmarsh#The Lantern Quay|the quay]] at dusk.", "Walk to the quay at dusk."),
        ("See [[#Loose ends]] below.", "See Loose ends below."),
        ("As said in [[Session 01#^a1b2c3]].", "As said in Session 01."),
        ("Filed under [[People/Osric Vane.md|Osric]] and [[Places/Saltmarsh]].", "Filed under Osric and Saltmarsh."),
        ("The map: ![[saltmarsh-map.png]] shows the quay.", "The map: shows the quay."),
        ("Sized: ![[saltmarsh-map.png|400]] done.", "Sized: done."),
        ("Handout: ![[Handout.pdf#page=2]] done.", "Handout: done."),
        ("Embedded: ![[Mother Salt]] and more.", "Embedded: Mother Salt and more."),
        ("He pays ==well in silver==.", "He pays well in silver."),
        ("He wants the bell. ^wants", "He wants the bell."),
        ("Inline %%a hidden remark%% comment.", "Inline comment."),
    ],
)
def test_inline_obsidian_syntax_reads_as_plain_text(markdown: str, expected: str) -> None:
    assert parse(f"# Note\n\n{markdown}\n").text == expected


def test_a_table_link_with_an_escaped_pipe_keeps_its_cells() -> None:
    doc = parse("# Quay\n\n| Place | Who |\n| --- | --- |\n| Toll booth | [[Osric Vane\\|Osric]] |\n")
    assert doc.text == "Place | Who\nToll booth | Osric"


def test_comments_over_lines_and_an_unclosed_one_disappear() -> None:
    doc = parse(
        "# Saltmarsh\n\nThe fog rolls in.\n\n%%\nOld idea: the town was Brinewick.\n%%\n\nThe quay is stone.\n\n"
        "%% unclosed: everything after hides, as in Obsidian\n\nThe crab cult.\n"
    )
    assert doc.text == "The fog rolls in.\n\nThe quay is stone."


def test_front_matter_is_not_indexed_and_can_make_a_note_secret() -> None:
    doc = parse("---\naliases: [Choir, The Singers]\ntags: [faction, cult]\n---\n# The Drowned Choir\n\nWidows sing.\n")
    assert doc.text == "Widows sing."
    assert not any(s.gm_only for s in doc.sections)
    hidden = parse(
        "---\ntags: [npc]\nsecret: true\n---\n# Ilse\n\nOsric's drowned daughter.\n\n## Voice\n\nThe bell.\n"
    )
    assert hidden.sections
    assert all(s.gm_only for s in hidden.sections)
    assert hidden.text == "Osric's drowned daughter.\n\nThe bell."


def test_callouts_become_their_title_and_text() -> None:
    doc = parse(
        '# Osric\n\n> [!quote] What he says\n> "The toll is still a copper."\n\n'
        "> [!note]- Rumours heard here\n> - The fog is thicker.\n\n> [!tip]\n> Offer food first.\n"
    )
    assert (
        doc.text
        == 'What he says\n"The toll is still a copper."\n\nRumours heard here\n- The fog is thicker.\n\n'
        + ("Offer food first.")
    )
    assert not any(s.gm_only for s in doc.sections)


@pytest.mark.parametrize(
    "opening",
    ["> [!secret]", "> [!gm]", "> [!SECRET]- GM only", "> [!Gm]+ Why he wants it", "> [!secret]-", ">[!dm] Notes"],
)
def test_a_secret_callout_is_a_gm_only_passage(opening: str) -> None:
    doc = parse(
        f"# Osric Vane\n\nHarbourmaster of Saltmarsh.\n\n{opening}\n> He owes the Choir a debt.\n> His daughter "
        "Ilse speaks through the bell.\n\nHe wants the bell raised.\n"
    )
    assert public(doc) == "Harbourmaster of Saltmarsh.\n\nHe wants the bell raised."
    assert "He owes the Choir a debt.\nHis daughter Ilse speaks through the bell." in secret(doc)
    assert [s.gm_only for s in doc.sections] == [False, True, False]
    assert all(s.heading_path == ("Osric Vane",) for s in doc.sections)
    for mark in SYNTAX:
        assert mark not in doc.text


def test_a_secret_callout_ends_where_its_quote_ends_and_keeps_lazy_lines() -> None:
    doc = parse(
        "# Choir\n\n> [!note] Outer\n> Seen by all.\n> > [!secret] Inner\n> > Abbess Ymna.\n> Back outside.\n\n"
        "> [!gm]\n> The Tidewyrm wakes.\nA lazy line still inside the quote.\n---\nAfter the rule.\n"
    )
    assert public(doc) == "Outer\nSeen by all.\n\nBack outside.\n\nAfter the rule."
    assert secret(doc) == "Inner\nAbbess Ymna.\n\nThe Tidewyrm wakes.\nA lazy line still inside the quote."


def test_a_setext_underline_never_turns_a_secret_line_into_a_heading() -> None:
    doc = parse("# Choir\n\n> [!secret]\n> Abbess Ymna\n===\n\nPublic words.\n")
    assert all(s.heading_path == ("Choir",) for s in doc.sections)
    assert "Abbess Ymna" in secret(doc)
    assert "Abbess Ymna" not in public(doc)


def test_no_chunk_players_may_see_carries_a_secret_word() -> None:
    before = " ".join(f"The quay has lamp number {i}." for i in range(40))
    after = " ".join(f"The market sells eel number {i}." for i in range(40))
    hidden = " ".join(f"Ymna drowned ringer number {i}." for i in range(40))
    doc = parse(f"# Saltmarsh\n\n{before}\n\n> [!secret]- GM only\n> {hidden}\n\n{after}\n")
    chunks = chunk_document(doc, "d" * 32, max_chars=300, overlap_chars=120)
    assert {c.gm_only for c in chunks} == {True, False}
    for chunk in chunks:
        if chunk.gm_only:
            assert "lamp" not in chunk.text
            assert "eel" not in chunk.text
        else:
            assert "Ymna" not in chunk.text
            assert "GM only" not in chunk.text
    assert [c.index for c in chunks] == list(range(len(chunks)))
