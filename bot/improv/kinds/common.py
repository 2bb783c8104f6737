"""Table machinery every kind's offline roller shares: the `Draw` a roller reads (the rng, typed canon, the GM's
details, the subject the notes describe, the table set, what recent answers already used), fresh names, and
helpers that pick without repeating. All table content is original to this project.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from bot.improv.kinds.subject import Subject, clean_name
from bot.memory.types import Canon, Passage

__all__ = [
    "Avoid",
    "Draw",
    "Genre",
    "GenreTables",
    "make_name",
]

Avoid = Callable[[str], bool] | None
Genre = Literal["fantasy", "scifi", "modern"]
T = TypeVar("T")

#: table content per genre; a kind's module maps each genre to its own lists
GenreTables = Mapping[Genre, Sequence[T]]

#: entries too grim for a G or PG table (dropped there) and preferred by a dark or horror tone
GRIM = re.compile(
    r"\b(blood\w*|corpses?|dead|death|die[ds]?|kill\w*|murder\w*|poison\w*|graves?|cursed?|bones?|skulls?|"
    r"torture\w*|flesh|screams?|rot\w*|gore|drown\w*|hanged|butcher\w*|severed)\b",
    re.IGNORECASE,
)

_SYLLABLES: dict[Genre, tuple[list[str], list[str], list[str], list[str]]] = {
    "fantasy": (
        ["Al", "Bra", "Cor", "Da", "El", "Fen", "Gar", "Hal", "Is", "Jor", "Ka", "Lor", "Mar", "Ner", "Or", "Pel"],
        ["a", "ric", "wyn", "dra", "mon", "eth", "is", "o", "ara", "ick", "elle", "an", "ys", "orn", "ette"],
        ["Ash", "Black", "Copper", "Dun", "Elder", "Frost", "Gold", "Hollow", "Iron", "Moss", "Oak", "Quill"],
        ["wood", "field", "brook", "more", "ford", "hand", "well", "mantle", "stone", "ley", "barrow", "croft"],
    ),
    "scifi": (
        ["Ka", "Zeh", "Ori", "Tal", "Vex", "Nya", "Ryo", "Sol", "Dax", "Ime", "Juno", "Ash", "Kes", "Mira", "Ten"],
        ["ra", "on", "el", "ix", "a", "en", "is", "yn", "o", "ka", "im", "us", "ae", "ri", "ko"],
        ["Okafor", "Voss", "Tanaka", "Reyes", "Kowal", "Adeyemi", "Lindqvist", "Haas", "Nakamura", "Moreau"],
        ["", "-Ibarra", "-Chen", "-Sato", " Jr.", "-Park", "-Osei", "-Novak", "", "", "", ""],
    ),
    "modern": (
        ["Ma", "Ja", "Da", "Ro", "Li", "Ca", "Ev", "No", "Sa", "Wal", "Hel", "Fran", "Ger", "Ab", "Ru"],
        ["rie", "son", "vid", "se", "nda", "rl", "elyn", "ra", "lly", "ter", "en", "k", "ald", "by", "th"],
        ["Harlow", "Dunn", "Pryce", "Mercer", "Kowalski", "Okoro", "Brandt", "Sutter", "Vance", "Ashby", "Greer"],
        ["", "", "", "", "", "", "", "", "", "", "", ""],
    ),
}

_MODERN_FIRST = [
    "Marie", "James", "David", "Rosa", "Linda", "Carl", "Evelyn", "Nora", "Sam", "Walter", "Helen", "Frank",
    "Gerald", "Abby", "Ruth", "Eddie", "Lorna", "Tom", "June", "Victor", "Iris", "Dale", "Maggie", "Otis",
]  # fmt: skip


def make_name(rng: random.Random, avoid: Avoid = None, genre: Genre = "fantasy") -> str:
    """A fresh two-part name in the genre's style; rerolled (a few times) while `avoid(name)` says it clashes."""
    first_a, first_end, last_a, last_end = _SYLLABLES[genre]
    name = ""
    for _ in range(24):
        first = rng.choice(_MODERN_FIRST) if genre == "modern" else rng.choice(first_a) + rng.choice(first_end)
        last = rng.choice(last_a) + rng.choice(last_end)
        name = f"{first} {last}"
        if avoid is None or not avoid(name):
            return name
    return name


@dataclass(slots=True)
class Draw:
    """One offline roll: what it may use and what it must not repeat.

    `canon` is the guild's typed canon (people only in person slots, never the party); `subject` the person,
    place, tavern or group the details name (from the notes) or a name the details give; `seen` is the text of
    the guild's recent answers of this kind (drawn against, so nothing repeats); `genre`, `grim` and `gentle`
    come from the game system, tone and rating.
    """

    rng: random.Random
    canon: Canon = field(default_factory=Canon)
    details: str = ""
    avoid: Avoid = None
    subject: Subject = field(default_factory=Subject)
    passages: Sequence[Passage] = ()
    genre: Genre = "fantasy"
    grim: bool = False
    gentle: bool = False
    seen: str = ""
    taken: set[str] = field(default_factory=set)

    # --- drawing without repeats --------------------------------------------------------------------------
    def fresh(self, text: str) -> bool:
        """True when neither a recent answer nor this one has used `text`."""
        return text not in self.taken and (not self.seen or text not in self.seen)

    def options(self, tables: GenreTables[T]) -> list[T]:
        """The genre's entries, without grim ones for a gentle rating (unless that empties the list)."""
        entries = list(tables.get(self.genre) or tables["fantasy"])
        if self.gentle:
            kept = [e for e in entries if not GRIM.search(_whole(e))]
            entries = kept or entries
        return entries

    def pick(self, tables: GenreTables[T]) -> T:
        """One entry not used recently (nor earlier in this answer), grim ones first under a dark tone; when every
        entry was used, the one used longest ago."""
        entries = self.options(tables)
        unused = [e for e in entries if self.fresh(_text(e))]
        if not unused:
            left = [e for e in entries if _text(e) not in self.taken] or entries
            unused = [max(left, key=lambda e: self.seen.find(_text(e)))]  # recent answers come first in `seen`
        if self.grim:
            dark = [e for e in unused if GRIM.search(_whole(e))]
            if dark and self.rng.random() < 0.6:
                unused = dark
        choice = self.rng.choice(unused)
        self.taken.add(_text(choice))
        return choice

    def sample(self, tables: GenreTables[T], count: int) -> list[T]:
        """`count` distinct entries, each drawn like `pick`."""
        return [self.pick(tables) for _ in range(count)]

    def compose(self, make: Callable[[], str], tries: int = 40) -> str:
        """A composed string (`make` draws its parts) that no recent answer used, within a few tries."""
        text = make()
        for _ in range(tries):
            if self.fresh(text):
                break
            text = make()
        self.taken.add(text)
        return text

    def name(self) -> str:
        """A fresh name in the genre's style: no canon clash, not used by a recent answer."""
        avoid = self.avoid

        def clash(name: str) -> bool:
            return (avoid is not None and avoid(name)) or not self.fresh(name)

        return self.compose(lambda: make_name(self.rng, clash, self.genre), tries=4)

    # --- canon in slots --------------------------------------------------------------------------------------
    def people(self) -> list[str]:
        """Canon people fit for a person slot: never a place, a group, a player character or the subject."""
        others = {n.lower() for n in (*self.canon.places, *self.canon.groups, *self.canon.party)}
        own = set(self.subject.name.split()) if self.subject.name else set()
        found: list[str] = []
        for raw in self.canon.people:
            name = clean_name(raw)
            if not name or name.lower() in others or own & set(name.split()) or name in found:
                continue
            found.append(name)
        return self._relevant(found)

    def places(self) -> list[str]:
        """Canon places (not the subject)."""
        return self._relevant([p for p in map(clean_name, self.canon.places) if p and p != self.subject.name])

    def groups(self) -> list[str]:
        """Canon groups (not the subject)."""
        return self._relevant([g for g in map(clean_name, self.canon.groups) if g and g != self.subject.name])

    def _relevant(self, names: list[str]) -> list[str]:
        """Names the retrieved passages mention first: they are the canon nearest the request."""
        text = " ".join(p.text for p in self.passages)
        near = [n for n in names if n in text]
        return near or names

    def weave(self, person: str = "", place: str = "", group: str = "") -> str:
        """One canon reference, each type in its own template (`{}` is the name); "" without fitting canon."""
        kinds = [(fmt, pool()) for fmt, pool in ((person, self.people), (group, self.groups), (place, self.places))]
        usable = [(fmt, names) for fmt, names in kinds if fmt and names]
        if not usable:
            return ""
        fmt, names = usable[0] if self.rng.random() < 0.6 else self.rng.choice(usable)
        name = self.rng.choice(names[:6])
        if name.startswith("The ") and not fmt.startswith("{}"):
            name = "the " + name[4:]  # "it ties back to the Lantern Society"
        return fmt.format(name)


def _text(entry: object) -> str:
    """What identifies a table entry in an answer: the string, or a tuple entry's first part (its name)."""
    if isinstance(entry, tuple):
        return str(entry[0])
    return str(entry)


def _whole(entry: object) -> str:
    """All the text of a table entry (a tuple entry's parts joined)."""
    if isinstance(entry, tuple):
        return " ".join(str(part) for part in entry)
    return str(entry)
