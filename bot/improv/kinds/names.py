"""Names: six names that fit the setting."""

from __future__ import annotations

import re
from typing import ClassVar

from pydantic import Field

from bot.improv.kinds.base import Improv, Item, Kind, KindInfo, KindSpec
from bot.improv.kinds.common import Draw, Genre
from bot.improv.kinds.subject import short_phrase


class NameEntry(Item):
    """One name with a note."""

    name: str = Field(description="The name")
    note: str = Field(description="Who or what might bear it, a few words")

    def line(self) -> str:
        return f"**{self.name}** — {self.note}" if self.note else self.name


class Names(Improv):
    """A handful of names that fit the setting."""

    kind: ClassVar[Kind] = "names"
    labels: ClassVar[dict[str, str]] = {"entries": "Names"}

    name: str = Field(description="What the names are for, as a short title")
    entries: list[NameEntry] = Field(description="Six fitting names, none equal to a canon name")

    @property
    def title(self) -> str:
        return self.name

    def names(self) -> list[str]:
        return [e.name.strip() for e in self.entries if e.name.strip()]


_NAME_NOTES: dict[Genre, list[str]] = {
    "fantasy": [
        "a tavern keeper",
        "a retired soldier",
        "a young noble",
        "a smuggler",
        "a priest",
        "a scholar",
        "a farmer's daughter",
        "a guard captain",
        "a fence",
        "a travelling minstrel",
        "a hedge witch",
        "a ferryman",
    ],
    "scifi": [
        "a cargo pilot",
        "a station medic",
        "a corporate fixer",
        "a dock foreman",
        "a drone jockey",
        "a colonist",
    ],
    "modern": ["a night nurse", "a deputy", "a diner owner", "a reporter", "a mechanic", "a retired teacher"],
}

_NAME_TRAITS: dict[Genre, list[str]] = {
    "fantasy": [
        "new in town",
        "quick with a joke",
        "owes everyone money",
        "the eldest of the lot",
        "sharp-eyed and quiet",
        "a local favourite",
        "nursing an old grudge",
        "the one who keeps the count",
        "always singing",
        "recently widowed",
    ],
}

_ROLE_SPLIT = re.compile(r"\s+(?:of|in|from|at|for|near|under|around|on|by|with)\s+", re.IGNORECASE)

_ARTICLES = ("the ", "a ", "an ", "some ", "few ", "several ", "many ")


def _role_from_details(details: str, canon_words: set[str]) -> str:
    """The role a names request asks for ("miners of Emberfall" -> "miner"), or "" when none is named."""
    head = _ROLE_SPLIT.split(" ".join(details.split()).lower(), maxsplit=1)[0].strip(" ,.")
    for article in _ARTICLES:
        if head.startswith(article):
            head = head[len(article) :]
    words = [
        w for w in (re.sub(r"['’]s?$", "", w) for w in re.findall(r"[a-z][a-z'’-]*", head)) if w not in canon_words
    ]
    if not words or len(words) > 4:
        return ""
    last = words[-1]
    if last.endswith("ies") and len(last) > 4:
        last = last[:-3] + "y"
    elif last.endswith("ves") and len(last) > 4:
        last = last[:-3] + "f"
    elif last.endswith("men"):
        last = last[:-3] + "man"
    elif last.endswith("s") and not last.endswith(("ss", "us", "is")) and len(last) > 3:
        last = last[:-1]
    words[-1] = last
    return " ".join(words)


def roll(d: Draw) -> Names:
    """Six fresh names in the genre's style, none clashing with canon nor used recently, for the role the
    details ask for; one tied to canon by type (kin to a person, sworn to a group, born in a place)."""
    seen: set[str] = set()
    entries: list[NameEntry] = []
    canon_words = {w.lower() for n in d.canon.names() for w in n.split()}
    if d.subject.name:
        canon_words |= {w.lower() for w in d.subject.name.split()}
    role = _role_from_details(d.details, canon_words)
    traits = d.sample(_NAME_TRAITS, 6)
    while len(entries) < 6:
        name = d.name()
        if name in seen:
            continue
        seen.add(name)
        # the role the details ask for (miners stay miners), else a table role
        note = f"{_article(role)} {role}, {traits[len(entries)]}" if role else d.pick(_NAME_NOTES)
        entries.append(NameEntry(name=name, note=note))
    if tie := d.weave(person="kin to {}", group="sworn to {}", place="born in {}"):
        first = entries[0]
        entries[0] = NameEntry(name=first.name, note=f"{first.note}, {tie}")
    phrase = short_phrase(d.details, 8)
    title = f"Names: {phrase}" if phrase else "Names for the moment"
    return Names(name=title, entries=entries)


def _article(word: str) -> str:
    """`a` or `an` before `word`."""
    return "an" if word[:1].lower() in "aeiou" else "a"


SPEC = KindSpec(
    kind="names",
    info=KindInfo("Names", "Six names that fit", "For whom, e.g. dwarven miners", "dwarven miners"),
    schema=Names,
    brief="six names that fit the setting",
    roll=roll,
)
