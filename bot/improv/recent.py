"""Recent answers per campaign and kind, so the tables and the model can avoid repeating themselves.

Per process and bounded: each guild+kind's last answers (most recent first) are read from the panic history once
(and again every `refresh_seconds`, so answers made by another process or before a restart count), and this
process's answers are added as they are made, before the recorder's batched write. It fails open: only the very
first read of a guild+kind is waited for, and then at most the caller's `wait`; a slow or dead database means
fewer remembered answers, never a late or missing panic.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.improv.kinds import Improv, Kind
from bot.memory.scope import CampaignScope, ScopeLike, as_scope
from bot.tasks import BackgroundTasks

__all__ = ["Answer", "HistoryReader", "RecentAnswers"]

log = logging.getLogger(__name__)

RECENT_SIZE = 30  # answers remembered per guild and kind
MAX_KEYS = 512  # guild+kind pairs kept per process (~1.7 KB an answer: at most ~26 MB; the least recently used
# are dropped and read again when needed)
REFRESH_SECONDS = 60.0  # how old a read of the history may get before it is read again in the background


@dataclass(frozen=True, slots=True)
class Answer:
    """One remembered answer: its id (ids sort by creation time), the answer, and whether it was made for a player
    (from player-safe notes only: only such answers may be named in a player's prompt)."""

    improv_id: int
    improv: Improv
    player_safe: bool = False


#: (campaign, kind, limit) -> that campaign+kind's latest answers, newest first
HistoryReader = Callable[[CampaignScope, Kind, int], Awaitable[list[Answer]]]
_Key = tuple[CampaignScope, Kind]


@dataclass(slots=True)
class _Entry:
    answers: dict[int, Answer] = field(default_factory=dict)  # by improv id
    read_at: float | None = None  # loop time of the last finished read (None: never read)
    reading: asyncio.Task[None] | None = None
    patience: float | None = None  # loop time until which panics wait for the first read


class RecentAnswers:
    """The last `size` answers per guild and kind (see the module docstring)."""

    def __init__(
        self,
        read: HistoryReader,
        tasks: BackgroundTasks,
        *,
        size: int = RECENT_SIZE,
        max_keys: int = MAX_KEYS,
        refresh_seconds: float = REFRESH_SECONDS,
    ) -> None:
        self._read = read
        self._tasks = tasks
        self.size = size
        self.max_keys = max_keys
        self.refresh_seconds = refresh_seconds
        self._entries: OrderedDict[_Key, _Entry] = OrderedDict()

    def prefetch(self, scope: ScopeLike, kind: Kind) -> None:
        """Start reading the history of a guild+kind not read yet (or read a while ago); never waits."""
        self._entry((as_scope(scope), kind))

    async def get(self, scope: ScopeLike, kind: Kind, *, wait: float) -> list[Answer]:
        """The remembered answers, most recent first. Waits (at most `wait` seconds from the first panic that
        asks) only while the guild+kind's history has never been read in this process."""
        entry = self._entry((as_scope(scope), kind))
        reading = entry.reading
        if entry.read_at is None and reading is not None and not reading.done():
            now = asyncio.get_running_loop().time()
            if entry.patience is None:
                entry.patience = now + max(0.0, wait)
            if entry.patience > now:
                await asyncio.wait([reading], timeout=entry.patience - now)
        return [entry.answers[i] for i in sorted(entry.answers, reverse=True)]

    def add(self, scope: ScopeLike, kind: Kind, answer: Answer) -> None:
        """Remember an answer just made (it counts before the recorder writes it)."""
        entry = self._entry((as_scope(scope), kind))
        entry.answers[answer.improv_id] = answer
        self._trim(entry)

    def _entry(self, key: _Key) -> _Entry:
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Entry()
            while len(self._entries) > self.max_keys:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(key)
        stale = entry.read_at is None or asyncio.get_running_loop().time() - entry.read_at > self.refresh_seconds
        if stale and (entry.reading is None or entry.reading.done()):
            entry.reading = self._tasks.spawn(self._refresh(key, entry), name=f"recent-answers:{key[0]}:{key[1]}")
        return entry

    async def _refresh(self, key: _Key, entry: _Entry) -> None:
        loop = asyncio.get_running_loop()
        try:
            found = await self._read(key[0], key[1], self.size)
        except Exception:  # read again after `refresh_seconds`, as for a refresh
            log.warning("could not read the recent %s answers of guild %s (database unavailable?)", key[1], key[0])
            found = []
        entry.read_at = loop.time()
        entry.answers.update((answer.improv_id, answer) for answer in found)
        self._trim(entry)

    def _trim(self, entry: _Entry) -> None:
        if len(entry.answers) > self.size:
            keep = sorted(entry.answers, reverse=True)[: self.size]
            entry.answers = {i: entry.answers[i] for i in keep}
