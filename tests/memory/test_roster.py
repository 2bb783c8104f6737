"""Roster: canon names from headings, list items, tables, bold and prose, by category (Cairn notes, the example
campaign, small hand-made notes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import UserFacingError
from bot.memory.chunking import Chunk, chunk_document, document_id_for
from bot.memory.parsing import ParsedDocument, Section, parse_document
from bot.memory.repository import CampaignRepository
from bot.memory.roster import build_canon, canon_from_json, canon_to_json, extract_canon_names, name_key, with_party
from bot.memory.scope import CampaignScope
from bot.memory.types import Canon
from db.models.campaign import CampaignMemoryRecord
from tests.memory.memory_support import Rig, new_guild


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


# --- the canon by category --------------------------------------------------------------------------------------

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "campaign"


def _canon(text: str, file_name: str = "notes.md") -> Canon:
    data = text.encode()
    return build_canon(chunk_document(parse_document(file_name, data), document_id_for(data)))


@pytest.fixture(scope="module")
def example_canon() -> Canon:
    chunks: list[Chunk] = []
    for path in sorted(EXAMPLES.glob("*.md")):
        data = path.read_bytes()
        chunks.extend(chunk_document(parse_document(path.name, data), document_id_for(data)))
    return build_canon(chunks)


def test_example_campaign_people_include_every_name_role_heading_and_bold_name(example_canon: Canon) -> None:
    for person in ("Brenna Coalhand", "Tobin Marsh", "Old Hesk", "Aldric Corvane", "Mira Corvane", "Sir Edric Vale"):
        assert person in example_canon.people, example_canon


def test_example_campaign_places_and_groups_are_not_people(example_canon: Canon) -> None:
    assert {"Gilded Crucible", "Emberfall", "Deepvein Mine", "Anvil Quarter"} <= set(example_canon.places)
    assert {"Lantern Society", "House Corvane", "Knockers"} <= set(example_canon.groups)
    places_and_groups = {*example_canon.places, *example_canon.groups}
    assert not places_and_groups & set(example_canon.people)


def test_example_campaign_has_no_possessives_or_bare_first_names(example_canon: Canon) -> None:
    names = example_canon.names()
    assert not [n for n in names if n.endswith(("'s", "’s"))]
    assert "Brenna" not in names  # short for Brenna Coalhand
    assert "Duchess" not in names


def test_name_role_headings_are_people_even_mentioned_once() -> None:
    canon = _canon("# Town\n\n### Bastian Crowe, harbour master\nWatches the tides.\n\n### Pell Orrin, fence\nQuiet.\n")
    assert canon.people == ("Bastian Crowe", "Pell Orrin")


def test_possessives_are_stripped() -> None:
    canon = _canon(
        "# Notes\n\nWe found Bastian Crowe's ledger. Later, Bastian Crowe's clerk ran off with Bastian Crowe's keys.\n"
    )
    assert "Bastian Crowe" in canon.names()
    assert not [n for n in canon.names() if "'" in n]


def test_list_items_and_tables_give_people_by_their_section() -> None:
    canon = _canon(
        "# NPCs\n\n- Ilsa Morn, a fence\n- Dov Tarrin - a beggar who sleeps by the well\n\n"
        "| Name | Role |\n|---|---|\n| Hela Strand | captain of the gate |\n| Bors Kett | gate guard |\n"
    )
    assert set(canon.people) == {"Ilsa Morn", "Dov Tarrin", "Hela Strand", "Bors Kett"}
    assert canon.places == canon.groups == ()


def test_section_headings_decide_places_and_groups() -> None:
    canon = _canon(
        "# Places\n\n## Saltmarsh Reach\nFog and reeds.\n\n## The Copper Kettle\nA warm inn.\n\n"
        "# Factions\n\n## The Grey Hand\nSmugglers and worse.\n\n## Ashen Choir\nThey sing at funerals.\n"
    )
    assert set(canon.places) == {"Saltmarsh Reach", "Copper Kettle"}
    assert set(canon.groups) == {"Grey Hand", "Ashen Choir"}
    assert canon.people == ()


def test_bold_names_where_the_text_keeps_the_markers() -> None:
    canon = _canon("Notes\n\nThe ferry is run by **Orla Brisk**, a ferrywoman with a gull on her hat.\n", "notes.txt")
    assert "Orla Brisk" in canon.names()


def test_party_heading_gives_player_characters_never_people() -> None:
    canon = _canon(
        "# Campaign\n\n## The party\n- Brother Osric, cleric of the dawn\n- Kestrel Vane, ranger\n\n"
        "## Player characters\n### Tamsin Reed, bard\nSings badly.\n\n"
        "## Session 1\nKestrel Vane and Brother Osric met Mira Fenwick, a ferry warden. Mira Fenwick lied.\n"
    )
    assert set(canon.party) == {"Brother Osric", "Kestrel Vane", "Tamsin Reed"}
    assert "Mira Fenwick" in canon.people
    assert not set(canon.party) & set(canon.names())


def test_with_party_moves_the_gms_party_out_of_every_other_category() -> None:
    canon = Canon(people=("Brother Osric", "Mira Fenwick"), places=("Harrowgate",), party=("Kestrel Vane",))
    merged = with_party(canon, ["osric", "Harrowgate"])
    assert merged.people == ("Mira Fenwick",)  # "osric" is Brother Osric: case and honorifics aside
    assert merged.places == ()
    assert merged.party == ("osric", "Harrowgate", "Kestrel Vane")


def test_stored_canon_round_trips_and_old_records_claim_no_people() -> None:
    canon = Canon(people=("A B",), places=("C",), groups=("D",), party=("E",), other=("F",))
    assert canon_from_json(canon_to_json(canon)) == canon
    assert canon_from_json(None, ["Mira Voss"]) == Canon(other=("Mira Voss",))


def test_name_key_ignores_case_articles_honorifics_and_possessives() -> None:
    assert name_key("Ser Aurek Danthe's") == "aurek danthe"
    assert name_key("the Lantern Society") == "lantern society"
    assert name_key("Captain") == "captain"


def test_names_joined_by_and_or_led_by_an_adverb_stay_apart() -> None:
    canon = _canon(
        "# Log\n\nLater Brother Osric paid the toll for Mira Fenwick. The tanners cursed Brother Osric and "
        "Mira Fenwick alike.\n"
    )
    assert set(canon.names()) == {"Brother Osric", "Mira Fenwick"}
    assert "Brother Osric" in canon.people


# --- stored with the index record, the party merged in ----------------------------------------------------------

HARROWGATE = b"""# Harrowgate

## Player characters
### Kestrel Vane, ranger
Quiet.

## Mira Fenwick, ferry warden
Mira Fenwick argued with Brother Osric at the gate. Brother Osric paid the Tanners' Guild.

## Places
### The Salt Stair
Steps down to the river.
"""


async def test_canon_is_stored_on_the_index_record_by_category(rig: Rig) -> None:
    guild = new_guild()
    await rig.memory.import_file(guild, "harrowgate.md", None, HARROWGATE)
    record = await CampaignRepository(rig.sessionmaker).record(guild)
    assert record is not None
    assert record.canon is not None
    assert "Mira Fenwick" in record.canon["people"]
    assert record.canon["party"] == ["Kestrel Vane"]
    assert "Kestrel Vane" not in record.canon_names
    other = rig.make()  # another process reads the same canon
    canon = await other.canon(guild)
    assert canon.party == ("Kestrel Vane",)
    assert "Salt Stair" in canon.places
    assert await other.roster(guild) == canon.names()


async def test_party_changes_reach_every_process_and_canon_stays_off_the_database(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    guild = new_guild()
    await rig.memory.import_file(guild, "harrowgate.md", None, HARROWGATE)
    other = rig.make()
    assert "Brother Osric" in (await other.canon(guild)).people
    await rig.memory.add_party_member(guild, "Brother Osric")
    canon = await other.canon(guild)  # the notes version moved on: the other process re-reads once
    assert canon.party == ("Brother Osric", "Kestrel Vane")
    assert "Brother Osric" not in canon.names()

    repo = CampaignRepository(rig.sessionmaker)
    reads: list[int] = []
    original = repo.record_and_party

    async def counted(guild_id: int) -> tuple[CampaignMemoryRecord | None, list[str]]:
        reads.append(guild_id)
        return await original(guild_id)

    monkeypatch.setattr(other._ctx, "repo", repo)
    monkeypatch.setattr(repo, "record_and_party", counted)
    for _ in range(5):
        assert (await other.canon(guild)).party == canon.party
    assert reads == []  # cached for this notes version

    assert await rig.memory.remove_party_member(guild, "brother osric") == "Brother Osric"
    assert "Brother Osric" in (await other.canon(guild)).people
    assert reads == [CampaignScope(guild)]  # the guild's default campaign


async def test_a_party_without_notes_still_counts(rig: Rig) -> None:
    guild = new_guild()
    await rig.memory.add_party_member(guild, "Kestrel Vane")
    assert await rig.memory.canon(guild) == Canon(party=("Kestrel Vane",))
    assert await rig.memory.roster(guild) == []
    with pytest.raises(UserFacingError):
        await rig.memory.add_party_member(guild, "  ")


def test_a_heading_that_only_begins_with_party_is_no_party_section() -> None:
    canon = _canon("# Party at the manor\n\n- Lord Alric Vane, the host\n- Dame Sella Crow, a guest\n")
    assert canon.party == ()
    assert set(canon.people) == {"Lord Alric Vane", "Dame Sella Crow"}
