"""Tonight's improvisations: what the GM revealed or saved this session, per campaign, to keep as canon.

A session is the run of panics since the last gap of `SESSION_GAP` (six hours) without one; `/campaign recap`
lists the answers of it that were revealed to the table or saved, and "Save all to canon" keeps them as notes
that later panics cite (their names join the canon roster, which is rebuilt from the notes).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.improv.kinds import Improv

__all__ = ["RECAP_MAX", "SESSION_GAP", "note_text", "session_start"]

SESSION_GAP = timedelta(hours=6)
RECAP_MAX = 20  # improvisations one recap lists (a select menu offers at most 25 to drop)


def session_start(times: Sequence[datetime], now: datetime, gap: timedelta = SESSION_GAP) -> datetime:
    """When this session began: the first panic after the last gap of `gap` without one (`times`: the campaign's
    panic times, any order); `now` when the last panic is older than `gap` (a new session has not begun)."""
    start = now
    for moment in sorted(times, reverse=True):
        if start - moment > gap:
            break
        start = moment
    return start


def note_text(improv: Improv) -> str:
    """An answer as a campaign note's body: every field, GM-only ones included (the notes are the GM's)."""
    return "\n\n".join(f"**{label}:** {value}" for label, value in improv.fields("gm"))
