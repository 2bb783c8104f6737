"""Canon checks: misspellings respelled to canon, different entities with a canon first name renamed, honorifics
ignored, player characters never taken by an NPC."""

from __future__ import annotations

from bot.improv.canon import CanonIndex, edit_distance, repair
from bot.improv.kinds import NPC, NameEntry, Names
from bot.memory.types import Canon

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


def test_honorifics_are_not_compared_as_names() -> None:
    canon = CanonIndex(["Ser Aurek Danthe", "Mother Hildra Vane"])
    assert canon.check("Ser Corwin Hale") is None  # shares only the title
    assert canon.check("Mother Agnes Pell") is None
    fixed, clashes = repair(_npc("Ser Corwin Hale"), canon, lambda: "Odo Fernwick")
    assert (clashes, fixed.name) == ([], "Ser Corwin Hale")


def test_a_titled_near_miss_is_still_a_near_miss() -> None:
    clash = CanonIndex(["Ser Aurek Danthe"]).check("Lord Aurek Danthe")
    assert clash is None  # the same person under another title
    respell = CanonIndex(["Ser Aurek Danthe"]).check("Ser Aurek Dante")
    assert respell is not None
    assert respell.action == "respell"


def test_the_party_counts_for_clashes_and_no_npc_takes_a_pcs_name() -> None:
    canon = CanonIndex.from_canon(Canon(people=("Mira Voss",), party=("Brother Osric", "Kestrel Vane")))
    assert canon.check("Brother Anselm") is None  # another brother, not the PC
    for taken in ("Brother Osric", "Osric", "Kestrel Vane", "Kestrel Thorne", "Kestrel Vain"):
        clash = canon.check(taken)
        assert clash is not None, taken
        assert clash.action == "rename", taken
    fixed, clashes = repair(_npc("Kestrel Vane"), canon, lambda: "Odo Fernwick")
    assert [c.canon for c in clashes] == ["Kestrel Vane"]
    assert fixed.name == "Odo Fernwick"
    assert "Kestrel Vane" not in fixed.text()


def test_a_party_only_index_is_not_empty() -> None:
    assert CanonIndex.from_canon(Canon(party=("Kestrel Vane",)))
    assert not CanonIndex.from_canon(Canon())
