"""The model behind its circuit breaker: one generation under the first-answer deadline, extended to the full
answer time once a valid answer streams; a failure counts against the model's health only when it is the
service's (5xx, timeouts, connection errors, 429), while refusals and unusable answers rest the model for their
guild alone. The outcome of the last call is kept for `/campaign status`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.improv.breaker import CircuitBreaker, GuildRests
from bot.improv.kinds import Improv, Kind
from bot.improv.llm import Generation, GenerationError, Generator, ModelTrace
from bot.improv.models import shutdown_date
from bot.improv.prompts import Prompt

__all__ = ["CallOutcome", "GuardedModel", "PartialCallback"]

log = logging.getLogger(__name__)

PartialCallback = Callable[[Improv], Awaitable[None]]
# A deadline timeout counts against the model (circuit breaker) only if the request was out for at least this
# share of the deadline without a single chunk back, and the timeout fired on time (the event loop was not
# starved): otherwise the time went to local work or overload.
MODEL_WAIT_SHARE = 0.5
LOOP_LAG_TOLERANCE = 0.25
# outcomes of one request (not of the service's health): a streak of them rests the model for that guild
GUILD_OUTCOMES = frozenset({"refusal", "invalid"})


@dataclass(frozen=True, slots=True)
class CallOutcome:
    """How the model's last call (or the startup check) went."""

    ok: bool
    detail: str = ""  # why it failed: `reason: detail`
    at: datetime | None = None


class GuardedModel:
    """`generator` (None: no model configured) guarded by `breaker` (the service's health) and `rests` (per-guild
    streaks of refusals and unusable answers; by default with the breaker's threshold and reset time)."""

    def __init__(self, generator: Generator | None, breaker: CircuitBreaker, rests: GuildRests | None = None) -> None:
        self.generator = generator
        self.breaker = breaker
        self.rests = rests or GuildRests(breaker.threshold, breaker.reset_seconds)
        self.last: CallOutcome | None = None

    def allow(self, guild_id: int) -> bool:
        """Whether a call for `guild_id` may go out now (neither its guild nor the service resting)."""
        return not self.rests.resting(guild_id) and self.breaker.allow()

    def note(self, ok: bool, detail: str = "") -> None:
        """Remember how the last call (or the startup check) went."""
        self.last = CallOutcome(ok, detail, datetime.now(UTC))

    def status(self, guild_id: int) -> str:
        """One line for `/campaign status`: the model in use and whether its last call worked."""
        if self.generator is None:
            return "none configured: answers come from the offline tables"
        ends = shutdown_date(self.generator.model)
        line = f"`{self.generator.model}`{f' (OpenAI shuts it down on {ends})' if ends else ''} · "
        if self.last is None:
            line += "no call yet"
        else:
            when = f" ({self.last.at:%Y-%m-%d %H:%M} UTC)" if self.last.at is not None else ""
            line += f"last call worked{when}" if self.last.ok else f"last call failed{when}: {self.last.detail}"
        if self.breaker.state == "open":
            line += " · resting after errors (the tables answer meanwhile)"
        elif self.rests.resting(guild_id):
            line += " · resting for this server after refused or unusable answers"
        return line

    @property
    def model_name(self) -> str:
        """The configured model (empty without a generator)."""
        return self.generator.model if self.generator is not None else ""

    async def generate(
        self,
        kind: Kind,
        prompt: Prompt,
        on_partial: PartialCallback | None,
        *,
        guild_id: int,
        started: float,
        deadline: float,
        full_deadline: float,
    ) -> Generation:
        """Run the model under the first-answer `deadline`, extended to `full_deadline` once it streams a valid
        answer (both event-loop times; `started` is when the request came), for `guild_id`. `GenerationError` on
        failure."""
        if self.generator is None:
            raise GenerationError("no_key")
        loop = asyncio.get_running_loop()
        trace = ModelTrace()
        try:
            async with asyncio.timeout_at(min(deadline, full_deadline)) as scope:

                async def partial(improv: Improv) -> None:
                    if scope.when() != full_deadline and improv.fields():
                        scope.reschedule(full_deadline)  # a valid answer is streaming: let it finish
                    if on_partial is not None:
                        await on_partial(improv)

                generation = await self.generator.generate(kind, prompt, on_partial=partial, trace=trace)
        except TimeoutError:
            fired = scope.when() or loop.time()
            self.note(False, "timeout: no answer within the deadline")
            if self._model_was_silent(trace, fired, loop.time(), deadline - started):
                self.breaker.record_failure()
            else:
                log.info(
                    "panic deadline passed for local reasons (model sent at %s, first byte at %s)",
                    trace.sent_at,
                    trace.first_byte_at,
                )
                self.breaker.release_probe()
            raise GenerationError("timeout") from None
        except GenerationError as exc:
            self.note(False, f"{exc.reason}: {exc.detail}" if exc.detail else exc.reason)
            if exc.model_fault:
                self.breaker.record_failure()
            else:  # the service answered: healthy, whatever it said
                self.breaker.record_success()
                if exc.reason in GUILD_OUTCOMES:
                    self.rests.record_failure(guild_id)
            raise
        except asyncio.CancelledError:
            self.breaker.release_probe()
            raise
        except Exception as exc:  # never let a surprise in the client break the button
            log.exception("unexpected model error")
            self.note(False, f"error: {type(exc).__name__}")
            self.breaker.record_failure()
            raise GenerationError("error", type(exc).__name__) from exc
        self.note(True)
        self.breaker.record_success()
        self.rests.record_success(guild_id)
        return generation

    @staticmethod
    def _model_was_silent(trace: ModelTrace, fired: float, now: float, deadline_seconds: float) -> bool:
        """Whether a deadline timeout is the model's fault: it had a fair share of the deadline and sent nothing.

        Our own deadline also passes when this process is overloaded: retrieval or a queue ate the time before
        the request went out, or the event loop was too busy to read bytes that had arrived (the timeout then
        fires late). Neither says anything about the model, so neither may open the circuit breaker.
        """
        if trace.sent_at is None or trace.first_byte_at is not None:
            return False
        waited = fired - trace.sent_at
        late = now - fired
        return waited >= MODEL_WAIT_SHARE * deadline_seconds and late <= LOOP_LAG_TOLERANCE
