"""Offline tables obey the GM: a name the details give is used as given, the canon the details name is the subject
(its keeper, features, members and wants from its notes), and canon fills only the slots of its type."""

from __future__ import annotations

import random

import pytest

from bot.improv.kinds import KINDS, NPC, Encounter, Kind, Location, Rumor, Tavern
from bot.improv.tables import roll
from bot.memory.types import Canon, Passage


def note(heading: str, text: str) -> Passage:
    return Passage(text, "emberfall.md", heading, None, 0.5, "d", f"c{abs(hash(heading)) % 10_000}")


HOUSE = note(
    "Factions of Emberfall › House Corvane",
    "Aldric Corvane, his sharp-tongued niece Mira Corvane, and six hired guards in rust-red cloaks. They want\n"
    "the sealed galleries to stay sealed: the collapse was no accident.",
)
MINE = note(
    "Emberfall › The Deepvein Mine",
    "Half a mile uphill. Master Aldric Corvane owns it and lives in a tall house above the pit head. Ten\n"
    "years ago the lower galleries collapsed; forty miners died.",
)
TAVERN = note(
    "Emberfall › The Lower Market › The Gilded Crucible",
    'A tavern built inside a cold, disused smelter. Owner Old Hesk, a one-eyed former caravan guard, pours\n"slag '
    'ale" (dark, bitter, faintly smoky). Miners drink on the ground floor; smugglers rent the old chimney room.',
)
SOCIETY = note(
    "Factions of Emberfall › The Lantern Society",
    "Miners' widows and old smiths who skim the tithe. They meet in the chimney room of the Gilded Crucible.",
)
NOTES = [HOUSE, MINE, TAVERN, SOCIETY]
CANON = Canon(
    people=("Aldric Corvane", "Mira Corvane", "Old Hesk"),
    places=("The Deepvein Mine", "The Gilded Crucible"),
    groups=("House Corvane", "The Lantern Society"),
    party=("Brother Osric", "Vex Thornquill"),
)


def test_a_name_the_details_give_is_the_name_used_with_the_role_they_describe() -> None:
    details = "a nervous excise officer named Tolliver Gant…"
    for seed in range(10):
        npc = roll("npc", rng=random.Random(seed), details=details, canon=CANON, passages=NOTES)
        assert isinstance(npc, NPC)
        assert (npc.name, npc.role) == ("Tolliver Gant", "nervous excise officer")
        assert npc.title == "Tolliver Gant — nervous excise officer"


def test_an_encounter_against_a_group_of_the_notes_draws_its_foes_from_it_on_the_named_ground() -> None:
    for seed in range(10):
        enc = roll(
            "encounter",
            rng=random.Random(seed),
            details="Corvane's guards at the pit head",
            canon=CANON,
            passages=NOTES,
        )
        assert isinstance(enc, Encounter)
        assert "6 hired guards in rust-red cloaks" in enc.foes
        assert "Mira Corvane" in enc.foes
        assert "pit head" in enc.terrain
        assert "sealed galleries" in enc.tactics
        assert enc.title.endswith("with House Corvane")
        assert not any(word in enc.text() for word in ("spider", "wolves", "burning barn"))


def test_a_tavern_the_notes_describe_keeps_its_keeper_drink_and_crowd() -> None:
    tavern = roll("tavern", rng=random.Random(2), details="the Gilded Crucible", canon=CANON, passages=NOTES)
    assert isinstance(tavern, Tavern)
    assert tavern.name == "The Gilded Crucible"
    assert tavern.keeper_name == "Old Hesk"
    assert tavern.keeper == "Old Hesk, a one-eyed former caravan guard"
    assert tavern.menu.startswith("slag ale")
    assert "smugglers rent the old chimney room" in tavern.patrons
    assert tavern.vibe == "A tavern built inside a cold, disused smelter."
    assert "Gilded Crucible" in tavern.rumor  # overheard: what other notes say of it


def test_a_place_the_notes_describe_is_described_from_them() -> None:
    place = roll("location", rng=random.Random(5), details="the Deepvein Mine", canon=CANON, passages=NOTES)
    assert isinstance(place, Location)
    assert place.name == "The Deepvein Mine"
    assert place.first_impression == "Half a mile uphill."
    assert place.danger == "Ten years ago the lower galleries collapsed; forty miners died."


def test_a_person_the_notes_mention_gets_their_role_from_the_passage() -> None:
    npc = roll("npc", rng=random.Random(1), details="Mira Corvane", canon=CANON, passages=NOTES)
    assert npc.title == "Mira Corvane — sharp-tongued niece"
    aldric = roll("npc", rng=random.Random(1), details="Aldric Corvane", canon=CANON, passages=NOTES)
    assert aldric.title == "Aldric Corvane — of House Corvane"


def test_rumors_about_a_named_subject_tell_one_thing_from_its_notes() -> None:
    rumors = roll("rumor", rng=random.Random(3), details="the Lantern Society", canon=CANON, passages=NOTES)
    assert isinstance(rumors, Rumor)
    assert rumors.title.endswith(": The Lantern Society")
    assert any(r.text in SOCIETY.text.replace("\n", " ") and r.truth == "true" for r in rumors.rumors)


@pytest.mark.parametrize("kind", KINDS)
def test_person_slots_take_only_people_and_the_party_is_never_used(kind: Kind) -> None:
    canon = Canon(
        people=("Brenna Coalhand",),
        places=("Gilded Crucible",),
        groups=("Lantern Society",),
        party=("Brother Osric",),
    )
    for seed in range(40):
        text = roll(kind, rng=random.Random(seed), canon=canon).text()
        assert "Brother Osric" not in text
        for place_or_group in ("Gilded Crucible", "Lantern Society"):
            for person_slot in ("They say {} knows", "kin to {}", "Someone swears {} is involved", "{} has aged"):
                assert person_slot.format(place_or_group) not in text


def test_until_the_roster_types_names_a_heading_shows_what_they_are() -> None:
    # the roster counts every name as a person today: the retrieved headings and name words tell them apart
    untyped = Canon(people=("Lantern Society", "Gilded Crucible", "Deepvein", "Aldric Corvane"))
    for seed in range(40):
        text = roll("rumor", rng=random.Random(seed), canon=untyped, passages=NOTES).text()
        for not_a_person in ("Lantern Society", "Gilded Crucible", "Deepvein"):
            assert f"They say {not_a_person} knows" not in text


def test_labels_are_never_doubled_and_titles_never_cut_mid_phrase() -> None:
    secretive = note("NPCs › Bastian Crowe, fence", "Secret: Secret: he sells the watch's keys. He wants out.")
    npc = roll("npc", rng=random.Random(0), details="Bastian Crowe", passages=[secretive])
    assert npc.secret == "He sells the watch's keys."  # type: ignore[attr-defined]
    assert "Secret: Secret" not in npc.text()
    long = "bandits who have been robbing the salt caravans on the east road for a month and a half"
    for kind in KINDS:
        title = roll(kind, rng=random.Random(1), details=long).title
        assert "month and" not in title
        assert not title.endswith("…")


def test_player_characters_are_never_the_subject_nor_an_npc_even_when_the_details_name_them() -> None:
    party = note("Player characters › Brother Osric, cleric", "A gentle giant who hums hymns. He wants his abbey back.")
    canon = Canon(people=("Old Hesk",), party=("Brother Osric",))
    for kind in KINDS:
        for seed in range(5):
            answer = roll(kind, rng=random.Random(seed), details="Brother Osric", canon=canon, passages=[party])
            assert "Brother Osric" not in answer.names()  # never an NPC, a tavern keeper or a generated name
            assert "abbey" not in answer.text()  # nor described from the party's notes
            assert "Brother Osric has" not in answer.text()  # nor the one a twist is about
