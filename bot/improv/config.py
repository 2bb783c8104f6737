"""Small config values for the improviser, built from the settings by the services container (bot/services.py):
the domain never reads `Settings` itself."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.improv.models import Effort

__all__ = ["DISCORD_POLICY", "PATIENT_POLICY", "ImprovConfig", "ModelConfig", "PanicPolicy"]


@dataclass(frozen=True, slots=True)
class ImprovConfig:
    """How the improviser behaves whichever door asks (`PANIC_COOLDOWN_SECONDS`, `POOL_SIZE` …)."""

    cooldown_seconds: float = 3.0  # per-user pause between panics in a guild (0 disables)
    pool_size: int = 3  # pre-generated answers kept per guild and kind (0 disables the pool)
    prompt_token_budget: int = 1500
    breaker_threshold: int = 5
    breaker_reset_seconds: float = 30.0
    max_inflight: int = 256  # panics one process works on at once; beyond that, the tables answer at once
    model_timeout_seconds: float = 10.0  # longest one model answer may take (pool refills)


@dataclass(frozen=True, slots=True)
class ModelConfig:
    """The chat model's client: key (None: tables only), server, model and its limits.

    `temperature` and `reasoning_effort` None: the model's own choice (see `bot.improv.models`);
    `deadline_seconds` (the panic deadline) sizes a reasoning model's room to reason; `check_seconds` bounds
    the startup check of the model.
    """

    api_key: str | None = field(default=None, repr=False)
    base_url: str | None = None
    model: str = "gpt-4o-mini"
    timeout_seconds: float = 10.0
    max_retries: int = 1
    max_output_tokens: int = 600
    temperature: float | None = None
    reasoning_effort: Effort | None = None
    deadline_seconds: float = 3.5
    check_seconds: float = 3.0


@dataclass(frozen=True, slots=True)
class PanicPolicy:
    """How patient one door is: each door (Discord, the `improv panic` command, the console) has its own.

    `deadline_seconds`: if the model has not begun a valid answer this long after the request, the tables answer.
    `answer_seconds`: the longest a valid, streaming answer may take in all (from the request).
    `retrieve_seconds`: the most retrieval may take (and at most a third of what is left of the deadline).
    `wait_for_warm`: load the embedding model before retrieving, outside the retrieval budget (a fresh process
    whose first search would otherwise spend its budget loading it).
    """

    deadline_seconds: float = 3.5
    answer_seconds: float = 10.0
    retrieve_seconds: float = 1.0
    wait_for_warm: bool = False


#: Discord's defaults (the services use the configured deadline and model timeout): acknowledged within its
#: 3-second window, the answer starts within the deadline, retrieval never eats more than a second of it
DISCORD_POLICY = PanicPolicy()
#: a person at a terminal waits for a grounded answer: warm the embedder, retrieve and generate patiently
PATIENT_POLICY = PanicPolicy(deadline_seconds=60.0, answer_seconds=120.0, retrieve_seconds=20.0, wait_for_warm=True)
