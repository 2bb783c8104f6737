"""A small circuit breaker for the model: stop calling a failing service for a while, then probe once."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

__all__ = ["CircuitBreaker"]

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
