"""Offline random tables: an answer for every kind with no model, no network and no waiting.

Used when there is no API key, on a timeout, error, invalid output, an open circuit or an exhausted quota. The
answer obeys the GM: a name the details give is the name used; when the details name a person, place, tavern or
group that the retrieved notes describe, that is the subject and its keeper, features, members, look, voice and
wants come from its passage (`bot.improv.kinds.subject`). Canon arrives typed (`Canon`): person slots take only
people, place slots places, faction slots groups, and the party never. The game system, tone and rating choose
the table set (fantasy, science fiction, modern/horror); the length setting trims. Draws avoid what the guild's
recent answers of the kind already used. Everything is deterministic under a seeded `random.Random`.

Each kind's tables and roller live in its module under `bot.improv.kinds`; the shared machinery in
`bot.improv.kinds.common`.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from typing import Any

from bot.improv.kinds import KIND_SPECS, Improv, Kind
from bot.improv.kinds.common import Avoid, Draw, Genre, make_name
from bot.improv.kinds.subject import (
    GROUP_WORDS,
    PLACE_WORDS,
    Focus,
    category_of,
    clean_name,
    find_focus,
    find_subject,
    short,
)
from bot.improv.prompts import Style
from bot.memory.types import Canon, Passage

__all__ = ["Focus", "find_focus", "genre_of", "make_name", "retype", "roll", "typed_canon"]

_SCIFI = re.compile(
    r"sci[\s-]?fi|science fiction|space|star|cyber|traveller|alien|mothership|lancer|expanse|mech|galax|"
    r"planet|shadowrun|void|eclipse phase|android|\bsf\b",
    re.IGNORECASE,
)
_MODERN = re.compile(
    r"horror|cthulhu|modern|delta green|vampire|world of darkness|urban|monster of the week|kult|noir|"
    r"contemporary|investigat|conspiracy|zombie|slasher|liminal|\bdg\b|\bcoc\b",
    re.IGNORECASE,
)
_FANTASY = re.compile(
    r"d&d|dnd|dungeons|pathfinder|osr|old[\s-]school|13th age|shadowdark|fantasy|the one ring|m[oö]rk borg|"
    r"cairn|knave|dungeon world|dragonbane|forbidden lands|ironsworn|torchbearer|swords? (?:&|and) sorcery",
    re.IGNORECASE,
)
_DARK_TONE = re.compile(r"dark|grim|horror|bleak|gritty|serious|creepy|dread", re.IGNORECASE)


def genre_of(style: Style) -> Genre:
    """The table set a style asks for: the game system first (a fantasy system stays fantasy whatever the tone:
    its horror is grim fantasy), then the tone."""
    for text in (style.game_system, style.tone):
        if _SCIFI.search(text):
            return "scifi"
        if _MODERN.search(text):
            return "modern"
        if _FANTASY.search(text):
            return "fantasy"
    return "fantasy"


def typed_canon(canon: Canon | Sequence[str]) -> Canon:
    """`canon` as a `Canon`; bare names are sorted by their words (place and group words), others are people."""
    if isinstance(canon, Canon):
        return canon
    people: list[str] = []
    places: list[str] = []
    groups: list[str] = []
    for raw in canon:
        name = clean_name(raw)
        words = {w.lower() for w in name.split()}
        (groups if words & GROUP_WORDS else places if words & PLACE_WORDS else people).append(name)
    return Canon(people=tuple(people), places=tuple(places), groups=tuple(groups))


def retype(canon: Canon, passages: Sequence[Passage]) -> Canon:
    """`canon` with the "people" that are plainly not people moved to their type: a name with a place or group
    word ("Lantern Society"), or a name a retrieved heading shows is a place, tavern or group ("Gilded Crucible",
    "Deepvein" of "The Deepvein Mine"). Until the roster tells names apart, it counts them all as people."""
    headed: dict[str, str] = {}
    for passage in passages:
        if not passage.heading:
            continue
        leaf = passage.heading.split("›")[-1].strip()
        category = category_of(passage, canon)
        if category and category != "person":
            headed[leaf] = "groups" if category == "group" else "places"
    moved: dict[str, list[str]] = {"people": [], "places": list(canon.places), "groups": list(canon.groups)}
    for name in canon.people:
        words = {w.lower() for w in name.split()}
        target = "groups" if words & GROUP_WORDS else "places" if words & PLACE_WORDS else "people"
        for leaf, kind in headed.items():
            if target == "people" and words <= {clean_name(w).lower() for w in leaf.split()}:
                target = kind
        moved[target].append(name)
    return Canon(tuple(moved["people"]), tuple(moved["places"]), tuple(moved["groups"]), canon.party)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _seen(recent: Sequence[Improv]) -> str:
    """Every string of the recent answers, one a line (draws check against it)."""
    return "\n".join(s for improv in recent for s in _strings(improv.model_dump()) if s)


def roll(
    kind: Kind,
    *,
    rng: random.Random | None = None,
    canon: Canon | Sequence[str] = (),
    details: str = "",
    avoid: Avoid = None,
    passages: Sequence[Passage] = (),
    style: Style | None = None,
    recent: Sequence[Improv] = (),
) -> Improv:
    """A random result of `kind` from the offline tables.

    `canon` (typed, or bare names) is woven into its own slots; `avoid(name)` rejects generated names that would
    clash with canon; `passages` (retrieved for the details, best first) give the subject the details name;
    `style` chooses the table set and trims to its length; `recent` (the guild's recent answers of this kind,
    most recent first) is drawn against, so titles, names and lines do not repeat.
    """
    style = style or Style()
    typed = retype(typed_canon(canon), passages)
    draw = Draw(
        rng=rng or random.Random(),
        canon=typed,
        details=" ".join(details.split()),
        avoid=avoid,
        subject=find_subject(kind, details, passages, typed),
        passages=passages,
        genre=genre_of(style),
        grim=bool(_DARK_TONE.search(style.tone)) or style.content_rating == "r",
        gentle=style.content_rating in ("g", "pg"),
        seen=_seen(recent),
    )
    improv = KIND_SPECS[kind].roll(draw)
    return trim(tidy(improv), style.max_words)


def tidy(improv: Improv) -> Improv:
    """No doubled labels ("Secret: Secret: …") and no stray whitespace in the shown fields."""
    updates: dict[str, str] = {}
    for name, label in improv.labels.items():
        value = getattr(improv, name, None)
        if not isinstance(value, str):
            continue
        text = " ".join(value.split())
        prefix = re.compile(rf"^(?:{re.escape(label)}|{re.escape(name)})\s*:\s*", re.IGNORECASE)
        while prefix.match(text):
            text = prefix.sub("", text, count=1)
        if text != value:
            updates[name] = text[:1].upper() + text[1:] if value[:1].isupper() else text
    return improv.model_copy(update=updates) if updates else improv


def trim(improv: Improv, max_words: int) -> Improv:
    """`improv` within `max_words` of body text: lists shortened to two, long lines cut at a clause, lists to one,
    then the last fields dropped (the title and the first two fields always stay)."""
    shown = list(improv.labels)
    for _ in range(60):
        if improv.word_count() <= max_words:
            return improv
        lists = [n for n in shown if isinstance(getattr(improv, n), list) and len(getattr(improv, n)) > 2]
        if lists:
            longest = max(lists, key=lambda n: len(getattr(improv, n)))
            improv = improv.model_copy(update={longest: getattr(improv, longest)[:-1]})
            continue
        if (cut := _cut_longest_line(improv, shown)) is not None:
            improv = cut
            continue
        lists = [n for n in shown if isinstance(getattr(improv, n), list) and len(getattr(improv, n)) > 1]
        if lists:
            longest = max(lists, key=lambda n: len(getattr(improv, n)))
            improv = improv.model_copy(update={longest: getattr(improv, longest)[:-1]})
            continue
        filled = [n for n in shown if getattr(improv, n)]
        if len(filled) <= 2:
            return improv
        last = filled[-1]
        improv = improv.model_copy(update={last: [] if isinstance(getattr(improv, last), list) else ""})
    return improv


def _cut_longest_line(improv: Improv, shown: list[str]) -> Improv | None:
    """`improv` with its longest shown line (over nine words) cut by a third at a clause; None when none is."""
    long = [n for n in shown if isinstance(getattr(improv, n), str) and len(getattr(improv, n)) > 45]
    long = [n for n in long if len(getattr(improv, n).split()) > 9]
    if not long:
        return None
    name = max(long, key=lambda n: len(getattr(improv, n)))
    value: str = getattr(improv, name)
    cut = short(value, max(40, len(value) * 2 // 3))
    return improv.model_copy(update={name: cut}) if cut != value else None
