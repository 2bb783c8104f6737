"""The model behind its circuit breaker: one generation under the first-answer deadline, extended to the full
answer time once a valid answer streams; every failure is counted against the model only when it is the model's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from bot.improv.breaker import CircuitBreaker
from bot.improv.kinds import Improv, Kind
from bot.improv.llm import Generation, GenerationError, Generator, ModelTrace
from bot.improv.prompts import Prompt

__all__ = ["GuardedModel", "PartialCallback"]

log = logging.getLogger(__name__)

PartialCallback = Callable[[Improv], Awaitable[None]]
# A deadline timeout counts against the model (circuit breaker) only if the request was out for at least this
# share of the deadline without a single chunk back, and the timeout fired on time (the event loop was not
# starved): otherwise the time went to local work or overload.
MODEL_WAIT_SHARE = 0.5
LOOP_LAG_TOLERANCE = 0.25


class GuardedModel:
    """`generator` (None: no model configured) guarded by `breaker`."""

    def __init__(self, generator: Generator | None, breaker: CircuitBreaker) -> None:
        self.generator = generator
        self.breaker = breaker

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
        started: float,
        deadline: float,
        full_deadline: float,
    ) -> Generation:
        """Run the model under the first-answer `deadline`, extended to `full_deadline` once it streams a valid
        answer (both event-loop times; `started` is when the request came). `GenerationError` on failure."""
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
        except GenerationError:
            # HTTP errors, the client's own timeout, refusals and invalid output all say the model failed us
            self.breaker.record_failure()
            raise
        except asyncio.CancelledError:
            self.breaker.release_probe()
            raise
        except Exception as exc:  # never let a surprise in the client break the button
            log.exception("unexpected model error")
            self.breaker.record_failure()
            raise GenerationError("error", type(exc).__name__) from exc
        self.breaker.record_success()
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
