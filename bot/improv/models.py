"""What each chat-model family accepts, and the request parameters the bot settles on for the configured model.

`OPENAI_MODEL` alone picks the family: the chat models (`gpt-4o-mini`, the default, and the gpt-4.x line) take
any temperature; the reasoning families (o-series, gpt-5.x, gpt-6) take only the default temperature 1, a
`reasoning_effort` from their own list and `max_completion_tokens`, which also pays for their reasoning.
Unknown names (models behind OpenAI-compatible local servers: Ollama, vLLM, LM Studio) get the safe profile:
`max_tokens`, a temperature, no reasoning effort. Known API shutdown dates come from the pinned SDK's
`ChatModel` notes.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from typing import Any, Literal, get_args

from openai.types.shared import chat_model
from openai.types.shared.reasoning_effort import ReasoningEffort

__all__ = [
    "DEFAULT_TEMPERATURE",
    "EFFORTS",
    "SHUTDOWN_DATES",
    "SUCCESSORS",
    "Effort",
    "ModelProfile",
    "RequestPlan",
    "plan_requests",
    "profile_for",
    "shutdown_date",
]

Effort = Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"]
#: every reasoning effort the pinned SDK knows, lowest first
EFFORTS: tuple[Effort, ...] = tuple(get_args(get_args(ReasoningEffort)[0]))
DEFAULT_TEMPERATURE = 0.9  # lively but on-topic improvisation, where the model takes a temperature
#: reasoning tokens a model produces per second (a round, conservative figure): the reasoning room in the token
#: budget is what fits in the panic deadline; reasoning beyond that could not start an answer in time anyway
REASONING_TOKENS_PER_SECOND = 150
TokenParam = Literal["max_completion_tokens", "max_tokens"]


@dataclass(frozen=True, slots=True)
class ModelProfile:
    """What one model family accepts in a chat-completions request."""

    family: str
    efforts: tuple[Effort, ...] = ()  # accepted `reasoning_effort` values, lowest first; () for a chat model
    temperature: bool = True  # accepts a temperature other than the default 1
    token_param: TokenParam = "max_completion_tokens"

    @property
    def reasoning(self) -> bool:
        """Whether this is a reasoning model (its output budget also pays for its reasoning)."""
        return bool(self.efforts)


_CHAT = ModelProfile("chat")
_O_SERIES = ModelProfile("o-series", efforts=("low", "medium", "high"), temperature=False)
_GPT5 = ModelProfile("gpt-5", efforts=("minimal", "low", "medium", "high"), temperature=False)
_GPT51 = ModelProfile("gpt-5.1", efforts=("none", "low", "medium", "high"), temperature=False)
_GPT52 = ModelProfile("gpt-5.2+", efforts=("none", "low", "medium", "high", "xhigh"), temperature=False)
_GPT6 = ModelProfile("gpt-6", efforts=("none", "low", "medium", "high", "xhigh", "max"), temperature=False)
#: unknown names: what OpenAI-compatible servers accept
SAFE = ModelProfile("compatible", token_param="max_tokens")

#: first match wins (a model name, dated snapshot or `-chat-latest` alias)
_PROFILES: tuple[tuple[re.Pattern[str], ModelProfile], ...] = (
    (re.compile(r"^(gpt-4o|gpt-4\.1|gpt-4|gpt-3\.5|chatgpt-4o)(-|$)"), _CHAT),
    (re.compile(r"^gpt-5(\.\d+)?-chat-latest$"), _CHAT),
    (re.compile(r"^o\d(-|$)"), _O_SERIES),
    (re.compile(r"^gpt-5(-|$)"), _GPT5),
    (re.compile(r"^gpt-5\.1(-|$)"), _GPT51),
    (re.compile(r"^gpt-5\.\d+(-|$)"), _GPT52),
    (re.compile(r"^gpt-\d+(\.\d+)?(-|$)"), _GPT6),  # gpt-6 and whatever OpenAI names next
)


def _sdk_shutdown_dates() -> dict[str, str]:
    """Every announced API shutdown date in the pinned SDK's `ChatModel` notes ("Deprecated values"), by model.

    The notes are the attribute docstring after `ChatModel` in `openai/types/shared/chat_model.py`; read from the
    installed SDK, so upgrading the pin brings OpenAI's newest announcements. Empty if the SDK changes its format
    (a test pins the parse to the pinned SDK).
    """
    try:
        source = inspect.getsource(chat_model)
        notes = source.split('"""Deprecated values:', 1)[1].split('"""', 1)[0]
    except (OSError, TypeError, IndexError):
        return {}
    dates: dict[str, str] = {}
    for item in re.split(r"\n- ", "\n" + notes.strip()):
        names, _, rest = item.partition("Announced shutdown date")
        date = re.search(r"\d{4}-\d{2}-\d{2}", rest)
        if date:
            dates.update(dict.fromkeys(re.findall(r'"([^"]+)"', names), date.group(0)))
    return dates


#: announced API shutdown dates (the pinned SDK's `ChatModel` notes), for the startup warning and `/campaign status`
SHUTDOWN_DATES: dict[str, str] = _sdk_shutdown_dates()
#: what to move to (README: "Choosing a model")
SUCCESSORS = ("gpt-5.4-mini", "gpt-6-luna")


def profile_for(model: str) -> ModelProfile:
    """The profile of `model`'s family; the safe profile for names no family claims."""
    name = model.strip().lower()
    for pattern, profile in _PROFILES:
        if pattern.match(name):
            return profile
    return SAFE


def shutdown_date(model: str) -> str | None:
    """The announced API shutdown date of `model` (ISO), if known."""
    return SHUTDOWN_DATES.get(model.strip().lower())


@dataclass(frozen=True, slots=True)
class RequestPlan:
    """The per-request parameters for the configured model, settled once at startup.

    `notes` are the settings that were ignored or adjusted, one log line each (logged by `build_generator`).
    """

    model: str
    profile: ModelProfile
    max_tokens: int  # output budget of one request (reasoning room included)
    temperature: float | None  # None: not sent (the model's default)
    reasoning_effort: Effort | None  # None: not sent
    notes: tuple[str, ...] = ()

    def params(self, budget: int | None = None) -> dict[str, Any]:
        """The model-specific keyword arguments of a chat-completions request (`budget` overrides the budget)."""
        out: dict[str, Any] = {self.profile.token_param: budget or self.max_tokens}
        if self.temperature is not None:
            out["temperature"] = self.temperature
        if self.reasoning_effort is not None:
            out["reasoning_effort"] = self.reasoning_effort
        return out


def plan_requests(
    model: str,
    *,
    max_output_tokens: int,
    temperature: float | None = None,
    reasoning_effort: Effort | None = None,
    deadline_seconds: float = 3.5,
) -> RequestPlan:
    """The request parameters for `model` from the settings (`None`: the model's own choice)."""
    profile = profile_for(model)
    notes: list[str] = []
    sent_temperature: float | None = DEFAULT_TEMPERATURE if temperature is None else temperature
    if not profile.temperature:
        if temperature is not None and temperature != 1:
            notes.append(f"OPENAI_TEMPERATURE={temperature:g} ignored: {model} accepts only its default (1)")
        sent_temperature = None
    effort: Effort | None = None
    if profile.reasoning:
        effort = profile.efforts[0]
        if reasoning_effort is not None and reasoning_effort in profile.efforts:
            effort = reasoning_effort
        elif reasoning_effort is not None:
            above = [e for e in profile.efforts if EFFORTS.index(e) >= EFFORTS.index(reasoning_effort)]
            effort = above[0] if above else profile.efforts[-1]  # the nearest the model takes
            notes.append(
                f"OPENAI_REASONING_EFFORT={reasoning_effort} is not one {model} accepts "
                f"({', '.join(profile.efforts)}): using {effort}"
            )
    elif reasoning_effort is not None:
        notes.append(f"OPENAI_REASONING_EFFORT={reasoning_effort} ignored: {model} is not a reasoning model")
    room = 0 if effort in (None, "none") else round(deadline_seconds * REASONING_TOKENS_PER_SECOND)
    return RequestPlan(
        model=model,
        profile=profile,
        max_tokens=max_output_tokens + room,
        temperature=sent_temperature,
        reasoning_effort=effort,
        notes=tuple(notes),
    )
