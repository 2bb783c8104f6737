"""A loopback fake of the OpenAI API that the real `openai` client (httpx2 underneath) talks to.

Routes: `POST /v1/chat/completions` (plain and streamed SSE, structured output generated from the request's
`response_format.json_schema`), `GET /v1/models/{id}` and `POST /v1/embeddings` (deterministic unit vectors,
`dimensions` honoured, float or base64 encoding; inputs counted in real cl100k_base tokens and refused over
OpenAI's limits with its error bodies: more than 2,048 inputs or an empty one, an input over 8,192 tokens, more
than 300,000 tokens in a request). Failure modes per test: 429 with Retry-After, 500, a hang, malformed JSON
content, a refusal, a content-filter stop, a cut at the token limit. Every request body is recorded so tests can
assert what the bot sent.

Like the real API, it serves only the models it knows (the pinned SDK's `ChatModel` names, plus `extra_models`
for a compatible server's own names) and answers 404 `model_not_found` for others; reasoning models (o-series,
gpt-5.x, gpt-6) refuse `max_tokens`, a temperature other than 1 and reasoning efforts they do not take, and
non-reasoning models refuse `reasoning_effort`, each with OpenAI's error body. A reasoning model spends
`reasoning_tokens[effort]` of its `max_completion_tokens` before it writes, and stops with `length` when the
budget runs out.

Use: `async with running_openai() as fake:` then `Settings(openai_api_key=fake.api_key,
openai_base_url=fake.base_url)`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import hashlib
import json
import random
import re
import time
import warnings
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np
from aiohttp import web
from openai.types.shared.chat_model import ChatModel

from tests.fakes.loopback import serve_loopback

__all__ = ["API_KEY", "FakeOpenAI", "Mode", "RecordedRequest", "running_openai"]

API_KEY = "sk-test-fake-openai-key"
Mode = Literal["ok", "429", "500", "hang", "malformed", "refusal", "content_filter", "length"]

#: the chat models OpenAI serves (the pinned SDK's list, less the id its notes call unsupported)
CHAT_MODELS = frozenset(get_args(ChatModel)) - {"gpt-5.1-mini"}
#: announced shutdown dates, as the SDK's `ChatModel` notes list them (what `GET /v1/models/{id}` reports)
SHUTDOWN_DATES = {
    **dict.fromkeys(("gpt-4o-mini", "gpt-4o-mini-2024-07-18", "gpt-4o", "gpt-4.1", "gpt-4.1-mini"), "2027-01-14"),
    **dict.fromkeys(("gpt-5", "gpt-5-mini", "gpt-5-nano", "o3"), "2026-12-11"),
    **dict.fromkeys(("gpt-5.4-nano", "gpt-5.1"), "2027-04-01"),
    **dict.fromkeys(("gpt-4.1-nano", "o4-mini", "o3-mini", "o1", "gpt-4-turbo", "gpt-3.5-turbo"), "2026-10-23"),
}
#: reasoning tokens a request spends before its answer, by effort (tests may change them)
REASONING_TOKENS = {"none": 0, "minimal": 48, "low": 300, "medium": 1200, "high": 4000, "xhigh": 8000, "max": 16000}


def accepted_efforts(model: str) -> tuple[str, ...]:
    """The `reasoning_effort` values `model` takes, lowest first; () for a model without reasoning."""
    if re.match(r"^o\d(-|$)", model):
        return ("low", "medium", "high")
    if model.endswith("-chat-latest") or not re.match(r"^gpt-([5-9]|\d\d)", model):
        return ()
    if re.match(r"^gpt-5(-|$)", model):
        return ("minimal", "low", "medium", "high")
    if model.startswith("gpt-5.1"):
        return ("none", "low", "medium", "high")
    if model.startswith("gpt-5."):
        return ("none", "low", "medium", "high", "xhigh")
    return ("none", "low", "medium", "high", "xhigh", "max")


def _error(
    status: int, message: str, code: str | None, param: str | None, kind: str = "invalid_request_error"
) -> web.Response:
    """OpenAI's error body."""
    return web.json_response({"error": {"message": message, "type": kind, "param": param, "code": code}}, status=status)


_WORDS = [
    "lantern",
    "ash",
    "river",
    "crooked",
    "silver",
    "mossy",
    "hollow",
    "bell",
    "iron",
    "quiet",
    "bright",
    "salt",
    "thorn",
    "ember",
    "stone",
    "lonely",
    "copper",
    "misty",
    "cracked",
    "gentle",
    "grim",
    "velvet",
    "bitter",
    "old",
    "smoky",
    "brave",
    "wary",
    "sly",
]
_NOUNS = [
    "bridge",
    "tower",
    "cellar",
    "well",
    "market",
    "shrine",
    "road",
    "mill",
    "harbor",
    "gate",
    "chapel",
    "orchard",
    "forge",
    "archive",
    "ferry",
    "tavern",
    "stair",
    "vault",
    "garden",
    "barrow",
]
_FIRST = ["Tobin", "Asha", "Corvin", "Deline", "Ewart", "Fara", "Gideon", "Hesper", "Ivo", "Juno", "Kestrel", "Lark"]
_LAST = ["Marsh", "Quillon", "Rooke", "Sable", "Tansy", "Umber", "Vance", "Wilder", "Yarrow", "Zeller"]
_CANON_LINE = re.compile(r"^Canon names[^:]*:\s*(.+)$", re.MULTILINE)


@dataclass
class RecordedRequest:
    """One request the fake received."""

    path: str
    body: dict[str, Any]
    headers: dict[str, str]
    at: float
    peer: tuple[str, int] | None = None  # the client's address: one per TCP connection

    @property
    def prompt(self) -> str:
        """All message contents joined (chat requests)."""
        return "\n".join(str(m.get("content", "")) for m in self.body.get("messages", []))


@dataclass
class FakeOpenAI:
    """The fake server and its knobs (change them between or during tests)."""

    delay: float = 0.0  # seconds before the first byte of an answer (time to first token)
    chunk_delay: float = 0.0  # seconds between streamed chunks
    chunk_size: int = 24  # characters of JSON content per streamed chunk
    mode: Mode = "ok"
    retry_after: float = 0.0
    overrides: dict[str, Any] = field(default_factory=dict)  # top-level answer fields forced to these values
    mention_canon: bool = True  # free-text fields may mention names from the prompt's canon list
    requests: list[RecordedRequest] = field(default_factory=list)
    embedding_token_counts: list[int] = field(default_factory=list)  # real tokens of each embeddings request
    embedding_models: set[str] = field(
        default_factory=lambda: {"text-embedding-3-small", "text-embedding-3-large", "text-embedding-ada-002"}
    )
    api_key: str = API_KEY
    extra_models: set[str] = field(default_factory=set)  # names a compatible server serves besides OpenAI's
    reasoning_tokens: dict[str, int] = field(default_factory=lambda: dict(REASONING_TOKENS))
    _queue: deque[Mode] = field(default_factory=deque)
    _runner: web.AppRunner | None = None
    _port: int = 0
    _closing: asyncio.Event = field(default_factory=asyncio.Event)
    _counter: int = 0

    # --- control -------------------------------------------------------------------------------------
    def fail_next(self, *modes: Mode) -> None:
        """Apply `modes` to the next requests, one each, then go back to `mode`."""
        self._queue.extend(modes)

    @property
    def base_url(self) -> str:
        """What to pass as `OPENAI_BASE_URL`."""
        return f"http://127.0.0.1:{self._port}/v1"

    def chat_requests(self) -> list[RecordedRequest]:
        """The chat-completion requests received so far."""
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    async def start(self) -> None:
        """Listen on a free loopback port."""
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models/{model}", self._model)
        app.router.add_post("/v1/embeddings", self._embeddings)
        self._runner, self._port = await serve_loopback(app)

    async def stop(self) -> None:
        """Release hung requests and stop listening."""
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()

    # --- helpers -------------------------------------------------------------------------------------
    def _check_auth(self, request: web.Request) -> web.Response | None:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if given != self.api_key:
            masked = f"{given[:8]}{'*' * max(0, len(given) - 12)}{given[-4:]}"  # as OpenAI masks it
            message = (
                f"Incorrect API key provided: {masked}. You can find your API key at "
                "https://platform.openai.com/account/api-keys."
            )
            return _error(401, message, "invalid_api_key", None)
        return None

    async def _record(self, request: web.Request) -> dict[str, Any] | None:
        """The request's body, recorded; None when the client gave up (a deadline) before its body was read.

        The fake shares the bot's event loop: on a busy machine the client's deadline can fire before this handler
        runs, and reading the body of a closed connection raises `ConnectionResetError`, which aiohttp would log.
        """
        try:
            body: dict[str, Any] = await request.json()
        except ConnectionResetError:
            return None
        peer = request.transport.get_extra_info("peername") if request.transport is not None else None
        self.requests.append(
            RecordedRequest(
                request.path, body, dict(request.headers), time.monotonic(), tuple(peer[:2]) if peer else None
            )
        )
        return body

    def _next_mode(self) -> Mode:
        return self._queue.popleft() if self._queue else self.mode

    async def _hang(self) -> None:
        await self._closing.wait()

    # --- chat ----------------------------------------------------------------------------------------
    async def _transport_failure(self, mode: Mode) -> web.Response | None:
        """The answer for a hang, 429 or 500 mode (after the configured delay), else None; shared by both routes."""
        if mode == "hang":
            await self._hang()
            return web.Response(status=499)
        if self.delay:
            await asyncio.sleep(self.delay)
        if mode == "429":
            return web.json_response(
                {"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}},
                status=429,
                headers={"Retry-After": str(self.retry_after), "x-should-retry": "true"},
            )
        if mode == "500":
            return web.json_response(
                {"error": {"message": "The server had an error", "type": "server_error", "code": None}}, status=500
            )
        return None

    # --- models --------------------------------------------------------------------------------------
    def serves(self, model: str) -> bool:
        """Whether `model` exists here."""
        return model in CHAT_MODELS or model in self.extra_models

    async def _model(self, request: web.Request) -> web.Response:
        denied = self._check_auth(request)
        if denied is not None:
            return denied
        self.requests.append(RecordedRequest(request.path, {}, dict(request.headers), time.monotonic()))
        model = request.match_info["model"]
        if not self.serves(model):
            return _error(404, f"The model '{model}' does not exist", "model_not_found", "model")
        owner = "system" if model in CHAT_MODELS else "library"
        return web.json_response(
            {
                "id": model,
                "object": "model",
                "created": 1_721_172_741,
                "owned_by": owner,
                "shutdown_date": SHUTDOWN_DATES.get(model),
            }
        )

    def _refused(self, body: dict[str, Any]) -> web.Response | None:
        """OpenAI's 4xx for a model it does not serve or a parameter the model does not take, else None."""
        model = str(body.get("model", ""))
        if not self.serves(model):
            message = f"The model `{model}` does not exist or you do not have access to it."
            return _error(404, message, "model_not_found", None)
        efforts = accepted_efforts(model)
        effort = body.get("reasoning_effort")
        if not efforts:
            if effort is not None:
                message = "Unsupported parameter: 'reasoning_effort' is not supported with this model."
                return _error(400, message, "unsupported_parameter", "reasoning_effort")
            return None
        if "max_tokens" in body:
            message = (
                "Unsupported parameter: 'max_tokens' is not supported with this model. "
                "Use 'max_completion_tokens' instead."
            )
            return _error(400, message, "unsupported_parameter", "max_tokens")
        temperature = body.get("temperature")
        if temperature is not None and temperature != 1:
            message = (
                f"Unsupported value: 'temperature' does not support {temperature} with this model. "
                "Only the default (1) value is supported."
            )
            return _error(400, message, "unsupported_value", "temperature")
        if effort is not None and effort not in efforts:
            listed = ", ".join(f"'{e}'" for e in efforts[:-1]) + f", and '{efforts[-1]}'"
            message = (
                f"Unsupported value: 'reasoning_effort' does not support '{effort}' with this model. "
                f"Supported values are: {listed}."
            )
            return _error(400, message, "unsupported_value", "reasoning_effort")
        return None

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        denied = self._check_auth(request)
        if denied is not None:
            return denied
        body = await self._record(request)
        if body is None:
            return web.Response(status=499)
        refused = self._refused(body)
        if refused is not None:
            return refused
        mode = self._next_mode()
        self._counter += 1
        failed = await self._transport_failure(mode)
        if failed is not None:
            return failed

        prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
        seed = int.from_bytes(hashlib.sha256(f"{self._counter}:{prompt}".encode()).digest()[:8], "big")
        refusal: str | None = None
        finish = "stop"
        content = ""
        if mode == "refusal":
            refusal = "I'm sorry, I can't help with that request."
        else:
            content = self._content(body, prompt, random.Random(seed))
            if mode == "malformed":
                content = content[: len(content) // 2] + ' "oops": ]]} trailing'
            if mode == "content_filter":
                finish = "content_filter"
        model = str(body.get("model", ""))
        reasoning = 0
        if accepted_efforts(model):
            default = "none" if "none" in accepted_efforts(model) else "medium"  # OpenAI's default efforts
            effort = str(body.get("reasoning_effort") or default)
            reasoning = self.reasoning_tokens.get(effort, 0)
        budget = body.get("max_completion_tokens") or body.get("max_tokens")
        if budget is not None and reasoning + len(content) // 4 > int(budget):
            content, finish = content[: max(0, int(budget) - reasoning) * 4], "length"  # the budget ran out
        elif mode == "length":
            content, finish = content[: len(content) // 2], "length"
        usage: dict[str, Any] = {
            "prompt_tokens": max(1, len(prompt) // 4),
            "completion_tokens": max(1, len(content or refusal or "") // 4) + reasoning,
            "total_tokens": 0,
            "completion_tokens_details": {"reasoning_tokens": reasoning},
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return await self._stream(request, model, content, refusal, finish, usage if include_usage else None)
        message = {"role": "assistant", "content": content or None, "refusal": refusal}
        return web.json_response(
            {
                "id": f"chatcmpl-fake{self._counter}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
                "usage": usage,
            }
        )

    async def _stream(
        self,
        request: web.Request,
        model: str,
        content: str,
        refusal: str | None,
        finish: str,
        usage: dict[str, Any] | None,
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        with contextlib.suppress(ConnectionResetError):  # the client gave up (a deadline): nothing more to send
            await response.prepare(request)
            await self._write_events(response, model, content, refusal, finish, usage)
        return response

    async def _write_events(
        self,
        response: web.StreamResponse,
        model: str,
        content: str,
        refusal: str | None,
        finish: str,
        usage: dict[str, Any] | None,
    ) -> None:
        base = {
            "id": f"chatcmpl-fake{self._counter}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
        }

        async def send(choices: list[dict[str, Any]], extra: dict[str, Any] | None = None) -> None:
            payload = {**base, "choices": choices, **(extra or {})}
            await response.write(f"data: {json.dumps(payload)}\n\n".encode())

        await send([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])
        if refusal is not None:
            for i in range(0, len(refusal), self.chunk_size):
                await send(
                    [{"index": 0, "delta": {"refusal": refusal[i : i + self.chunk_size]}, "finish_reason": None}]
                )
        size = max(1, self.chunk_size)
        for i in range(0, len(content), size):
            if self.chunk_delay:
                await asyncio.sleep(self.chunk_delay)
            await send([{"index": 0, "delta": {"content": content[i : i + size]}, "finish_reason": None}])
        await send([{"index": 0, "delta": {}, "finish_reason": finish}])
        if usage is not None:
            await send([], {"usage": usage})
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()

    def _content(self, body: dict[str, Any], prompt: str, rng: random.Random) -> str:
        fmt = body.get("response_format") or {}
        if fmt.get("type") == "json_schema":
            schema = fmt["json_schema"]["schema"]
            canon: list[str] = []
            found = _CANON_LINE.search(prompt)
            if found and self.mention_canon:
                canon = [n.strip() for n in found.group(1).split(";") if n.strip()]
            value = _Walker(schema, rng, canon).value(schema, "")
            if isinstance(value, dict):
                value.update(self.overrides)
            return json.dumps(value)
        return "A plain answer from the fake model."

    # --- embeddings ----------------------------------------------------------------------------------
    def embedding_requests(self) -> list[RecordedRequest]:
        """The embedding requests received so far (refused ones included)."""
        return [r for r in self.requests if r.path.endswith("/embeddings")]

    async def _embeddings(self, request: web.Request) -> web.Response:
        denied = self._check_auth(request)
        if denied is not None:
            return denied
        body = await self._record(request)
        if body is None:
            return web.Response(status=499)
        mode = self._next_mode()
        failed = await self._transport_failure(mode)
        if failed is not None:
            return failed
        model = str(body.get("model", ""))
        if model not in self.embedding_models:
            message = f"The model `{model}` does not exist or you do not have access to it."
            return _error(404, message, "model_not_found", None)
        if body.get("dimensions") is not None and model == "text-embedding-ada-002":
            return _invalid("This model does not support specifying dimensions.")
        raw = body.get("input", [])
        inputs = [raw] if isinstance(raw, str) else list(raw)
        counts = [embedding_tokens(str(t)) for t in inputs]
        self.embedding_token_counts.append(sum(counts))
        refused = _refuse_embeddings(inputs, counts)
        if refused is not None:
            return refused
        dims = int(body.get("dimensions") or 1536)
        data = []
        for i, text in enumerate(inputs):
            vector = fake_embedding(str(text), dims)
            if body.get("encoding_format") == "base64":
                encoded: Any = base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()
            else:
                encoded = vector
            data.append({"object": "embedding", "index": i, "embedding": encoded})
        tokens = sum(counts)
        return web.json_response(
            {
                "object": "list",
                "data": data,
                "model": body.get("model", ""),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )


# OpenAI's limits for its embedding models, and its answers (status and body) when a request breaks them
EMBEDDING_MAX_INPUTS = 2048
EMBEDDING_CONTEXT = 8192
EMBEDDING_MAX_REQUEST_TOKENS = 300_000
_TOKEN_WINDOW = 40_000  # bpe-openai refuses single inputs of 1M characters or 200k tokens


@functools.cache
def _cl100k() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # bpe-openai 0.1.4 reads its data with open_binary
        import bpe_openai

        encoding = bpe_openai.get_encoding("cl100k_base")
        encoding.encode_ordinary("load")  # the vocabulary is read on first use
        return encoding


def embedding_tokens(text: str) -> int:
    """Tokens of `text` in cl100k_base (text-embedding-3-*), counted with the vocabulary bpe-openai ships."""
    encoding = _cl100k()
    return sum(len(encoding.encode_ordinary(text[i : i + _TOKEN_WINDOW])) for i in range(0, len(text), _TOKEN_WINDOW))


def _invalid(message: str, *, kind: str = "invalid_request_error", code: str | None = None) -> web.Response:
    return web.json_response({"error": {"message": message, "type": kind, "param": None, "code": code}}, status=400)


def _refuse_embeddings(inputs: list[Any], counts: list[int]) -> web.Response | None:
    """OpenAI's 400 for an embeddings request over its limits (or with an empty input), else None."""
    if not inputs or len(inputs) > EMBEDDING_MAX_INPUTS or any(not isinstance(t, str) or not t for t in inputs):
        return _invalid(
            "'$.input' is invalid: array length must be 2048 or less and no string empty. "
            "Please check the API reference: https://platform.openai.com/docs/api-reference."
        )
    if max(counts) > EMBEDDING_CONTEXT:
        return _invalid(f"Invalid 'input': maximum context length is {EMBEDDING_CONTEXT} tokens.")
    if sum(counts) > EMBEDDING_MAX_REQUEST_TOKENS:
        return _invalid(
            f"Requested {sum(counts)} tokens, max {EMBEDDING_MAX_REQUEST_TOKENS} tokens per request",
            kind="max_tokens_per_request",
            code="max_tokens_per_request",
        )
    return None


def fake_embedding(text: str, dims: int) -> list[float]:
    """A deterministic unit vector derived from a hash of `text`."""
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little"))
    values = rng.standard_normal(dims)
    unit: list[float] = (values / (np.linalg.norm(values) or 1.0)).tolist()
    return unit


class _Walker:
    """Builds a value that conforms to a (strict) JSON schema."""

    def __init__(self, root: dict[str, Any], rng: random.Random, canon: list[str]) -> None:
        self.root = root
        self.rng = rng
        self.canon = canon
        self.names_made = 0

    def _resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        ref = schema.get("$ref")
        if not ref:
            return schema
        node: Any = self.root
        for part in ref.lstrip("#/").split("/"):
            node = node[part]
        return dict(node)

    def value(self, schema: dict[str, Any], key: str) -> Any:
        schema = self._resolve(schema)
        if "anyOf" in schema:
            options = [self._resolve(o) for o in schema["anyOf"]]
            non_null = [o for o in options if o.get("type") != "null"]
            return self.value(non_null[0], key) if non_null else None
        if "enum" in schema:
            return self.rng.choice(schema["enum"])
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind == "object":
            props = schema.get("properties", {})
            return {name: self.value(sub, name) for name, sub in props.items()}
        if kind == "array":
            count = max(int(schema.get("minItems", 2)), min(3, int(schema.get("maxItems", 3))))
            return [self.value(schema.get("items", {"type": "string"}), key) for _ in range(count)]
        if kind == "integer":
            return self.rng.randint(1, 20)
        if kind == "number":
            return round(self.rng.uniform(1, 100), 1)
        if kind == "boolean":
            return self.rng.random() < 0.5
        if kind == "null":
            return None
        return self._string(key)

    def _string(self, key: str) -> str:
        if key == "name" or key.endswith("_name"):
            self.names_made += 1
            return f"{self.rng.choice(_FIRST)} {self.rng.choice(_LAST)}"
        words = [self.rng.choice(_WORDS) for _ in range(self.rng.randint(3, 6))]
        text = f"A {' '.join(words)} {self.rng.choice(_NOUNS)}"
        if self.canon and self.rng.random() < 0.5:
            text += f", tied to {self.rng.choice(self.canon)}"
        return text + "."


@asynccontextmanager
async def running_openai(**options: Any) -> AsyncIterator[FakeOpenAI]:
    """A started `FakeOpenAI`, stopped on exit."""
    fake = FakeOpenAI(**options)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()
