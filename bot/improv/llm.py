"""Generation with an OpenAI-compatible chat model: structured output, streamed partials, validated results.

The client is built once (`build_client`) from the `ModelConfig` the services make of the settings: API key,
optional base URL for local servers, the model name from `OPENAI_MODEL` (nothing else names a model), tight
timeouts and few retries. The request's model-specific parameters (temperature, reasoning effort, token
budget) come from the model's profile (`bot.improv.models`). Every failure is turned into a `GenerationError`
whose `reason` the engine records as the fallback reason; every OpenAI error is logged at WARNING or ERROR with
its status, code and OpenAI's message (`describe_error`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, Protocol

import jiter
import openai
from openai import AsyncOpenAI
from openai.lib._pydantic import to_strict_json_schema
from pydantic import ValidationError

from bot.improv.config import ModelConfig
from bot.improv.kinds import Improv, Kind, partial_improv, schema_for
from bot.improv.models import RequestPlan, plan_requests
from bot.improv.prompts import Prompt

__all__ = [
    "FallbackReason",
    "Generation",
    "GenerationError",
    "Generator",
    "ModelTrace",
    "OpenAIGenerator",
    "build_client",
    "build_generator",
    "describe_error",
    "partial_json",
    "response_format",
]

log = logging.getLogger(__name__)

FallbackReason = Literal[
    "no_key", "timeout", "rate_limited", "error", "invalid", "refusal", "circuit_open", "quota", "cancelled", "busy"
]
PartialCallback = Callable[[Improv], Awaitable[None]]


class GenerationError(Exception):
    """The model gave no usable answer; `reason` says why (it becomes the panic's fallback reason).

    `model_fault`: the failure says the service is unhealthy (5xx, timeouts, connection errors, 429 after the
    client's retries), which the circuit breaker counts. Refusals, content filters, invalid output and
    refused requests (4xx) are outcomes of one request, not of the service's health.
    """

    def __init__(self, reason: FallbackReason, detail: str = "", *, model_fault: bool = False) -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason: FallbackReason = reason
        self.detail = detail
        self.model_fault = model_fault


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

    async def generate(
        self,
        kind: Kind,
        prompt: Prompt,
        *,
        on_partial: PartialCallback | None = None,
        trace: ModelTrace | None = None,
    ) -> Generation:
        """Generate, calling `on_partial` with displayable partial results as they stream in; note in `trace`
        when the request went out and its first chunk came back."""


class _Invalid(Exception):
    """The output did not validate against the schema."""


class _CutOff(Exception):
    """The output stopped at the token budget (`finish_reason: length`)."""


_KEYLIKE = re.compile(r"\bsk-[A-Za-z0-9_*.-]{2,}[A-Za-z0-9_*]")


def _redact(message: str, secret: str | None) -> str:
    """OpenAI's message on one line, at most 300 characters, with the key and anything key-like removed."""
    if secret:
        message = message.replace(secret, "[key]")
    return _KEYLIKE.sub("[key]", " ".join(message.split()))[:300]


def describe_error(exc: openai.APIError, secret: str | None = None) -> str:
    """`HTTP 404 model_not_found: <OpenAI's message>` for an API error (never a key, not even a masked one)."""
    if isinstance(exc, openai.APITimeoutError):
        return "timed out"
    if isinstance(exc, openai.APIConnectionError):
        return f"connection failed ({type(exc.__cause__ or exc).__name__})"
    message = exc.message
    if isinstance(exc.body, dict) and isinstance(exc.body.get("message"), str):
        message = exc.body["message"]
    message = _redact(message, secret)
    status = f"HTTP {exc.status_code}" if isinstance(exc, openai.APIStatusError) else "error"
    code = f" {exc.code}" if exc.code else ""
    param = f" (param {exc.param})" if exc.param else ""
    return f"{status}{code}{param}: {message}"


def _failure(exc: openai.APIError, model: str, secret: str | None) -> GenerationError:
    """The `GenerationError` of an API error, logged with status, code and OpenAI's message.

    Service health (5xx, timeouts, connection errors, 429 after retries) is a WARNING; a request OpenAI refuses
    (400, 401, 403, 404 …: a setting to fix) is an ERROR."""
    detail = describe_error(exc, secret)
    if isinstance(exc, openai.APITimeoutError):
        failure = GenerationError("timeout", detail, model_fault=True)
    elif isinstance(exc, openai.RateLimitError):
        failure = GenerationError("rate_limited", detail, model_fault=True)
    elif isinstance(exc, openai.APIStatusError) and exc.status_code < 500:
        failure = GenerationError("error", detail)
    else:  # 5xx, connection errors
        failure = GenerationError("error", detail, model_fault=True)
    # an exhausted quota also rests the model, but only the operator can end it
    error = not failure.model_fault or exc.code == "insufficient_quota"
    log.log(logging.ERROR if error else logging.WARNING, "OpenAI request for %s failed: %s", model, detail)
    return failure


def build_client(config: ModelConfig) -> AsyncOpenAI | None:
    """The one `AsyncOpenAI` client, or None without an API key (then the offline tables answer)."""
    if config.api_key is None:
        return None
    return AsyncOpenAI(
        api_key=config.api_key,
        base_url=config.base_url,
        timeout=config.timeout_seconds,
        max_retries=config.max_retries,
    )


def build_generator(config: ModelConfig, client: AsyncOpenAI | None) -> OpenAIGenerator | None:
    """A generator over `client` with the configured model's request plan, or None without a client (the
    settings the model does not take are logged, one line each)."""
    if client is None:
        return None
    plan = plan_requests(
        config.model,
        max_output_tokens=config.max_output_tokens,
        temperature=config.temperature,
        reasoning_effort=config.reasoning_effort,
        deadline_seconds=config.deadline_seconds,
    )
    for note in plan.notes:
        log.warning("%s", note)
    log.info(
        "model %s (%s profile): %s=%d, temperature %s, reasoning effort %s",
        plan.model,
        plan.profile.family,
        plan.profile.token_param,
        plan.max_tokens,
        "default" if plan.temperature is None else f"{plan.temperature:g}",
        plan.reasoning_effort or "not sent",
    )
    return OpenAIGenerator(client, plan, secret=config.api_key)


@dataclass(slots=True)
class ModelTrace:
    """When the request went out and when the model's first streamed chunk came back (event-loop clock).

    The engine reads it when its own deadline fires, to tell a silent model from a busy bot.
    """

    sent_at: float | None = None
    first_byte_at: float | None = None


@cache
def response_format(kind: Kind) -> dict[str, Any]:
    """The strict structured-output `response_format` of `kind` (what the SDK's `parse` helpers send)."""
    schema = schema_for(kind)
    return {
        "type": "json_schema",
        "json_schema": {"name": schema.__name__, "schema": to_strict_json_schema(schema), "strict": True},
    }


def partial_json(text: str) -> Any:
    """The object a partial JSON text has so far (unfinished strings kept), or None when nothing parses yet."""
    try:
        return jiter.from_json(text.encode(), partial_mode="trailing-strings")
    except ValueError:
        return None


class OpenAIGenerator:
    """Streams structured output from the chat-completions API and validates it, retrying once if invalid and
    once with twice the token budget if cut off (never the same request twice for a cut-off).

    The stream is read chunk by chunk with only a string join per chunk; the partial JSON is parsed when a
    partial is due (every `partial_interval`, and at every chunk until the first field is complete, since that
    moment extends the engine's deadline). The final text is validated strictly against the kind's schema
    (`extra="forbid"`, every field required), as the SDK's `parse` would.
    """

    def __init__(
        self, client: AsyncOpenAI, plan: RequestPlan, *, secret: str | None = None, partial_interval: float = 0.2
    ) -> None:
        self.client = client
        self.plan = plan
        self.model = plan.model
        self.partial_interval = partial_interval
        self._secret = secret  # kept out of every log line and error detail

    async def generate(
        self,
        kind: Kind,
        prompt: Prompt,
        *,
        on_partial: PartialCallback | None = None,
        trace: ModelTrace | None = None,
    ) -> Generation:
        """One validated result; `GenerationError` on failure (invalid output is retried once; output cut at the
        token budget once with twice the budget)."""
        budget = self.plan.max_tokens
        for attempt in (1, 2):
            try:
                return await self._attempt(kind, prompt, on_partial, trace, budget)
            except _CutOff:
                log.warning("%s output from %s cut at %d tokens (attempt %d)", kind, self.model, budget, attempt)
                if attempt == 2:
                    raise GenerationError("invalid", "output cut at the token limit") from None
                budget *= 2
            except _Invalid as exc:
                log.warning("invalid %s output from %s (attempt %d): %s", kind, self.model, attempt, exc)
                if attempt == 2:
                    raise GenerationError("invalid", str(exc)[:200]) from None
            except openai.APIError as exc:
                raise _failure(exc, self.model, self._secret) from None
        raise AssertionError("unreachable")

    async def _attempt(
        self, kind: Kind, prompt: Prompt, on_partial: PartialCallback | None, trace: ModelTrace | None, budget: int
    ) -> Generation:
        loop = asyncio.get_running_loop()
        if trace is not None and trace.sent_at is None:
            trace.sent_at = loop.time()
        content: list[str] = []
        refusal: list[str] = []
        finish: str | None = None
        usage: dict[str, Any] | None = None
        model = ""
        last_emit = 0.0
        showing = False  # a partial with at least one field has been shown
        # the raw SSE lines, parsed here with `json.loads`: the SDK's stream would build a pydantic chunk object
        # per event, which cost more than everything else the bot does per panic
        async with self.client.chat.completions.with_streaming_response.create(  # type: ignore[call-overload]
            model=self.model,
            messages=prompt.messages(),
            # the same strict `response_format`, sent as-is: as a typed parameter the SDK walks the whole JSON
            # schema on every request to rename aliased keys, of which it has none (1-2 ms of event-loop time)
            extra_body={"response_format": response_format(kind)},
            stream=True,
            stream_options={"include_usage": True},
            **self.plan.params(budget),  # temperature, reasoning effort and the token budget the model takes
        ) as response:
            done = False
            # read to the end of the body even after [DONE]: a response left unread closes its connection, and
            # every panic would then pay for a new one (a TLS handshake, against the real API)
            async for line in response.iter_lines():
                if done or not line.startswith("data:"):
                    continue
                payload = line[5:].strip()
                if payload == "[DONE]":
                    done = True
                    continue
                if trace is not None and trace.first_byte_at is None:
                    trace.first_byte_at = loop.time()
                try:
                    chunk = json.loads(payload)
                except ValueError:
                    raise _Invalid("malformed stream event") from None
                if not isinstance(chunk, dict):
                    raise _Invalid("malformed stream event")
                if chunk.get("error"):
                    raise _stream_failure(chunk["error"], self.model, self._secret)
                if isinstance(chunk.get("usage"), dict):
                    usage = chunk["usage"]
                model = str(chunk.get("model") or model)
                fresh = False
                for choice in chunk.get("choices") or ():
                    if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                        continue
                    delta = choice.get("delta") or {}
                    if delta.get("content"):
                        content.append(str(delta["content"]))
                        fresh = True
                    if delta.get("refusal"):
                        refusal.append(str(delta["refusal"]))
                    if choice.get("finish_reason"):
                        finish = str(choice["finish_reason"])
                if on_partial is None or not fresh:
                    continue
                now = time.monotonic()
                if showing and now - last_emit < self.partial_interval:
                    continue
                data = partial_json("".join(content))
                if isinstance(data, dict):
                    improv = partial_improv(kind, data)
                    if improv.fields() or now - last_emit >= self.partial_interval:
                        last_emit = now
                        showing = showing or bool(improv.fields())
                        await on_partial(improv)
        if refusal:
            log.info("%s refused a %s: %s", self.model, kind, "".join(refusal)[:200])
            raise GenerationError("refusal", "".join(refusal)[:200])
        if finish == "content_filter":
            log.info("%s stopped a %s at its content filter", self.model, kind)
            raise GenerationError("refusal", "content filter")
        if finish == "length":
            raise _CutOff
        text = "".join(content)
        if not text.strip():
            raise _Invalid("no content")
        try:
            improv = schema_for(kind).model_validate_json(text)
        except ValidationError as exc:
            raise _Invalid(f"{exc.error_count()} validation errors") from exc
        improv = _validated(improv)
        tokens_in = int(usage.get("prompt_tokens") or prompt.tokens) if usage else prompt.tokens
        tokens_out = int(usage.get("completion_tokens") or 0) if usage else len(improv.text()) // 4
        return Generation(improv=improv, tokens_in=tokens_in, tokens_out=tokens_out, model=model or self.model)


def _stream_failure(error: Any, model: str, secret: str | None) -> GenerationError:
    """The `GenerationError` of an error event inside a stream (the server failed mid-answer), logged."""
    body = error if isinstance(error, dict) else {"message": str(error)}
    code = f" {body['code']}" if body.get("code") else ""
    detail = f"stream error{code}: {_redact(str(body.get('message') or ''), secret)}"
    log.warning("OpenAI stream for %s failed: %s", model, detail)
    return GenerationError("error", detail, model_fault=True)


def _validated(improv: Improv) -> Improv:
    """Reject results a GM cannot use: no title or empty fields (models behind local servers may do that)."""
    if not improv.title.strip():
        raise _Invalid("empty title")
    if not improv.fields():
        raise _Invalid("no fields")
    return improv
