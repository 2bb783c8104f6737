"""What the GM's details are about, read from the details and the retrieved notes: a name the details give, the
person, place, tavern or group the notes describe (`Subject`), and sentence tools the rollers use to take that
subject's keeper, features, members, look, voice and wants from its passage. Plain keyword matching, no model.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from bot.memory.ranking import tokenize
from bot.memory.types import Canon, Passage

__all__ = [
    "GROUP_WORDS",
    "PLACE_WORDS",
    "Focus",
    "Subject",
    "category_of",
    "clean_name",
    "find_focus",
    "find_subject",
    "given_name",
    "role_phrase",
    "sentences",
    "short",
    "short_phrase",
]

Category = Literal["", "person", "place", "tavern", "group"]

_WORD = r"[A-Z][\w'’.-]*"
_NAME = rf"{_WORD}(?:\s+(?:(?:of|the|de|van|von|du)\s+)?{_WORD}){{0,3}}"
_PERSON_HEADING = re.compile(rf"^(?P<name>{_NAME}),\s*(?P<role>[^,]{{2,60}})$")
_GIVEN = re.compile(rf"\b(?:named|called|known as|goes by|name of|by the name)\s+(?P<name>(?:[Tt]he\s+)?{_NAME})")
_LEADING_NAME = re.compile(rf"^(?P<name>{_WORD}\s+{_WORD}(?:\s+{_WORD})?)(?=\s*(?:,|$|\s+(?:the|a|an|who)\b))")
_PROPER = re.compile(rf"\b{_NAME}")
_CLAUSE = re.compile(r"\s*(?:[,;:.!?(…]|\s-\s|—|\b(?:who|which|that|with|named|called|whose|because)\b)\s*")
_PLACE_CUT = re.compile(r"\s+(?:on|in|at|from|near|by|under|outside|inside|behind|of)\s+")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"“'])|\n\s*[-•*]\s+|\n\s*\n")
_POSSESSIVE = re.compile(r"['’]s?$")
_ARTICLES = re.compile(r"^(?:a|an|the|some|one|my|our|their|his|her)\s+", re.IGNORECASE)

_PLACE_TEXT = (
    "mine quarter market hall keep tower street road gate river hills hill town city inn tavern house temple "
    "district square bridge lane forest wood woods lake sea bay harbour harbor port castle fort village valley pass "
    "isle island crypt tomb cave caves ruins shrine chapel church manor estate mill apothecary shop station deck "
    "ship base colony dock docks bar club motel hotel hospital precinct school farm warehouse library archive"
)
PLACE_WORDS = frozenset(_PLACE_TEXT.split())
_GROUP_TEXT = (
    "house society guild order company brotherhood sisterhood cult clan syndicate gang crew circle council "
    "league cabal family coven union corporation corp cartel knockers"
)
GROUP_WORDS = frozenset(_GROUP_TEXT.split())
_GROUP_PARENT = re.compile(r"\b(factions?|organi[sz]ations?|groups|guilds|powers)\b", re.IGNORECASE)
_EVENT_PARENT = re.compile(r"\b(session|log|threads|timeline|recap|journal)\b", re.IGNORECASE)
_PARTY = re.compile(r"\b(player characters?|the party|party members?|PCs)\b", re.IGNORECASE)
_TAVERN_CUE = re.compile(r"\b(tavern|inn|alehouse|taproom|pub|saloon|bar|cantina|diner)\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Focus:
    """The passage the GM's details point at; `person` when its heading names a person (`Name, role`)."""

    passage: Passage
    leaf: str  # the last heading of the passage's heading path
    person: str = ""
    role: str = ""


@dataclass(frozen=True, slots=True)
class Subject:
    """What the answer is about: `name` as the answer uses it, its `category`, its `role` (people) and the passage
    that describes it (None for a name only the details give); `where` is a second passage the details point at
    (an encounter's ground)."""

    name: str = ""
    category: Category = ""
    role: str = ""
    passage: Passage | None = None
    given: bool = False  # the details gave this name
    where: Passage | None = None
    within: tuple[Passage, ...] = ()  # for a place named by a parent heading: the passages under it

    @property
    def text(self) -> str:
        """The subject's passage text, whitespace normalised ("" without one)."""
        return " ".join(self.passage.text.replace("**", "").split()) if self.passage is not None else ""


def clean_name(name: str) -> str:
    """A canon name without a possessive ending or stray punctuation ("Bastian Crowe's" -> "Bastian Crowe")."""
    return _POSSESSIVE.sub("", name.strip().strip('.,;:!?…"“”')).strip()


def _leaf(heading: str) -> str:
    return heading.split("›")[-1].strip()


def sentences(text: str) -> list[str]:
    """The sentences of a passage, markdown emphasis and line breaks removed."""
    text = text.replace("**", "")
    parts = (" ".join(s.split()).lstrip("-•* ").strip() for s in _SENTENCE.split(text))
    return [s for s in parts if len(s) > 3]


def short(text: str, limit: int = 160) -> str:
    """`text` within `limit` characters, cut at a clause or word boundary (never mid-word)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    head = text[:limit]
    for mark in (". ", "; ", ", ", " — ", " "):
        cut = head.rfind(mark)
        if cut > limit // 2:
            return head[: cut + 1] if mark == ". " else head[:cut].rstrip(",;: ") + "…"
    return head.rsplit(" ", 1)[0] + "…"


def short_phrase(details: str, max_words: int = 6) -> str:
    """The details' first clause when it is short enough for a title ("" otherwise): never cut mid-phrase."""
    head = _CLAUSE.split(" ".join(details.split()), maxsplit=1)[0].strip()
    words = head.split()
    return head if words and len(words) <= max_words else ""


def role_phrase(details: str) -> str:
    """The role the details describe ("a nervous excise officer named Tolliver Gant" -> "nervous excise officer")."""
    text = " ".join(details.split())
    given = given_name(text)
    if given:
        text = text.replace(given, " ")
        text = re.sub(r"\b(named|called|known as|goes by)\b", ",", text)
    phrase = _ARTICLES.sub("", _CLAUSE.split(text.strip(" ,"), maxsplit=1)[0].strip())
    if len(phrase.split()) > 6:  # "nervous toll keeper on the east road" -> "nervous toll keeper"
        phrase = _PLACE_CUT.split(phrase, maxsplit=1)[0].strip()
    words = phrase.split()
    return phrase if 0 < len(words) <= 6 and phrase[:1].islower() else ""


def given_name(details: str) -> str:
    """A proper name the details give ("… named Tolliver Gant", "Tolliver Gant, the excise officer"), as given."""
    text = " ".join(details.split())
    found = _GIVEN.search(text) or _LEADING_NAME.match(text)
    if found is None:
        return ""
    name = clean_name(found["name"])
    return name if name.split()[0] not in {"A", "An", "I", "We"} else ""


def _tokens(text: str) -> set[str]:
    return set(tokenize(text))


def find_focus(details: str, passages: Sequence[Passage], canon: Sequence[str] = ()) -> Focus | None:
    """The retrieved passage the details point at: most shared words with its heading (the last heading counts
    double; proper names of the details found in its text count once), ties to the better-ranked passage; None
    without details or without any shared word."""
    terms = _tokens(details)
    if not terms:
        return None
    proper = [clean_name(m.group()) for m in _PROPER.finditer(details) if m.start() > 0 or " " in m.group()]
    best: tuple[int, int] | None = None
    for rank, passage in enumerate(passages):
        if not passage.heading:
            continue
        leaf = _leaf(passage.heading)
        score = 2 * len(terms & _tokens(leaf)) + len(terms & _tokens(passage.heading))
        score += sum(1 for name in proper if name and name in passage.text)
        if score > 0 and (best is None or score > best[0]):
            best = (score, rank)
    if best is None:
        return None
    passage = passages[best[1]]
    leaf = _leaf(passage.heading)
    person, role = _person(leaf, canon)
    return Focus(passage=passage, leaf=leaf, person=person, role=role)


def _person(leaf: str, people: Sequence[str]) -> tuple[str, str]:
    """(name, role) when a heading names a person: `Name, role`, or exactly a multi-word canon person's name."""
    found = _PERSON_HEADING.match(leaf)
    if found and not found["name"].startswith("The "):
        return found["name"], found["role"].strip()
    words = leaf.split()
    if (
        leaf in people
        and len(words) >= 2
        and words[0] != "The"
        and words[-1].lower() not in PLACE_WORDS | GROUP_WORDS
        and all(w[:1].isupper() for w in words)
    ):
        return leaf, ""
    return "", ""


def _category(focus: Focus, canon: Canon) -> Category:
    """What a focused heading names: a person, a group, a tavern or a place ("" for a session, an event, or the
    party: player characters are never a subject)."""
    if _PARTY.search(focus.passage.heading) or clean_name(focus.person or focus.leaf) in canon.party:
        return ""
    if focus.person:
        return "person"
    leaf = focus.leaf
    bare = leaf[4:] if leaf.startswith("The ") else leaf
    parents = focus.passage.heading[: -len(leaf)] if focus.passage.heading.endswith(leaf) else ""
    words = {clean_name(w).lower() for w in leaf.split()}
    first = sentences(focus.passage.text)[:1]
    if leaf in canon.groups or bare in canon.groups or _GROUP_PARENT.search(parents) or words & GROUP_WORDS:
        return "group"
    if _TAVERN_CUE.search(leaf) or (first and _TAVERN_CUE.search(first[0])):
        return "tavern"
    if _EVENT_PARENT.search(parents) or _EVENT_PARENT.search(leaf):
        return ""
    return "place"


def _where(details: str, passages: Sequence[Passage], skip: Passage | None, canon: Canon) -> Passage | None:
    """A second passage whose text shares at least two of the details' words (the ground of an encounter): most
    shared words first, places before sessions and people, then the better-ranked."""
    terms = _tokens(details)
    scored = [(len(terms & _tokens(p.text)), rank, p) for rank, p in enumerate(passages) if p is not skip]
    scored = [item for item in scored if item[0] >= 2]
    scored.sort(key=lambda item: (-item[0], category_of(item[2], canon) not in ("place", "tavern"), item[1]))
    return scored[0][2] if scored else None


def _appositive(name: str, text: str) -> str:
    """What a passage says a named person is: "Old Hesk, a one-eyed former caravan guard" or "his sharp-tongued
    niece Mira Corvane" give that phrase."""
    after = re.search(re.escape(name) + r",\s*(?:an?|the)\s+(?P<role>[^,.;()]{3,60})", text)
    if after:
        return after["role"].strip()
    before = re.search(
        r"\b(?:his|her|their|its|the)\s+(?P<role>[a-z][\w-]*(?:\s+[a-z][\w-]*){0,2})\s+" + re.escape(name), text
    )
    return before["role"].strip() if before else ""


def _parent(details: str, focus: Focus) -> str:
    """The parent heading the details name when its leaf shares none of their words ("the Anvil Quarter")."""
    terms = _tokens(details)
    if terms & _tokens(focus.leaf):
        return ""
    for part in reversed([p.strip() for p in focus.passage.heading.split("›")[:-1]]):
        if terms & _tokens(part):
            return part
    return ""


def category_of(passage: Passage, canon: Canon) -> Category:
    """What a passage's last heading names: a person, place, tavern or group ("" for an event or no heading)."""
    if not passage.heading:
        return ""
    leaf = _leaf(passage.heading)
    return _category(Focus(passage, leaf, *_person(leaf, canon.people)), canon)


def find_subject(kind: str, details: str, passages: Sequence[Passage], canon: Canon) -> Subject:
    """The subject of a request: a name the details give (used as given), else the canon person, place, tavern
    or group whose passage the details point at; an empty `Subject` when the details name nothing known."""
    if not details.strip():
        return Subject()
    focus = find_focus(details, passages, [*canon.people]) if passages else None
    given = given_name(details)
    party = {clean_name(n).lower() for n in canon.party}
    if given.lower() in party:
        given = ""
    where = _where(details, passages, focus.passage if focus else None, canon)
    if focus is not None:
        category = _category(focus, canon)
        name = focus.person or focus.leaf
        if kind in ("npc", "names") and given and given != focus.person:
            if given in focus.passage.text:  # a person the passage mentions (not its heading)
                role = _appositive(given, focus.passage.text) or role_phrase(details)
                return Subject(given, "person", role, focus.passage, given=True, where=where)
            return Subject(given, "person", role_phrase(details), None, given=True, where=focus.passage)
        if kind in ("location", "tavern", "encounter") and (parent := _parent(details, focus)):
            within = tuple(p for p in passages if parent in p.heading.split(" › ")[:-1])
            return Subject(parent, "place", "", focus.passage, where=where, within=within)
        if category:
            return Subject(name, category, focus.role, focus.passage, where=where)
    if kind in ("location", "tavern") and where is not None and where.heading:
        # no heading named: the place whose notes share the details' words ("where the miners drink")
        leaf = _leaf(where.heading)
        found = category_of(where, canon)
        if found in ("place", "tavern") and (kind == "location" or found == "tavern"):
            return Subject(leaf, found, "", where)
    if given:
        category = "tavern" if kind == "tavern" else "place" if kind == "location" else "person"
        return Subject(given, category, role_phrase(details), None, given=True, where=where)
    return Subject(where=where)
