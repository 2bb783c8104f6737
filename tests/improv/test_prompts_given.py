"""The prompt's "Already given, do not repeat" line: short, most recent first, and within the token budget."""

from __future__ import annotations

from bot.improv.prompts import GIVEN_MAX, GIVEN_MIN, Style, build_prompt
from tests.improv.conftest import passage

GIVEN = "Already given, do not repeat: "


def given_line(user: str) -> str:
    return next((line for line in user.splitlines() if line.startswith(GIVEN)), "")


def test_earlier_answers_are_named_most_recent_first_once_each_and_short() -> None:
    titles = ["Mira Voss — smith", "The Polite Bandits", "Mira Voss — smith", *(f"Ambush {n}" for n in range(20))]
    titles.append("A very long title " + "that goes on " * 10)
    user = build_prompt("encounter", "", Style(), given=titles).user
    named = given_line(user).removeprefix(GIVEN).split("; ")
    assert named == ["Mira Voss — smith", "The Polite Bandits", *(f"Ambush {n}" for n in range(GIVEN_MAX - 2))]
    long = build_prompt("encounter", "", Style(), given=[titles[-1]]).user
    assert given_line(long).endswith(" …")
    assert len(given_line(long)) < len(GIVEN) + 60


def test_no_earlier_answers_no_line() -> None:
    assert given_line(build_prompt("npc", "the blacksmith", Style()).user) == ""


def test_a_tight_budget_shortens_the_line_before_dropping_notes() -> None:
    passages = [passage(("word " * 120) + str(i), heading=f"H{i}") for i in range(4)]
    titles = [f"An answer given earlier, number {n}" for n in range(GIVEN_MAX)]
    roomy = build_prompt("npc", "the blacksmith", Style(), passages, given=titles, budget=4000)
    budget = roomy.tokens - 20  # a little less than all of it needs
    tight = build_prompt("npc", "the blacksmith", Style(), passages, given=titles, budget=budget)
    assert len(given_line(roomy.user).split("; ")) == GIVEN_MAX
    assert len(given_line(tight.user).split("; ")) == GIVEN_MIN
    assert len(tight.passages) == len(passages)
    assert tight.tokens <= budget
