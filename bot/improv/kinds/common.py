"""Table machinery every kind's offline roller shares: fresh names, the canon passage the GM's details point at
(`find_focus`), and small helpers for weaving canon into an answer. All table content is original to this project.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.memory.ranking import tokenize
from bot.memory.types import Passage

__all__ = ["Avoid", "Focus", "canon_or", "find_focus", "make_name", "title_context"]

Avoid = Callable[[str], bool] | None

_FIRST_A = ["Al", "Bra", "Cor", "Da", "El", "Fen", "Gar", "Hal", "Is", "Jor", "Ka", "Lor", "Mar", "Ner", "Or"]
_FIRST_B = ["Pel", "Quin", "Ros", "Sel", "Tam", "Ul", "Vey", "Wen", "Yor", "Zan", "Ash", "Bel", "Cael", "Dov"]
_FIRST_END = ["a", "ric", "wyn", "dra", "mon", "eth", "is", "o", "ara", "ick", "elle", "an", "ys", "orn", "ette"]
_LAST_A = ["Ash", "Black", "Copper", "Dun", "Elder", "Frost", "Gold", "Hollow", "Iron", "Moss", "Oak", "Quill"]
_LAST_B = ["Raven", "Salt", "Thorn", "Under", "Vine", "Wick", "Amber", "Brindle", "Cinder", "Dapple", "Fallow"]
_LAST_END = ["wood", "field", "brook", "more", "ford", "hand", "well", "mantle", "stone", "ley", "barrow", "croft"]

_PERSON_HEADING = re.compile(r"^(?P<name>[A-Z][\w'’-]+(?: [A-Z][\w'’-]+){0,3}),\s*(?P<role>[^,]{2,60})$")

_PLACE_TEXT = (
    "mine quarter market hall keep tower street road gate river hills hill town city inn tavern house temple "
    "society guild district square bridge lane forest wood woods lake sea bay harbour harbor port castle fort "
    "village valley pass isle island crypt tomb cave caves ruins shrine chapel church manor estate mill"
)

_PLACE_WORDS = frozenset(_PLACE_TEXT.split())


@dataclass(frozen=True, slots=True)
class Focus:
    """The passage the GM's details point at; `person` when its heading names a person (`Name, role`)."""

    passage: Passage
    leaf: str  # the last heading of the passage's heading path
    person: str = ""
    role: str = ""


def _leaf(heading: str) -> str:
    return heading.split("›")[-1].strip()


def _person(leaf: str, canon: Sequence[str]) -> tuple[str, str]:
    """(name, role) when a heading names a person: `Name, role`, or exactly a multi-word canon name."""
    found = _PERSON_HEADING.match(leaf)
    if found and not found["name"].startswith("The "):
        return found["name"], found["role"].strip()
    words = leaf.split()
    if (
        leaf in canon
        and len(words) >= 2
        and words[0] != "The"
        and words[-1].lower() not in _PLACE_WORDS
        and all(w[:1].isupper() for w in words)
    ):
        return leaf, ""
    return "", ""


def find_focus(details: str, passages: Sequence[Passage], canon: Sequence[str] = ()) -> Focus | None:
    """The retrieved passage the details point at: most shared words with its heading (the last heading counts
    double), ties to the better-ranked passage; None without details or without any shared word."""
    terms = set(tokenize(details))
    if not terms:
        return None
    best: tuple[int, int] | None = None
    for rank, passage in enumerate(passages):
        if not passage.heading:
            continue
        leaf = _leaf(passage.heading)
        score = 2 * len(terms & set(tokenize(leaf))) + len(terms & set(tokenize(passage.heading)))
        if score > 0 and (best is None or score > best[0]):
            best = (score, rank)
    if best is None:
        return None
    passage = passages[best[1]]
    leaf = _leaf(passage.heading)
    person, role = _person(leaf, canon)
    return Focus(passage=passage, leaf=leaf, person=person, role=role)


def title_context(details: str, focus: Focus | None) -> str:
    """What the answer is about, for its title: the focused heading (a place or thing), else the details."""
    if focus is not None and not focus.person:
        return focus.leaf
    text = " ".join(details.split())[:60].strip()
    return text[:1].upper() + text[1:] if text else ""


def make_name(rng: random.Random, avoid: Callable[[str], bool] | None = None) -> str:
    """A fresh two-part name; rerolled (a few times) while `avoid(name)` says it clashes."""
    name = ""
    for _ in range(12):
        first = rng.choice(_FIRST_A + _FIRST_B) + rng.choice(_FIRST_END)
        last = rng.choice(_LAST_A + _LAST_B) + rng.choice(_LAST_END)
        name = f"{first} {last}"
        if avoid is None or not avoid(name):
            return name
    return name


def canon_or(rng: random.Random, canon: Sequence[str], fallback: str) -> str:
    """A random canon name, or `fallback` without canon."""
    return rng.choice(list(canon)) if canon else fallback
