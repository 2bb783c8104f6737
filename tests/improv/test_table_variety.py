"""Offline tables do not repeat themselves (each answer fed back as the guild's recent answers) and follow the
guild's style: the game system and tone choose the table set, the rating drops grim entries, the length trims."""

from __future__ import annotations

import random

import pytest

from bot.improv.kinds import KINDS, NPC, Improv, Kind, Rumor
from bot.improv.kinds.common import GRIM
from bot.improv.prompts import Style
from bot.improv.tables import genre_of, roll
from bot.memory.types import Canon

CANON = Canon(people=("Brenna Coalhand", "Tobin Marsh"), places=("Emberfall",), groups=("the Lantern Society",))
STYLES = [Style(), Style(game_system="Mothership", tone="horror"), Style(game_system="Call of Cthulhu")]


def in_a_row(kind: Kind, style: Style, count: int = 20, seed: int = 0, details: str = "") -> list[Improv]:
    """`count` answers in a row, each drawn against the ones before it (most recent first)."""
    rng = random.Random(seed)
    answers: list[Improv] = []
    for _ in range(count):
        answers.insert(0, roll(kind, rng=rng, canon=CANON, style=style, details=details, recent=answers))
    return answers


@pytest.mark.parametrize("style", STYLES, ids=["fantasy", "scifi", "modern"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_twenty_encounters_in_a_row_have_at_least_eighteen_titles(style: Style, seed: int) -> None:
    titles = {a.title for a in in_a_row("encounter", style, seed=seed)}
    assert len(titles) >= 18
    with_details = {a.title for a in in_a_row("encounter", style, seed=seed, details="bandits at the ford")}
    assert len(with_details) >= 18


@pytest.mark.parametrize("style", STYLES, ids=["fantasy", "scifi", "modern"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_twenty_npcs_in_a_row_have_at_least_nineteen_names_and_fresh_hooks(style: Style, seed: int) -> None:
    npcs = [a for a in in_a_row("npc", style, seed=seed) if isinstance(a, NPC)]
    assert len({n.name for n in npcs}) >= 19
    hooks = [n.hook.split(";")[0] for n in npcs]
    assert all(len(set(hooks[i : i + 8])) == 8 for i in range(len(hooks) - 8))  # a hook returns only after 8 others


@pytest.mark.parametrize("style", STYLES, ids=["fantasy", "scifi", "modern"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_twenty_rumor_answers_never_tell_the_same_rumor_twice(style: Style, seed: int) -> None:
    lines = [r.text for a in in_a_row("rumor", style, seed=seed) if isinstance(a, Rumor) for r in a.rumors]
    assert len(lines) == 60
    bases = [line.split(" They say ")[0].split(" It started near ")[0] for line in lines]
    assert len(set(bases)) == 60


def test_without_recent_answers_the_tables_are_still_seeded_and_reproducible() -> None:
    assert roll("encounter", rng=random.Random(9)) == roll("encounter", rng=random.Random(9))


def test_the_game_system_and_tone_choose_the_table_set() -> None:
    assert genre_of(Style()) == "fantasy"
    assert genre_of(Style(game_system="Mothership", tone="horror")) == "scifi"
    assert genre_of(Style(game_system="Stars Without Number")) == "scifi"
    assert genre_of(Style(game_system="Call of Cthulhu 7e")) == "modern"
    assert genre_of(Style(tone="horror")) == "modern"
    assert genre_of(Style(game_system="D&D 5e", tone="dark")) == "fantasy"
    assert genre_of(Style(game_system="Pathfinder 2e", tone="horror")) == "fantasy"  # grim fantasy, not modern


@pytest.mark.parametrize("kind", KINDS)
def test_a_science_fiction_horror_game_gets_no_torches_taverns_or_gold(kind: Kind) -> None:
    style = Style(game_system="Mothership", tone="horror")
    fantasy = ("torch", "tavern", "badger", " gp", " cp", "goblin", "dwarf", "wizard", "ogre", "mead")
    for answer in in_a_row(kind, style, count=12):
        text = answer.text().lower()
        assert not [word for word in fantasy if word in text], text


@pytest.mark.parametrize("kind", KINDS)
def test_a_family_rating_drops_grim_entries(kind: Kind) -> None:
    for answer in in_a_row(kind, Style(content_rating="g"), count=12):
        assert not GRIM.search(answer.text()), answer.text()


def test_a_dark_tone_draws_grim_entries_more_often() -> None:
    def grim_share(style: Style) -> int:
        return sum(bool(GRIM.search(a.text())) for seed in range(5) for a in in_a_row("npc", style, 10, seed))

    assert grim_share(Style(tone="dark")) > grim_share(Style(tone="light"))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("max_words", [40, 80])
def test_the_length_setting_trims_every_kind(kind: Kind, max_words: int) -> None:
    for seed in range(10):
        answer = roll(kind, rng=random.Random(seed), canon=CANON, style=Style(max_words=max_words))
        assert answer.word_count() <= max_words
        assert answer.title
        assert len(answer.fields()) >= 1
