"""Prompts: canon roster and numbered passages included, settings applied, budget never exceeded."""

from __future__ import annotations

import pytest

from bot.improv.kinds import KINDS, Kind
from bot.improv.prompts import Style, build_prompt, estimate_tokens, schema_tokens
from tests.improv.conftest import passage


def test_prompt_carries_roster_passages_and_style() -> None:
    prompt = build_prompt(
        "npc",
        "the blacksmith",
        Style(tone="grim", content_rating="pg", game_system="Dungeon World", max_words=80),
        [passage("Mira Voss forges blades in Emberfall.")],
        ["Mira Voss", "Emberfall"],
    )
    assert "Mira Voss; Emberfall" in prompt.user
    assert "[1] (notes.md › NPCs › Mira Voss)" in prompt.user
    assert "Dungeon World" in prompt.system
    assert "80 words" in prompt.system
    assert "grim" in prompt.system
    assert len(prompt.passages) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_budget_is_respected_with_many_long_passages(kind: Kind) -> None:
    passages = [passage(("word " * 400) + str(i), heading=f"H{i}") for i in range(8)]
    roster = [f"Name{i} Surname{i}" for i in range(300)]
    prompt = build_prompt(kind, "x " * 500, Style(), passages, roster, budget=1500)
    total = estimate_tokens(prompt.system) + estimate_tokens(prompt.user) + schema_tokens(kind) + 16
    assert prompt.tokens == total
    assert prompt.tokens <= 1500
    assert 0 < len(prompt.passages) < 8


def test_no_notes_says_so() -> None:
    prompt = build_prompt("loot", "", Style(), [], [])
    assert "No campaign notes" in prompt.user
    assert "Canon names" not in prompt.user
