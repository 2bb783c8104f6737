"""Setting up Pinecone as an operator does: `improv pinecone init` and `check` as real processes against the fake
project, the startup check of the bot's services and of the CLI, and the fake's limits through the real SDK."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
import pytest_asyncio
from pinecone import AsyncPinecone
from pinecone.errors import ApiError

from bot.cli import build_parser
from bot.memory.stores import PineconeVectorStore, VectorRecord, namespace_for
from bot.services import open_services
from bot.settings import ConfigError, Settings
from db.migrate import upgrade
from tests.cogs.conftest import model_settings
from tests.fakes.openai import running_openai
from tests.fakes.pinecone import API_KEY, FakePineconeProject, running_project

IMPROV = Path(sys.executable).with_name("improv")
GUILD = 424_242_424_242


@pytest_asyncio.fixture(loop_scope="session")
async def project() -> AsyncIterator[FakePineconeProject]:
    async with running_project() as started:
        yield started


async def improv(data_dir: Path, *args: str, **env: str) -> tuple[int, str, str]:
    """Run `improv ARGS` as a process (the fakes keep serving from this event loop meanwhile)."""
    base = {k: v for k, v in os.environ.items() if not k.endswith(("_URL", "_KEY", "_TOKEN", "_SECRET", "_HOSTS"))}
    process = await asyncio.create_subprocess_exec(
        str(IMPROV),
        "--data-dir",
        str(data_dir),
        *args,
        env={**base, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def _pinecone_env(project: FakePineconeProject, **more: str) -> dict[str, str]:
    return {"PINECONE_API_KEY": API_KEY, "PINECONE_CONTROLLER_HOST": project.host, **more}


def _settings(project: FakePineconeProject, tmp_path: Path, **values: object) -> Settings:
    values = {"pinecone_api_key": API_KEY, "pinecone_controller_host": project.host, **values}
    return Settings.embedded(tmp_path / "d", **values)


async def run(settings: Settings, *argv: str) -> int:
    """An `improv` command's handler in this process, after the real parser."""
    args = build_parser().parse_args(list(argv))
    return int(await args.handler(args, settings) or 0)


# --- improv pinecone init / check ------------------------------------------------------------------------------


async def test_init_creates_a_dense_cosine_index_of_the_openai_dimension(
    project: FakePineconeProject, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = await improv(
        tmp_path, "pinecone", "init", "campaign-notes", **_pinecone_env(project, OPENAI_API_KEY="sk-test")
    )
    assert code == 0, err
    index = project.indexes["campaign-notes"]
    assert (index.kind, index.dimension, index.metric) == ("vectors", 1536, "cosine")
    assert "index campaign-notes created serverless, dense, cosine, 1536 dimensions" in out
    assert f"set PINECONE_INDEX_HOSTS={index.host}" in out
    create = next(body for method, path, body in project.requests if method == "POST" and path == "/indexes")
    assert create["deployment"] == {"deployment_type": "managed", "cloud": "aws", "region": "us-east-1"}

    # the index it made takes the bot's vectors
    store = PineconeVectorStore(API_KEY, [index.host], controller_host=project.host)
    try:
        assert await store.check(1536) == []
        vector = np.ones(1536, dtype=np.float32) / np.sqrt(1536)
        await store.upsert(GUILD, [VectorRecord("a" * 32 + ":00000", "a" * 32, vector)])
        assert len(index.vectors(namespace_for(GUILD))) == 1
    finally:
        await store.aclose()

    settings = _settings(project, tmp_path, openai_api_key="sk-test", pinecone_index_hosts=[index.host])
    assert await run(settings, "pinecone", "init", "campaign-notes") == 0
    again = capsys.readouterr().out
    assert "exists and fits" in again
    assert "already in PINECONE_INDEX_HOSTS" in again


async def test_init_takes_the_dimension_from_the_local_embedder(
    project: FakePineconeProject, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await run(_settings(project, tmp_path), "pinecone", "init", "local-notes", "--region", "eu-west-1") == 0
    assert project.indexes["local-notes"].dimension == 384
    assert "embedder: local (384 dimensions" in capsys.readouterr().out


async def test_init_refuses_an_existing_index_that_does_not_fit(
    project: FakePineconeProject, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await project.add_index("docs-index", 1536, kind="documents")
    await project.add_index("small-index", 384)
    env = _pinecone_env(project, EMBEDDER="openai", OPENAI_API_KEY="sk-test")
    code, _, err = await improv(tmp_path, "pinecone", "init", "docs-index", **env)
    assert code == 1
    assert err.strip().splitlines() == [
        "improv: index docs-index is a Documents-API index (schema fields: chunk_text, embedding), which refuses "
        "the vectors API the bot uses; create a dense index with `improv pinecone init`"
    ]
    settings = _settings(project, tmp_path, embedder="openai", openai_api_key="sk-test")
    assert await run(settings, "pinecone", "init", "small-index") == 1
    assert (
        "index small-index has dimension 384 but the configured embedder makes 1536-dimensional vectors"
        in capsys.readouterr().err
    )


async def test_check_names_every_index_that_does_not_fit(
    project: FakePineconeProject, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = await project.add_index("good-index", 384)
    wrong_metric = await project.add_index("euclid-index", 384, metric="euclidean")
    documents = await project.add_index("docs-384", 384, kind="documents")
    hosts = ",".join(i.host for i in (good, wrong_metric, documents))
    code, _, err = await improv(tmp_path, "pinecone", "check", **_pinecone_env(project, PINECONE_INDEX_HOSTS=hosts))
    assert code == 1
    lines = err.strip().splitlines()
    assert lines == [
        f"improv: Pinecone index {wrong_metric.host}: it uses the euclidean metric; the bot needs cosine",
        f"improv: Pinecone index {documents.host}: index docs-384 is a Documents-API index (schema fields: "
        "chunk_text, embedding), which refuses the vectors API the bot uses; create a dense index with "
        "`improv pinecone init`",
    ]
    assert await run(_settings(project, tmp_path, pinecone_index_hosts=[good.host]), "pinecone", "check") == 0
    assert "1 Pinecone index fit the local embedder: dense, cosine, 384-d" in capsys.readouterr().out


# --- the startup check ---------------------------------------------------------------------------------------


async def test_the_cli_stops_at_startup_with_one_line(project: FakePineconeProject, tmp_path: Path) -> None:
    small = await project.add_index("startup-384", 384)
    env = _pinecone_env(project, PINECONE_INDEX_HOSTS=small.host, OPENAI_API_KEY="sk-test", LOG_LEVEL="WARNING")
    code, out, err = await improv(tmp_path, "campaign", "list", "--guild", "1", **env)
    assert code == 2
    assert out == ""
    assert err.strip().splitlines() == [
        f"improv: Pinecone index {small.host}: its dimension is 384 but the configured embedder makes "
        "1536-dimensional vectors"
    ]


async def test_the_services_stop_on_a_documents_api_index_and_start_on_a_dense_one(
    project: FakePineconeProject, tmp_path: Path
) -> None:
    documents = await project.add_index("startup-docs", 384, kind="documents")
    dense = await project.add_index("startup-dense", 384)

    def settings(*hosts: str) -> Settings:
        return Settings.embedded(
            tmp_path / "d",
            pinecone_api_key=API_KEY,
            pinecone_index_hosts=list(hosts),
            pinecone_controller_host=project.host,
        )

    with pytest.raises(ConfigError, match=r"startup-docs is a Documents-API index") as stopped:
        async with open_services(settings(dense.host, documents.host)):
            pass
    assert "\n" not in str(stopped.value)
    async with open_services(settings(dense.host)) as services:
        assert services.describe()["vectors"] == "pinecone"


async def test_an_unknown_host_stops_the_startup(project: FakePineconeProject, tmp_path: Path) -> None:
    stranger = await project.add_index("elsewhere", 384)
    del project.indexes["elsewhere"]  # still answering, but not an index of this key's project
    try:
        settings = Settings.embedded(
            tmp_path / "d",
            pinecone_api_key=API_KEY,
            pinecone_index_hosts=[stranger.host],
            pinecone_controller_host=project.host,
        )
        with pytest.raises(ConfigError, match="no index of the API key's project has this host"):
            async with open_services(settings):
                pass
    finally:
        await stranger.stop()


# --- the fake is as strict as Pinecone -------------------------------------------------------------------------


async def test_the_fake_enforces_pinecones_limits_with_its_error_bodies(project: FakePineconeProject) -> None:
    dense = await project.add_index("limits", 8)
    documents = await project.add_index("limits-docs", 8, kind="documents")
    async with AsyncPinecone(api_key=API_KEY, host=project.host) as client:
        index = await client.index(host=dense.host)
        async with index:
            with pytest.raises(ApiError) as metadata:
                await index.upsert(vectors=[{"id": "a", "values": [0.1] * 8, "metadata": {"h": "x" * 41_000}}])
            assert metadata.value.status_code == 400
            assert "metadata size is 41008 bytes, which exceeds the limit of 40960 bytes per vector" in str(
                metadata.value
            )
            many = [{"id": f"v{i}", "values": [0.123456] * 8, "metadata": {"t": "y" * 3000}} for i in range(700)]
            with pytest.raises(ApiError) as size:
                await index.upsert(vectors=many)
            assert "Request size 3MB exceeds the maximum supported size of 2MB" in str(size.value)
            assert dense.namespaces == {}
        refusing = await client.index(host=documents.host)
        async with refusing:
            with pytest.raises(ApiError, match="is a document index"):
                await refusing.query(top_k=1, vector=[0.1] * 8, namespace="x")
            stats = await refusing.describe_index_stats()  # statistics answer on every kind of index
            assert stats.dimension == 8


# --- what goes into Pinecone -----------------------------------------------------------------------------------


async def test_a_100_kb_heading_imports_and_pinecone_keeps_a_few_bytes_per_vector(
    project: FakePineconeProject, tmp_path: Path
) -> None:
    """Issue 13: a Markdown heading over 40 KB made Pinecone refuse the vectors (metadata over 40,960 bytes)."""
    index = await project.add_index("heading-notes", 1536)
    heading = "The Drowned Archive of " + " ".join(f"Vault{i} of the salt kings" for i in range(4_200))
    assert len(heading.encode()) > 100_000
    notes = f"# {heading}\n\nThe archivist Petra Vane keeps the tide tables in a locked iron chest.\n".encode()
    async with running_openai() as fake_openai:
        settings = model_settings(
            tmp_path / "d",
            fake_openai,
            embedder="openai",
            pinecone_api_key=API_KEY,
            pinecone_index_hosts=[index.host],
            pinecone_controller_host=project.host,
        )
        async with open_services(settings) as services:
            await upgrade(services.engine)
            report = await services.memory.import_file(GUILD, "archive.md", "text/markdown", notes)
            [hit] = await services.memory.search(GUILD, "who keeps the tide tables?", k=1)
        sent = [text for r in fake_openai.embedding_requests() for text in r.body["input"]]
    assert report.outcome == "imported"
    assert "Petra Vane" in hit.text
    assert hit.heading.startswith("The Drowned Archive")  # the citation comes from the database, whole
    stored = index.vectors(namespace_for(GUILD))
    assert len(stored) == report.chunks
    assert max(len(json.dumps(v.metadata)) for v in stored.values()) < 200
    assert heading in "".join(sent)  # the heading was embedded too (in parts), not cut off


async def test_a_refused_key_is_one_line(
    project: FakePineconeProject, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = _settings(project, tmp_path, pinecone_api_key="pcsk_wrong", pinecone_index_hosts=["http://x.invalid"])
    assert await run(settings, "pinecone", "init", "notes") == 1
    assert capsys.readouterr().err == "improv: Pinecone: HTTP 401: Invalid API Key\n"
    assert not project.indexes
