"""Keep generated names true to the GM's canon.

A generated name that is a near miss of a canon name is a problem: either a misspelling of that canon entity
(edit distance 1-2, e.g. "Mira Vos" for "Mira Voss") — repaired to the canon spelling — or a *different*
entity dressed in a canon name (same first name, another surname, e.g. "Mira Thorne" beside canon
"Mira Voss") — repaired by renaming it to a fresh name that clashes with nothing. Honorifics ("Ser", "Brother",
"Captain"…) are not compared: "Ser Corwin Hale" is no near miss of "Ser Aurek Danthe".

Player characters (the party) are never NPCs: a generated name that is a PC's, shares a PC's first name or is a
near miss of one is renamed, never respelled.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from bot.improv.kinds import Improv
from bot.memory.roster import HONORIFICS
from bot.memory.types import Canon

__all__ = ["CanonIndex", "Clash", "edit_distance", "repair"]

_TOKEN = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿ'’-]+")
_PARTICLES = frozenset({"of", "the", "de", "van", "von", "der", "du", "da", "la", "le", "al"})


def edit_distance(a: str, b: str, limit: int = 3) -> int:
    """Levenshtein distance, stopping early above `limit` (returns `limit + 1`)."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        best = i
        for j, cb in enumerate(b, 1):
            value = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            cur.append(value)
            best = min(best, value)
        if best > limit:
            return limit + 1
        prev = cur
    return prev[-1]


def _tokens(name: str) -> list[str]:
    """The words of a name as compared: lower case, without particles or leading honorifics."""
    tokens = [t.lower() for t in _TOKEN.findall(name) if t.lower() not in _PARTICLES]
    while len(tokens) > 1 and tokens[0].rstrip(".") in HONORIFICS:
        tokens = tokens[1:]
    return tokens


def _near(joined: str, other: str) -> bool:
    """A misspelling of `other` (edit distance 1, or 2 for longer names)."""
    return len(joined) >= 5 and 0 < edit_distance(joined, other, 2) <= (1 if len(joined) < 8 else 2)


@dataclass(frozen=True, slots=True)
class Clash:
    """A generated name that collides with a canon name."""

    generated: str
    canon: str
    action: Literal["respell", "rename"]


class CanonIndex:
    """The guild's canon names (and its player characters, `party`), ready for near-miss checks."""

    def __init__(self, names: Sequence[str], party: Sequence[str] = ()) -> None:
        self.names = [n.strip() for n in names if n and n.strip()]
        self.party = [n.strip() for n in party if n and n.strip()]
        self._exact = {n.lower() for n in self.names}
        self._tokens = [(n, _tokens(n)) for n in self.names]
        self._party = [(n, _tokens(n)) for n in self.party]

    @classmethod
    def from_canon(cls, canon: Canon) -> CanonIndex:
        """The index of a guild's `Canon`: every name, and the party's as names no NPC may take."""
        return cls(canon.names(), party=canon.party)

    def __bool__(self) -> bool:
        return bool(self.names or self.party)

    def check(self, name: str) -> Clash | None:
        """The clash `name` makes with canon, or None when it is canon itself or unrelated."""
        text = name.strip()
        gen = _tokens(text)
        if not gen:
            return None
        joined = " ".join(gen)
        for pc, toks in self._party:  # a PC's name, first name or near miss: the NPC gets a name of its own
            if toks and (gen == toks or gen[0] == toks[0] or _near(joined, " ".join(toks))):
                return Clash(text, pc, "rename")
        if text.lower() in self._exact:
            return None
        for canon, toks in self._tokens:
            if not toks:
                continue
            if _near(joined, " ".join(toks)):
                return Clash(text, canon, "respell")
            if len(gen) >= 2 and len(toks) >= 2 and gen[0] == toks[0] and gen[-1] != toks[-1]:
                return Clash(text, canon, "rename")
        return None

    def clashes(self, improv: Improv) -> list[Clash]:
        """Clashes among the names `improv` introduces."""
        found: list[Clash] = []
        for name in improv.names():
            clash = self.check(name)
            if clash is not None:
                found.append(clash)
        return found


def _replace_everywhere(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, list):
        return [_replace_everywhere(v, old, new) for v in value]
    if isinstance(value, dict):
        return {k: _replace_everywhere(v, old, new) for k, v in value.items()}
    return value


def repair(
    improv: Improv,
    canon: CanonIndex,
    fresh_name: Callable[[], str],
    *,
    respell_to: Callable[[str], bool] | None = None,
) -> tuple[Improv, list[Clash]]:
    """Fix every clash in `improv`: respell near-misspellings to canon, rename different entities.

    `respell_to(canon_name)` may forbid respelling to a canon name (e.g. a name players must not see); such a
    clash is renamed instead. Returns the repaired copy and the clashes found.
    """
    clashes = canon.clashes(improv)
    if not clashes:
        return improv, []
    data = improv.model_dump()
    for clash in clashes:
        allowed = respell_to is None or respell_to(clash.canon)
        if clash.action == "respell" and allowed:
            replacement = clash.canon
        else:
            replacement = fresh_name()
            for _ in range(8):
                if canon.check(replacement) is None:
                    break
                replacement = fresh_name()
        data = _replace_everywhere(data, clash.generated, replacement)
    return type(improv).model_validate(data), clashes
