"""The canon of a campaign, read from its chunks: the names its notes use, and what each one names.

Deterministic and fast (regular expressions over chunk texts and heading paths, no model). A name comes from:
- a heading: `Name, role` (`### Brenna Coalhand, master smith`), or a title-case heading that is a proper noun;
- a list item or table row that begins with a name (`- Ilsa Morn, a fence`, `| Hela Strand | captain |`);
- bold (`**Old Hesk**`) where the text keeps it;
- prose: proper nouns, where capitalisation is informative (not at the start of a sentence, line or list item,
  and for a single word never seen in lower case elsewhere), or a name of several words none of which the
  notes ever write in lower case.
Possessives are stripped ("Bastian Crowe's" → "Bastian Crowe").

What a name names is decided by cues, each explainable and weighted, strongest first: the section it sits in
("NPCs", "Places", "Factions", "Player characters" / "The party"); the role after `Name, role` and the first
words describing it ("A tavern built…", "a tired knight"); its own words (an honorific such as "Ser" or
"Captain": a person; "Society", "Guild", "House …": a group; "Mine", "Quarter", "Market": a place); and the
prose around its mentions ("his niece Mira", "the river Tallow", "Ysolde Pell sells"). Names under a party
heading are player characters (`Canon.party`), never NPCs. A name with no cue at all is a person when it is two
or three proper words, else `other`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from bot.memory.chunking import Chunk
from bot.memory.ranking import STOP_WORDS
from bot.memory.types import Canon

__all__ = [
    "HONORIFICS",
    "build_canon",
    "canon_from_json",
    "canon_to_json",
    "extract_canon_names",
    "name_key",
    "with_party",
]

Kind = Literal["person", "place", "group"]

_CONNECTORS = frozenset({"of", "the", "de", "du", "da", "von", "van", "la", "le", "al", "and"})
_ARTICLES = frozenset({"the", "a", "an"})
_NAME_WORD = r"[A-Z][A-Za-z'’\-]*[A-Za-z'’]|[A-Z]"
_SEQUENCE = re.compile(
    rf"(?<![\w'’\-])(?:{_NAME_WORD})(?:[ \t]+(?:(?:of|the|de|du|da|von|van|la|le|al)[ \t]+)*(?:{_NAME_WORD}))*"
)
_LOWER_WORD = re.compile(r"(?<![\w'’\-])[a-z][a-z'’\-]*[a-z](?![\w'’\-])")
_WORD = re.compile(r"[A-Za-z][A-Za-z'’\-]*")
_SENTENCE_BREAK = frozenset('.!?:;"“”(—–-•|*#>')
# Capitalised words that are not names even where capitalisation looks informative.
_NOT_NAMES_TEXT = """i i'm i'd i'll i've ok okay yes no mr mrs ms dr gm gms npc npcs pc pcs dm hp ac dc xp cr
    monday tuesday wednesday thursday friday saturday sunday january february march april may june july august
    september october november december chapter page table section example note notes see name names role
    later then meanwhile afterwards afterward soon now finally suddenly yesterday today tonight tomorrow once"""
_NOT_NAMES = frozenset(_NOT_NAMES_TEXT.split())


def _words(text: str) -> frozenset[str]:
    """The set of words of a word list written as text."""
    return frozenset(text.split())


HONORIFICS = _words(
    """ser sir dame lord lady brother sister mother father captain master mistress madam mister king queen prince
    princess duke duchess baron baroness count countess earl marquis general commander sergeant lieutenant
    magister archmage bishop abbot abbess prior prioress elder old young widow uncle aunt saint st doctor
    professor chief chieftain mayor reeve sheriff"""
)
_PERSON_WORDS = _words(
    """smith blacksmith apprentice owner keeper innkeeper barkeep bartender merchant trader priest priestess cleric
    knight guard soldier thief smuggler fence beggar sexton widower woman man girl boy child wife husband son
    daughter niece nephew cousin leader king queen mayor reeve sheriff magistrate judge scholar sage wizard mage
    witch sorcerer hunter ranger farmer miner miller baker butcher tailor healer herbalist alchemist physician
    sailor pirate assassin spy noble noblewoman nobleman steward servant maid cook bard minstrel peddler courier
    messenger scout warden assessor clerk scribe monk nun hermit mercenary sellsword bandit outlaw informant agent
    envoy ambassador officer jailer gaoler executioner oracle prophet seer druid paladin cultist acolyte novice
    student teacher tutor guide hireling porter groom stablehand gravedigger undertaker landlord landlady host
    hostess proprietor patron benefactor rival villain fisherman fishwife weaver potter mason carpenter cobbler
    jeweller jeweler goldsmith silversmith tinker collector official lawyer banker moneylender gambler thug
    enforcer heir heiress orphan widow captain lord lady duke duchess baron baroness prince princess sergeant
    commander emperor empress fighter rogue warrior barbarian necromancer warlock vagabond drunk veteran
    foreman overseer quartermaster shopkeeper"""
)
_PLACE_WORDS = _words(
    """town city village hamlet settlement capital port harbour harbor docks quarter district ward market square
    street road lane alley bridge gate keep castle fort fortress citadel tower hall manor estate tavern inn
    alehouse taproom pub brewery shop store apothecary smithy forge mill mine pit quarry temple shrine chapel
    church cathedral monastery abbey library academy school tomb crypt catacombs cave caves cavern ruins dungeon
    vault sewer sewers prison jail gaol barracks camp outpost river lake sea bay coast shore island isle hills
    hill mountain mountains peak peaks valley forest woods swamp fen bog moor heath plains desert wastes pass
    canyon gorge cliffs falls grove glade farm farmstead orchard gardens kingdom realm empire duchy county
    barony province region lands marches border frontier plane smelter warehouse lighthouse ship wreck"""
)
_GROUP_WORDS = _words(
    """society guild order brotherhood sisterhood fellowship company cult circle council coven covenant league
    alliance syndicate consortium cartel gang crew band clan tribe dynasty house watch legion army host knights
    riders rangers wardens sentinels faction court assembly senate parliament burgesses union collective network
    ring lodge cabal conclave brethren"""
)
# Plural nouns for people: a description that starts with them describes a group ("Miners' widows and …").
_PEOPLE_PLURALS = _words(
    """widows smiths miners guards members cultists bandits thieves knights soldiers merchants priests monks
    followers worshippers folk people men women families smugglers hunters sailors pirates mercenaries nobles
    traders farmers rebels outlaws servants acolytes"""
)
_PERSON_VERBS = _words(
    """says said asks asked wants wanted fears feared knows knew owns owned lives lived sells sold speaks spoke
    offered followed hates loves lost blames hums forges runs ran leads led tells told believes hides hid
    wants"""
)
_HEAD_STOPS = _words(
    """of in at on from for with without to into inside outside near by who whom whose that which and or but
    than as while where when"""
)
_AGES = frozenset({"old", "young", "elder"})
_PLACE_PREPOSITIONS = frozenset({"in", "at", "near", "inside", "toward", "towards", "into", "outside"})

_CATEGORY = re.compile(
    r"^(?:the\s+)?(?P<what>player\s+characters|party|pcs|heroes|adventurers|npcs|non-player\s+characters|people|"
    r"characters|cast|dramatis\s+personae|persons|personalities|allies|villains|enemies|rivals|contacts|"
    r"places|locations|geography|settlements|regions|districts|points\s+of\s+interest|gazetteer|sites|landmarks|"
    r"factions|groups|organi[sz]ations|guilds|orders|houses|powers|cults|societies)(?![\w'’])",
    re.IGNORECASE,
)
_CATEGORY_KIND: dict[str, str] = {
    "player characters": "party",
    "party": "party",
    "pcs": "party",
    "heroes": "party",
    "adventurers": "party",
    "places": "place",
    "locations": "place",
    "geography": "place",
    "settlements": "place",
    "regions": "place",
    "districts": "place",
    "points of interest": "place",
    "gazetteer": "place",
    "sites": "place",
    "landmarks": "place",
    "factions": "group",
    "groups": "group",
    "organisations": "group",
    "organizations": "group",
    "guilds": "group",
    "orders": "group",
    "houses": "group",
    "powers": "group",
    "cults": "group",
    "societies": "group",
}
_TITLED = re.compile(r"^(?P<name>[^,(—–:]+?)\s*(?:,|\(|—|–|\s-\s|:)\s*(?P<role>.+)$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+(?P<rest>.+)$")
_BOLD = re.compile(r"\*\*([^*\n]{2,60})\*\*|__([^_\n]{2,60})__")
_POSSESSIVE = re.compile(r"(?:['’]s|s['’]|['’])$")


def _category(title: str) -> str | None:
    """The kind of names a category heading ("NPCs", "Factions of Emberfall", "The party") holds, if it is one."""
    title = title.strip()
    found = _CATEGORY.match(title)
    if found is None:
        return None
    what = " ".join(found["what"].lower().split())
    kind = _CATEGORY_KIND.get(what, "person")
    if kind == "party" and title[found.end() :].strip()[:1] not in ("", "(", ":", "-", "—", "–"):
        return None  # "Party at the manor" is an event, not the player characters
    return kind


def name_key(name: str) -> str:
    """A name as compared: lower case, possessive, leading article and honorifics dropped ("Ser Aurek Danthe's"
    → "aurek danthe"); the name itself when it is nothing but honorifics."""
    words = [_POSSESSIVE.sub("", w).lower() for w in _WORD.findall(name.replace("’", "'"))]
    words = [w for w in words if w]
    while words and words[0] in _ARTICLES:
        words = words[1:]
    kept = list(words)
    while len(kept) > 1 and kept[0] in HONORIFICS:
        kept = kept[1:]
    return " ".join(kept)


def _strip_possessive(words: list[str]) -> tuple[list[str], bool]:
    """Words up to the first possessive ("Brenna's", "Miners'"), that one without its suffix."""
    for index, word in enumerate(words):
        stripped = _POSSESSIVE.sub("", word)
        if stripped != word:
            return ([*words[:index], stripped] if stripped else words[:index]), True
    return words, False


def _trim(words: list[str]) -> list[str]:
    while words and words[0].lower() in _CONNECTORS | _ARTICLES:
        words = words[1:]
    while words and words[-1].lower() in _CONNECTORS:
        words = words[:-1]
    return words


def _sentence_initial(text: str, start: int) -> bool:
    """Whether position `start` begins a sentence, line, list item or quotation."""
    index = start - 1
    while index >= 0 and text[index] in " \t":
        index -= 1
    if index < 0 or text[index] == "\n":
        return True
    if text[index] in _SENTENCE_BREAK:
        return True
    return text[index].isdigit() and index + 1 < start and (index == 0 or not text[index - 1].isalnum())


def _cue(words: Iterable[str]) -> Kind | None:
    """What a description's head noun says: a person, a place or a group. The head is the last telling word
    before the first preposition or conjunction ("harbour master", "a tavern built inside…", "widows and…")."""
    head: list[str] = []
    for raw in words:
        word = _POSSESSIVE.sub("", raw.lower())
        if word in _HEAD_STOPS and head:
            break
        head.append(word)
    for word in reversed(head):
        if word in _PEOPLE_PLURALS:
            return "group"
        if word in _PERSON_WORDS or (word in HONORIFICS and word not in _AGES):
            return "person"
        if word in _PLACE_WORDS:
            return "place"
        if word in _GROUP_WORDS:
            return "group"
    return None


def _description(text: str, limit: int = 10) -> list[str]:
    """The first words of a description, up to the end of its clause."""
    clause = re.split(r"[.;:()\n!?]", text, maxsplit=1)[0]
    return _WORD.findall(clause)[:limit]


@dataclass(slots=True)
class _Name:
    """What the notes say of one name (merged over its spellings with and without honorifics)."""

    first: int
    spellings: Counter[str] = field(default_factory=Counter)
    count: int = 0
    mid: int = 0
    strong: bool = False  # a heading, list item, table row, bold, or several words all proper
    party: bool = False
    votes: Counter[str] = field(default_factory=Counter)

    @property
    def display(self) -> str:
        return max(self.spellings, key=lambda s: (self.spellings[s], len(s.split()), s))


class _Collector:
    """Collects names and their cues over all chunks, then decides."""

    def __init__(self, chunks: Sequence[Chunk]) -> None:
        self.chunks = chunks
        self.lower_words: set[str] = set()
        for chunk in chunks:
            self.lower_words.update(w.replace("’", "'") for w in _LOWER_WORD.findall(chunk.text))
        self.names: dict[str, _Name] = {}
        self.categories: set[str] = set()

    def common(self, word: str) -> bool:
        """A word the notes write in lower case, or a stop word: capitalised, it tells nothing by itself."""
        key = word.lower().replace("’", "'")
        return key in STOP_WORDS or key in _ARTICLES or key in self.lower_words or key in _NOT_NAMES

    def proper(self, words: Sequence[str]) -> bool:
        """Several capitalised words, none of them common (connectors aside)."""
        significant = [w for w in words if w.lower() not in _CONNECTORS | HONORIFICS]
        return len(significant) >= 2 and all(w[:1].isupper() and not self.common(w) for w in significant)

    def plausible(self, name: str) -> bool:
        words = name.split()
        key = name.lower().replace("’", "'")
        if not words or key in _NOT_NAMES or len(name) < 3 or any(ch.isdigit() for ch in name):
            return False
        if not words[0][:1].isupper() or not all(w[:1].isupper() or w.lower() in _CONNECTORS for w in words):
            return False
        if all(w.lower() in HONORIFICS | _CONNECTORS for w in words):
            return False
        if _category(name) is not None:
            return False
        if len(words) == 1:
            return key not in STOP_WORDS and key not in self.lower_words and not name.isupper()
        return not all(w.lower() in STOP_WORDS | _NOT_NAMES | _CONNECTORS for w in words)

    def note(self, words: list[str], *, mid: bool, strong: bool = False, party: bool = False) -> _Name | None:
        """Count one occurrence of the name `words`; None when they make no name."""
        words = _trim(words)
        name = " ".join(words)
        if not name:
            return None
        key = name_key(name)
        entry = self.names.get(key)
        if entry is None:
            entry = self.names[key] = _Name(first=len(self.names))
        entry.spellings[name] += 1
        entry.count += 1
        entry.mid += int(mid)
        entry.strong = entry.strong or strong
        entry.party = entry.party or party
        if words[0].lower() in HONORIFICS and len(words) > 1 and words[1].lower() not in _CONNECTORS:
            entry.votes["person"] += 3 if words[0].lower() != "old" else 1
        return entry

    # --- sources -------------------------------------------------------------------------------------------
    def headings(self) -> None:
        first_text: dict[tuple[str, ...], str] = {}
        for chunk in self.chunks:
            first_text.setdefault(chunk.heading_path, chunk.text)
        done: set[tuple[str, ...]] = set()
        for path in first_text:
            for depth in range(len(path)):
                sub = path[: depth + 1]
                if sub in done:
                    continue
                done.add(sub)
                self.heading(sub, first_text.get(sub, ""))

    def section(self, path: Sequence[str]) -> str | None:
        """The kind the nearest category heading on `path` gives."""
        for title in reversed(path):
            kind = _category(title)
            if kind is not None:
                return kind
        return None

    def heading(self, path: tuple[str, ...], text: str) -> None:
        title = path[-1]
        if _category(title) is not None:
            self.categories.add(title)
            return
        titled = _TITLED.match(title)
        name_part, role = (titled["name"], titled["role"]) if titled else (title, "")
        words, possessive = _strip_possessive(name_part.split())
        if possessive:  # "Widow Pell's apothecary": about a thing of Widow Pell's; she is mentioned once
            self.note(words, mid=True)
            return
        words = _trim(words)
        name = " ".join(words)
        if not self.plausible(name):
            return
        section = self.section(path[:-1])
        kind_word = _cue([words[-1]]) in ("place", "group") or words[0].lower() in ("house", "clan", "order")
        evidence = bool(role) or section is not None or kind_word or self.proper(words)
        entry = self.note(words, mid=False, strong=evidence, party=section == "party")
        if entry is None:
            return
        if section in ("person", "place", "group"):
            entry.votes[section] += 5
        if role:
            entry.votes[_cue(_description(role)) or "person"] += 4 if _cue(_description(role)) else 2
        described = _cue(_description(text, 12))
        if described is not None:
            entry.votes[described] += 2

    def lines(self, chunk: Chunk) -> None:
        """List items, table rows and bold names of one chunk."""
        section = self.section(chunk.heading_path)
        header_kind: str | None = None
        in_table = False
        for line in chunk.text.split("\n"):
            if " | " in line or line.startswith("|"):
                cells = [c.strip() for c in line.strip("|").split("|")]
                if not in_table:
                    in_table = True
                    head = cells[0].lower() if cells else ""
                    if head in ("name", "npc", "who", "character", "person", "pc", "player character"):
                        header_kind = "person"
                        continue
                    if head in ("place", "location", "site", "where"):
                        header_kind = "place"
                        continue
                    if head in ("faction", "group", "organisation", "organization", "guild"):
                        header_kind = "group"
                        continue
                    header_kind = None
                    if all(c.lower() in _NOT_NAMES or c.lower() in self.lower_words for c in cells if c):
                        continue  # a header row of other columns
                if cells:
                    rest = " ".join(cells[1:])
                    self.structural(cells[0], rest, section, header_kind)
                continue
            in_table = False
            item = _LIST_ITEM.match(line)
            if item:
                lead = _SEQUENCE.match(item["rest"])
                if lead is not None:
                    after = item["rest"][lead.end() :]
                    sep = re.match(r"^\s*(?:,|:|\(|—|–|\s-\s)\s*", after)
                    if sep is not None or (not after.strip() and section is not None):
                        self.structural(lead.group(0), after[sep.end() :] if sep else "", section, None)
        for bold in _BOLD.finditer(chunk.text):
            inner = bold.group(1) or bold.group(2)
            self.structural(inner, chunk.text[bold.end() :].lstrip(", "), section, None)

    def structural(self, raw: str, rest: str, section: str | None, column_kind: str | None) -> None:
        words, _ = _strip_possessive(raw.split())
        words = _trim(words)
        if not self.plausible(" ".join(words)):
            return
        entry = self.note(words, mid=False, strong=True, party=section == "party")
        if entry is None:
            return
        for kind in (section, column_kind):
            if kind in ("person", "place", "group"):
                entry.votes[kind] += 5
        described = _cue(_description(rest))
        if described is not None:
            entry.votes[described] += 3

    def prose(self, chunk: Chunk) -> None:
        text = chunk.text
        for match in _SEQUENCE.finditer(text):
            words, possessive = _strip_possessive(match.group(0).split())
            initial = _sentence_initial(text, match.start())
            if initial:  # "Owner Old Hesk" / "When Sweeney": a common word took the sentence's capital
                titled = [i for i, w in enumerate(words) if i and w.lower() in HONORIFICS]
                dropped = titled[0] if titled and words[0].lower() not in HONORIFICS else 0
                words = words[dropped:]  # "Later Brother Osric"
                while len(words) > 1 and self.common(words[0]) and words[0].lower() not in HONORIFICS:
                    words = words[1:]
                    dropped += 1
                initial = initial and not dropped
            words = _trim(words)
            if not words:
                continue
            strong = self.proper(words)
            if initial and not strong:
                self.note(words, mid=False)  # counted, but a capital here tells nothing
                continue
            entry = self.note(words, mid=not initial, strong=strong)
            if entry is not None:
                self.context(entry, text, match.start(), match.end(), possessive)

    def context(self, entry: _Name, text: str, start: int, end: int, possessive: bool) -> None:
        """Votes from the words around one mention."""
        before = _WORD.findall(text[max(0, start - 40) : start])
        if before:  # "his niece Mira", "a missing smuggler, Quill", "the river Tallow", "in Emberfall"
            previous = before[-1].lower()
            cue = _cue([previous])
            if cue == "person":
                entry.votes["person"] += 1
            elif not possessive and (cue == "place" or previous in _PLACE_PREPOSITIONS):
                entry.votes["place"] += 1
        after = text[end:]
        if possessive:
            return
        if after.startswith(", "):
            cue = _cue(_description(after[2:], 8))
            if cue is not None:
                entry.votes[cue] += 1
            return
        following = _WORD.findall(after[:40])
        if following and following[0][:1].islower():
            word = following[0].lower()
            if word in _PERSON_VERBS:
                entry.votes["person"] += 1
            elif word in _PLACE_WORDS:
                entry.votes["place"] += 1

    # --- decision ------------------------------------------------------------------------------------------
    def decide(self, limit: int) -> Canon:
        accepted: dict[str, _Name] = {}
        for key, entry in self.names.items():
            name = entry.display
            if not self.plausible(name) or name in self.categories:
                continue
            if entry.strong or (entry.count >= 2 and entry.mid >= 1):
                accepted[key] = entry
        # a single word that is part of a longer name is short for it ("Brenna" for "Brenna Coalhand"), or a
        # family's name ("Corvane"): the longer names stand for it
        multi = [k for k in accepted if " " in k]
        for key in [k for k in accepted if " " not in k and not accepted[k].strong]:
            if any(key in m.split() for m in multi):
                del accepted[key]
        ordered = sorted(accepted.values(), key=lambda e: (-(e.count + 2 * int(e.strong)), e.first, e.display))[:limit]
        buckets: dict[str, list[str]] = {"person": [], "place": [], "group": [], "party": [], "other": []}
        for entry in ordered:
            buckets[self.kind(entry)].append(entry.display)
        return Canon(
            people=tuple(buckets["person"]),
            places=tuple(buckets["place"]),
            groups=tuple(buckets["group"]),
            party=tuple(buckets["party"]),
            other=tuple(buckets["other"]),
        )

    def kind(self, entry: _Name) -> str:
        if entry.party:
            return "party"
        words = entry.display.split()
        lowered = [w.lower() for w in words]
        if lowered[0] in ("house", "clan", "order") or lowered[-1] in _GROUP_WORDS:
            entry.votes["group"] += 2
        elif lowered[-1] in _PLACE_WORDS or lowered[-1] in _PEOPLE_PLURALS:
            entry.votes["place" if lowered[-1] in _PLACE_WORDS else "group"] += 2
        elif any(w in _GROUP_WORDS for w in lowered[:-1]) and "of" in lowered:
            entry.votes["group"] += 2  # "Order of Nine", "Knights of the Ember"
        if entry.votes:
            best = max(entry.votes.values())
            for kind in ("person", "group", "place"):
                if entry.votes[kind] == best:
                    return kind
        return "other"


def build_canon(chunks: Sequence[Chunk], *, limit: int = 200) -> Canon:
    """The canon of `chunks`: names by what they name, most mentioned first, at most `limit` in all."""
    collector = _Collector(chunks)
    collector.headings()
    for chunk in chunks:
        collector.lines(chunk)
        collector.prose(chunk)
    return collector.decide(limit)


def extract_canon_names(chunks: Sequence[Chunk], *, limit: int = 200) -> list[str]:
    """Canon names of `chunks` other than the party's (people, places, groups, other)."""
    return build_canon(chunks, limit=limit).names()


def with_party(canon: Canon, party: Sequence[str]) -> Canon:
    """`canon` with `party` (the GM's party roster) added to its party and taken out of every other category."""
    members = list(dict.fromkeys(p for p in (*party, *canon.party) if p.strip()))
    keys: set[str] = set()
    merged: list[str] = []
    for member in members:
        key = name_key(member)
        if key not in keys:
            keys.add(key)
            merged.append(member)

    def keep(names: Sequence[str]) -> tuple[str, ...]:
        return tuple(n for n in names if name_key(n) not in keys)

    return Canon(
        people=keep(canon.people),
        places=keep(canon.places),
        groups=keep(canon.groups),
        party=tuple(merged),
        other=keep(canon.other),
    )


def canon_to_json(canon: Canon) -> dict[str, list[str]]:
    """The canon as stored on the guild's index record."""
    return {
        "people": list(canon.people),
        "places": list(canon.places),
        "groups": list(canon.groups),
        "party": list(canon.party),
        "other": list(canon.other),
    }


def canon_from_json(data: Mapping[str, Any] | None, names: Sequence[str] = ()) -> Canon:
    """The canon stored on an index record; a record from before categories (`data` None) has only `names`,
    which count as `other` (nothing says they are people)."""
    if not isinstance(data, Mapping):
        return Canon(other=tuple(str(n) for n in names))

    def get(key: str) -> tuple[str, ...]:
        value = data.get(key) or []
        return tuple(str(v) for v in value) if isinstance(value, list) else ()

    return Canon(
        people=get("people"), places=get("places"), groups=get("groups"), party=get("party"), other=get("other")
    )
