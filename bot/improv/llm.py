"""Generation with an OpenAI-compatible chat model: structured output, streamed partials, validated results.

The client is built once (`build_client`) from the settings: API key, optional base URL for local servers, the
model name from `OPENAI_MODEL` (nothing else names a model), tight timeouts and few retries. Every failure is
turned into a `GenerationError` whose `reason` the engine records as the fallback reason.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import openai
from openai import AsyncOpenAI
from pydantic import ValidationError

from bot.improv.kinds import Improv, Kind, partial_improv, schema_for
from bot.improv.prompts import Prompt
from bot.settings import Settings

__all__ = [
    "FallbackReason",
    "Generation",
    "GenerationError",
    "Generator",
    "OpenAIGenerator",
    "build_client",
    "build_generator",
]

log = logging.getLogger(__name__)

FallbackReason = Literal[
    "no_key", "timeout", "rate_limited", "error", "invalid", "refusal", "circuit_open", "quota", "cancelled", "busy"
]
PartialCallback = Callable[[Improv], Awaitable[None]]


class GenerationError(Exception):
    """The model gave no usable answer; `reason` says why (it becomes the panic's fallback reason)."""

    def __init__(self, reason: FallbackReason, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason: FallbackReason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Generation:
    """A validated result and what it cost."""

    improv: Improv
    tokens_in: int
    tokens_out: int
    model: str


class Generator(Protocol):
    """Something that turns a prompt into a validated result of a kind."""

    model: str

    async def generate(self, kind: Kind, prompt: Prompt, *, on_partial: PartialCallback | None = None) -> Generation:
        """Generate, calling `on_partial` with displayable partial results as they stream in."""


class _Invalid(Exception):
    """The output did not validate against the schema."""


def build_client(settings: Settings) -> AsyncOpenAI | None:
    """The one `AsyncOpenAI` client, or None without an API key (then the offline tables answer)."""
    if settings.openai_api_key is None:
        return None
    return AsyncOpenAI(
        api_key=settings.openai_api_key.get_secret_value(),
        base_url=settings.openai_base_url,
        timeout=settings.openai_timeout_seconds,
        max_retries=settings.openai_max_retries,
    )


def build_generator(settings: Settings, client: AsyncOpenAI | None) -> OpenAIGenerator | None:
    """A generator over `client` with the configured model, or None without a client."""
    if client is None:
        return None
    return OpenAIGenerator(client, settings.openai_model, max_output_tokens=settings.openai_max_output_tokens)


class OpenAIGenerator:
    """Streams structured output from the chat-completions API and validates it, retrying once if invalid."""

    def __init__(
        self,
        client: AsyncOpenAI,
        model: str,
        *,
        max_output_tokens: int = 600,
        temperature: float = 0.9,
        partial_interval: float = 0.2,
    ) -> None:
        self.client = client
        self.model = model
        self.max_output_tokens = max_output_tokens
        self.temperature = temperature
        self.partial_interval = partial_interval

    async def generate(self, kind: Kind, prompt: Prompt, *, on_partial: PartialCallback | None = None) -> Generation:
        """One validated result; `GenerationError` on failure (invalid output is retried once)."""
        for attempt in (1, 2):
            try:
                return await self._attempt(kind, prompt, on_partial)
            except _Invalid as exc:
                log.warning("invalid %s output from %s (attempt %d): %s", kind, self.model, attempt, exc)
                if attempt == 2:
                    raise GenerationError("invalid", str(exc)[:200]) from None
            except openai.APITimeoutError:
                raise GenerationError("timeout") from None
            except openai.RateLimitError as exc:
                raise GenerationError("rate_limited", str(exc.status_code)) from None
            except openai.ContentFilterFinishReasonError:
                raise GenerationError("refusal", "content filter") from None
            except openai.APIStatusError as exc:
                raise GenerationError("error", f"HTTP {exc.status_code}") from None
            except openai.APIConnectionError as exc:
                raise GenerationError("error", type(exc).__name__) from None
        raise AssertionError("unreachable")

    async def _attempt(self, kind: Kind, prompt: Prompt, on_partial: PartialCallback | None) -> Generation:
        schema = schema_for(kind)
        last_emit = 0.0
        try:
            async with self.client.chat.completions.stream(
                model=self.model,
                messages=prompt.messages(),  # type: ignore[arg-type]
                response_format=schema,
                max_completion_tokens=self.max_output_tokens,
                temperature=self.temperature,
                stream_options={"include_usage": True},
            ) as stream:
                async for event in stream:
                    if on_partial is None or event.type != "content.delta":
                        continue
                    now = time.monotonic()
                    if isinstance(event.parsed, dict) and now - last_emit >= self.partial_interval:
                        last_emit = now
                        await on_partial(partial_improv(kind, event.parsed))
                completion = await stream.get_final_completion()
        except openai.LengthFinishReasonError as exc:
            raise _Invalid("output cut at the token limit") from exc
        except (ValidationError, ValueError) as exc:
            raise _Invalid(type(exc).__name__) from exc
        if not completion.choices:
            raise _Invalid("no choices")
        message = completion.choices[0].message
        if message.refusal:
            raise GenerationError("refusal", message.refusal[:200])
        parsed: Any = message.parsed
        if not isinstance(parsed, schema):
            raise _Invalid("no parsed content")
        improv = _validated(parsed)
        usage = completion.usage
        tokens_in = usage.prompt_tokens if usage else prompt.tokens
        tokens_out = usage.completion_tokens if usage else len(improv.text()) // 4
        return Generation(
            improv=improv, tokens_in=tokens_in, tokens_out=tokens_out, model=completion.model or self.model
        )


def _validated(improv: Improv) -> Improv:
    """Reject results a GM cannot use: no title or empty fields (models behind local servers may do that)."""
    if not improv.title.strip():
        raise _Invalid("empty title")
    if not improv.fields():
        raise _Invalid("no fields")
    return improv
