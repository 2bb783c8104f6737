"""Embedding requests within OpenAI's limits, counted in real tokens: the offline tokenizer, long inputs split and
never cut, the fake refusing what OpenAI refuses, and a 1.2-million-character non-Latin import end to end."""

from __future__ import annotations

import gzip
import hashlib
import importlib.resources
import math
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import openai
import pytest
import pytest_asyncio
from openai import AsyncOpenAI

from bot.memory.embedders import MAX_INPUT_TOKENS, MAX_INPUTS, MAX_REQUEST_TOKENS, OpenAIEmbedder
from bot.memory.errors import EmbeddingRefused
from bot.memory.tokens import count_tokens, split_by_tokens
from bot.memory.types import Upload
from bot.services import open_services
from db.migrate import upgrade
from tests.cogs.conftest import model_settings
from tests.conftest import REPO_ROOT
from tests.fakes.openai import FakeOpenAI, embedding_tokens, fake_embedding, running_openai
from tests.memory.memory_support import new_guild
from tests.memory.multilingual import LANGUAGES, gazetteer

CL100K_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"  # tiktoken's expected hash


@pytest_asyncio.fixture(loop_scope="session")
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    async with running_openai() as fake:
        yield fake


def _client(fake: FakeOpenAI) -> AsyncOpenAI:
    return AsyncOpenAI(api_key=fake.api_key, base_url=fake.base_url, timeout=30.0, max_retries=0)


# --- the tokenizer ----------------------------------------------------------------------------------------------


def test_the_vocabulary_is_the_official_cl100k_base_shipped_in_the_package() -> None:
    assert count_tokens("Hello, world!") == 4  # [9906, 11, 1917, 0] in cl100k_base
    assert count_tokens("<|endoftext|>") > 1  # special-token text is plain text to the embeddings API
    packed = importlib.resources.files("bpe_openai") / "data" / "cl100k_base.tiktoken.gz"
    assert hashlib.sha256(gzip.decompress(packed.read_bytes())).hexdigest() == CL100K_SHA256


def test_counting_needs_no_network(tmp_path: Path) -> None:
    script = (
        "import socket\n"
        "def refuse(*a, **k):\n"
        "    raise OSError('network used')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "socket.getaddrinfo = refuse\n"
        "from bot.memory.tokens import count_tokens\n"
        "print(count_tokens('Старый мельник рассказал путникам о башне.'))\n"
    )
    env = {"HOME": str(tmp_path), "TIKTOKEN_CACHE_DIR": str(tmp_path / "none"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=REPO_ROOT, check=False
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > 5


@pytest.mark.parametrize("language", LANGUAGES)
def test_long_text_is_split_within_the_limit_and_nothing_is_lost(language: str) -> None:
    text = gazetteer(60_000, languages=(language,), seed=len(language))
    pieces = split_by_tokens(text, MAX_INPUT_TOKENS)
    assert "".join(pieces) == text
    assert len(pieces) >= math.ceil(count_tokens(text) / MAX_INPUT_TOKENS)
    assert all(count_tokens(p) <= MAX_INPUT_TOKENS for p in pieces)
    assert all(p.endswith(("\n", " ", "。", "।")) for p in pieces[:-1])  # at breaks, not mid-word


def test_text_without_breaks_is_split_too() -> None:
    text = "界" * 30_000 + "A" * 70_000
    pieces = split_by_tokens(text, 1000)
    assert "".join(pieces) == text
    assert all(count_tokens(p) <= 1000 for p in pieces)


# --- the fake refuses what OpenAI refuses ---------------------------------------------------------------------


async def test_the_fake_refuses_over_limit_requests_with_openais_bodies(fake_openai: FakeOpenAI) -> None:
    client = _client(fake_openai)
    model = "text-embedding-3-small"
    with pytest.raises(openai.BadRequestError) as too_many:
        await client.embeddings.create(model=model, input=["a"] * (MAX_INPUTS + 1))
    assert "array length must be 2048 or less" in too_many.value.message

    long_input = "पुराने मिलर ने यात्रियों को बताया। " * 700
    assert embedding_tokens(long_input) > 8192
    with pytest.raises(openai.BadRequestError) as too_long:
        await client.embeddings.create(model=model, input=[long_input])
    assert "maximum context length is 8192 tokens" in too_long.value.message

    chunk = split_by_tokens(gazetteer(400_000, languages=("zh",)), 8000)
    with pytest.raises(openai.BadRequestError) as too_big:
        await client.embeddings.create(model=model, input=chunk[:40])
    requested = sum(embedding_tokens(c) for c in chunk[:40])
    assert requested > MAX_REQUEST_TOKENS
    assert too_big.value.code == "max_tokens_per_request"
    assert f"Requested {requested} tokens, max 300000 tokens per request" in too_big.value.message
    await client.close()


# --- the embedder ---------------------------------------------------------------------------------------------


async def test_a_long_input_is_embedded_in_parts_and_averaged(fake_openai: FakeOpenAI) -> None:
    fake_openai.requests.clear()
    text = gazetteer(40_000, languages=("ja",))
    parts = split_by_tokens(text, MAX_INPUT_TOKENS)
    assert len(parts) > 1
    vector = await OpenAIEmbedder(_client(fake_openai)).embed_query(text)
    sent = [i for r in fake_openai.embedding_requests() for i in r.body["input"]]
    assert "".join(sent) == text  # every character went to the service: nothing cut off
    weights = np.array([count_tokens(p) for p in parts], dtype=np.float64)
    expected = (np.array([fake_embedding(p, 1536) for p in parts]) * weights[:, None]).sum(axis=0)
    np.testing.assert_allclose(vector, expected / np.linalg.norm(expected), atol=1e-5)


async def test_a_huge_non_latin_import_sends_no_request_over_the_limits(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    """The done-when of issue 13: 1.2 million characters in six scripts, imported with EMBEDDER=openai through the
    services the bot runs; the fake counts every request's real tokens and refuses any over the limits."""
    notes = gazetteer(1_200_000).encode()
    total = count_tokens(notes.decode())
    assert total > 3 * MAX_REQUEST_TOKENS
    fake_openai.requests.clear()
    fake_openai.embedding_token_counts.clear()
    settings = model_settings(tmp_path / "d", fake_openai, embedder="openai", max_upload_mb=8)
    async with open_services(settings) as services:
        await upgrade(services.engine)
        guild = new_guild()
        report = await services.memory.import_file(guild, "atlas.md", "text/markdown", notes)
        hits = await services.memory.search(guild, "Старый мельник и проклятая башня", k=3)
    requests = fake_openai.embedding_requests()
    counts = fake_openai.embedding_token_counts
    assert report.outcome == "imported"
    assert report.chunks > 1000
    assert len(counts) == len(requests) >= 4
    assert max(counts) <= MAX_REQUEST_TOKENS  # none refused: the fake answers 400 above it
    assert all(len(r.body["input"]) <= MAX_INPUTS for r in requests)
    assert sum(counts[:-1]) >= total  # every chunk embedded (with its breadcrumb and overlap), then the query
    assert hits


async def test_a_permanent_refusal_reaches_the_gm_as_what_it_is(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    """The project lost access to the embedding model: each file says so with OpenAI's message, not "try again"."""
    fake_openai.embedding_models.discard("text-embedding-3-small")
    try:
        settings = model_settings(tmp_path / "d", fake_openai, embedder="openai")
        async with open_services(settings) as services:
            await upgrade(services.engine)
            results = await services.memory.import_files(
                new_guild(),
                [Upload("a.md", "text/markdown", b"# A\n\nThe ferry."), Upload("b.md", None, b"# B\n\nThe mill.")],
            )
    finally:
        fake_openai.embedding_models.add("text-embedding-3-small")
    assert [type(r) for r in results] == [EmbeddingRefused, EmbeddingRefused]
    message = results[0].message  # type: ignore[union-attr]
    assert message.startswith("Campaign memory can't index this: the embedding service refused the request")
    assert "HTTP 404, model_not_found" in message
    assert "The model `text-embedding-3-small` does not exist or you do not have access to it" in message
    assert "try again shortly" not in message
