"""Offline random tables: an answer for every kind with no model, no network and no waiting.

Used when there is no API key, on a timeout, error, invalid output, an open circuit or an exhausted quota.
Where the guild has notes, canon names are woven in (a hook that points at a canon character or place), so
even the offline answer feels like the GM's campaign. When the GM's details point at a retrieved passage (they
share words with its heading), the answer is about that canon: an NPC request for a canon person gets that
person (name and role from the heading, look, voice, want and secret from the passage's sentences where simple
keyword matching finds them), and other kinds carry the passage's heading or the details in their title.
Everything is deterministic under a seeded `random.Random`.

Each kind's tables and roller live in its module under `bot.improv.kinds`; the shared machinery (names, focus)
in `bot.improv.kinds.common`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from bot.improv.kinds import KIND_SPECS, Improv, Kind
from bot.improv.kinds.common import Focus, find_focus, make_name
from bot.memory.types import Passage

__all__ = ["Focus", "find_focus", "make_name", "roll"]


def roll(
    kind: Kind,
    *,
    rng: random.Random | None = None,
    canon: Sequence[str] = (),
    details: str = "",
    avoid: Callable[[str], bool] | None = None,
    passages: Sequence[Passage] = (),
    recent: Sequence[Improv] = (),  # the guild+kind's recent answers, most recent first (the rollers avoid them)
) -> Improv:
    """A random result of `kind` from the offline tables.

    `canon` names (from the guild's retrieved notes) are woven into hooks; `avoid(name)` rejects generated names
    that would clash with canon; `passages` (retrieved for the details, best first) let the answer be about the
    canon the details point at (see `find_focus`).
    """
    focus = find_focus(details, passages, canon) if passages else None
    return KIND_SPECS[kind].roll(rng or random.Random(), canon, details, avoid, focus)
