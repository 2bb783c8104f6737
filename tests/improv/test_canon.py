"""Canon checks: misspellings respelled to canon, different entities with a canon first name renamed."""

from __future__ import annotations

from bot.improv.canon import CanonIndex, edit_distance, repair
from bot.improv.kinds import NPC, NameEntry, Names

CANON = CanonIndex(["Mira Voss", "Emberfall", "Captain Harl Denby"])


def _npc(name: str, hook: str = "") -> NPC:
    return NPC(
        name=name, role="smith", look="tall", voice="gruff", want="coin", secret="none", hook=hook or f"{name} waits"
    )


def test_edit_distance() -> None:
    assert edit_distance("voss", "vos") == 1
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("abc", "abcdefgh", limit=2) == 3


def test_exact_canon_and_unrelated_names_are_fine() -> None:
    assert CANON.check("Mira Voss") is None
    assert CANON.check("mira voss") is None
    assert CANON.check("Tobin Marsh") is None
    assert CANON.check("Mira") is None  # a bare first name refers to the canon character


def test_misspelling_is_respelled_to_canon() -> None:
    fixed, clashes = repair(_npc("Mira Vos"), CANON, lambda: "Fresh Name")
    assert [c.action for c in clashes] == ["respell"]
    assert fixed.name == "Mira Voss"
    assert "Mira Voss waits" in fixed.text()


def test_same_first_name_different_surname_is_renamed() -> None:
    fixed, clashes = repair(_npc("Mira Thorne"), CANON, lambda: "Odo Fernwick")
    assert clashes[0].action == "rename"
    assert fixed.name == "Odo Fernwick"
    assert "Mira Thorne" not in fixed.text()


def test_rename_when_respelling_would_reveal_a_hidden_name() -> None:
    fixed, clashes = repair(_npc("Mira Vos"), CANON, lambda: "Odo Fernwick", respell_to=lambda name: False)
    assert clashes
    assert fixed.name == "Odo Fernwick"


def test_names_kind_entries_are_checked() -> None:
    names = Names(
        name="Guards", entries=[NameEntry(name="Harl Denbi", note="a guard"), NameEntry(name="Pell", note="x")]
    )
    fixed, clashes = repair(names, CanonIndex(["Harl Denby"]), lambda: "New One")
    assert len(clashes) == 1
    assert fixed.names() == ["Harl Denby", "Pell"]
