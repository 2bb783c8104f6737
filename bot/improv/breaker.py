"""A small circuit breaker for the model: stop calling a failing service for a while, then probe once; and
per-guild rests for a guild whose requests the model keeps refusing."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Literal

__all__ = ["CircuitBreaker", "GuildRests"]

State = Literal["closed", "open", "half-open"]


class CircuitBreaker:
    """Open after `threshold` consecutive failures for `reset_seconds`; then let one probe through (half-open).

    A successful probe closes the circuit; a failed one opens it again for another `reset_seconds`. State is per
    process, which is what matters: each process protects its own interactions from waiting on a dead service.
    """

    def __init__(
        self, threshold: int = 5, reset_seconds: float = 30.0, clock: Callable[[], float] | None = None
    ) -> None:
        self.threshold = max(1, threshold)
        self.reset_seconds = reset_seconds
        self._clock = clock or time.monotonic
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> State:
        """Current state (an open circuit turns half-open once its reset time has passed)."""
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self.reset_seconds:
            return "half-open"
        return "open"

    def allow(self) -> bool:
        """Whether a call may go out now; in half-open state only one probe at a time."""
        state = self.state
        if state == "closed":
            return True
        if state == "half-open" and not self._probing:
            self._probing = True
            return True
        return False

    def record_success(self) -> None:
        """A call succeeded: close the circuit."""
        self._failures = 0
        self._opened_at = None
        self._probing = False

    def record_failure(self) -> None:
        """A call failed: count it, opening (or re-opening) the circuit at the threshold or after a failed probe."""
        self._failures += 1
        if self._probing or self._failures >= self.threshold:
            self._opened_at = self._clock()
        self._probing = False

    def release_probe(self) -> None:
        """A probe ended without a verdict (e.g. cancelled): let another probe try."""
        self._probing = False


class GuildRests:
    """Per-guild rests for request outcomes (refusals, content filters, invalid output), in bounded memory.

    These say nothing about the model's health, so they never touch the process-wide `CircuitBreaker`: a guild
    whose requests the model keeps refusing (`threshold` in a row) skips the model for `reset_seconds`, alone.
    At most `max_guilds` guilds are tracked (the least recently failing are forgotten first).
    """

    def __init__(
        self,
        threshold: int = 5,
        reset_seconds: float = 30.0,
        *,
        max_guilds: int = 4096,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.threshold = max(1, threshold)
        self.reset_seconds = reset_seconds
        self.max_guilds = max(1, max_guilds)
        self._clock = clock or time.monotonic
        self._streaks: OrderedDict[int, tuple[int, float | None]] = OrderedDict()  # guild -> (streak, rested at)

    def __len__(self) -> int:
        return len(self._streaks)

    def resting(self, guild_id: int) -> bool:
        """Whether `guild_id` skips the model now (its rest ends `reset_seconds` after it began)."""
        entry = self._streaks.get(guild_id)
        if entry is None or entry[1] is None:
            return False
        return self._clock() - entry[1] < self.reset_seconds

    def record_success(self, guild_id: int) -> None:
        """A usable answer for the guild: its streak ends."""
        self._streaks.pop(guild_id, None)

    def record_failure(self, guild_id: int) -> None:
        """A refused or unusable answer for the guild: one more in its streak; at the threshold it rests (again,
        after a failed first request once a rest is over)."""
        streak, _ = self._streaks.pop(guild_id, (0, None))
        streak += 1
        self._streaks[guild_id] = (streak, self._clock() if streak >= self.threshold else None)
        while len(self._streaks) > self.max_guilds:
            self._streaks.popitem(last=False)
