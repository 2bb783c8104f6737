"""Prompts per kind: table-ready, grounded in numbered passages, reusing canon names, within a token budget.

Tokens are counted without network (tiktoken would download its vocabulary): `len(text) / 4` measured 3.9-4.4
characters per o200k token on campaign text, plus a 20 % margin, so the estimate errs high.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache

from openai.lib._pydantic import to_strict_json_schema

from bot.improv.kinds import KIND_LABELS, KIND_SPECS, Kind, schema_for
from bot.memory.types import Passage

__all__ = ["Prompt", "Style", "build_prompt", "estimate_tokens", "schema_tokens"]

TOKEN_MARGIN = 1.2
PASSAGE_CHARS = 700
ROSTER_MAX = 80
GIVEN_MAX = 6  # earlier answers named in "Already given" (most recent first): about 70 tokens
GIVEN_MIN = 3  # kept when the budget is tight (the passages go first)
GIVEN_CHARS = 48
_WS = re.compile(r"\s+")

_RATINGS = {
    "g": "family friendly: no gore, no cruelty",
    "pg": "mild peril only",
    "pg13": "PG-13: danger and death off-screen, no graphic detail",
    "r": "mature themes allowed, no gratuitous detail",
}


@dataclass(frozen=True, slots=True)
class Style:
    """A guild's generation preferences (from its settings)."""

    tone: str = "balanced"
    content_rating: str = "pg13"
    game_system: str = ""
    max_words: int = 120


@dataclass(frozen=True, slots=True)
class Prompt:
    """The messages to send, their estimated token cost and the passages they cite (numbered from 1)."""

    system: str
    user: str
    tokens: int
    passages: tuple[Passage, ...] = field(default_factory=tuple)
    roster: tuple[str, ...] = field(default_factory=tuple)

    def messages(self) -> list[dict[str, str]]:
        """Chat messages for the API."""
        return [{"role": "system", "content": self.system}, {"role": "user", "content": self.user}]


def estimate_tokens(text: str) -> int:
    """Upper estimate of o200k tokens in `text` (four characters a token, plus 20 %)."""
    return math.ceil(len(text) / 4 * TOKEN_MARGIN)


@cache
def schema_tokens(kind: Kind) -> int:
    """Estimated tokens the structured-output schema of `kind` adds to the input."""
    return estimate_tokens(json.dumps(to_strict_json_schema(schema_for(kind)), separators=(",", ":")))


def _clean(text: str, limit: int) -> str:
    text = _WS.sub(" ", text).strip()
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut + " …"


def _system(kind: Kind, style: Style) -> str:
    system = style.game_system.strip() or "a fantasy tabletop RPG"
    rating = _RATINGS.get(style.content_rating.lower(), style.content_rating)
    return (
        f"You help a game master who needs {KIND_SPECS[kind].brief} for {system} in the middle of a session. "
        f"Be terse and table-ready: at most {style.max_words} words in total, concrete details first, no preamble. "
        f"Tone: {style.tone}. Content: {rating}.\n"
        "Stay consistent with the campaign notes when given. Reuse a canon name only when you mean that very "
        "character, place or thing; never invent a name that resembles a canon name (same first name, similar "
        "spelling) for someone else. Invented names must be new and distinct. Answer in the JSON schema."
    ) + _secrecy(kind)


def _secrecy(kind: Kind) -> str:
    """Where secrets go: only the kind's GM-only fields; the players may see every other field."""
    private = KIND_SPECS[kind].schema.gm_only_paths()
    if not private:
        return "\nThe players may see every field: put no secret or hidden truth in any."
    return (
        f"\nFor the GM's eyes only: {', '.join(private)}. Keep every secret, hidden truth and spoiler there; "
        "the players may see every other field."
    )


def build_prompt(
    kind: Kind,
    details: str,
    style: Style,
    passages: Sequence[Passage] = (),
    roster: Sequence[str] = (),
    *,
    budget: int = 1500,
    given: Sequence[str] = (),
) -> Prompt:
    """The prompt for `kind`, dropping the weakest passages and roster tail until it fits `budget` tokens.

    `budget` covers the system and user messages plus the response schema (which the API also counts).
    `given`: titles of the guild's recent answers of this kind, most recent first (a reroll's is among them),
    named so the model goes elsewhere.
    """
    system = _system(kind, style)
    request = _clean(details, 400) or f"Anything that fits; surprise me with a {KIND_LABELS[kind].lower()}."
    names = [n for n in dict.fromkeys(n.strip() for n in roster) if n][:ROSTER_MAX]
    chosen = [p for p in passages if p.text.strip()]
    avoid = [t for t in dict.fromkeys(_clean(g, GIVEN_CHARS) for g in given[: GIVEN_MAX * 2]) if t][:GIVEN_MAX]
    fixed = schema_tokens(kind) + estimate_tokens(system) + 16  # message framing

    while True:
        user = _user(kind, request, chosen, names, avoid)
        tokens = fixed + estimate_tokens(user)
        if tokens <= budget:
            break
        if len(names) > 20:
            names = names[: max(20, len(names) * 2 // 3)]
        elif len(avoid) > GIVEN_MIN:
            avoid = avoid[:GIVEN_MIN]
        elif chosen:
            chosen = chosen[:-1]
        elif names:
            names = names[: len(names) // 2]
        elif avoid:
            avoid = []
        else:
            break
    return Prompt(system=system, user=user, tokens=tokens, passages=tuple(chosen), roster=tuple(names))


def _user(kind: Kind, request: str, passages: Sequence[Passage], roster: Sequence[str], given: Sequence[str]) -> str:
    parts = [f"Request ({KIND_LABELS[kind]}): {request}"]
    if given:
        parts.append("Already given, do not repeat: " + "; ".join(given))
    if roster:
        parts.append("Canon names (reuse exactly; never make near-copies): " + "; ".join(roster))
    if passages:
        lines = [f"[{i}] ({p.citation()}) {_clean(p.text, PASSAGE_CHARS)}" for i, p in enumerate(passages, 1)]
        parts.append("Campaign notes:\n" + "\n".join(lines))
    else:
        parts.append("No campaign notes: invent freely.")
    return "\n\n".join(parts)
