"""`improv panic --json` says when the notes were not consulted: a real process whose embedding service fails."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_asyncio

from tests.fakes.openai import FakeOpenAI, running_openai

IMPROV = Path(sys.executable).with_name("improv")
NOTES = "# Emberfall\n\n## Mira Voss\n\nMira Voss is the blacksmith of Emberfall and hides a crown.\n"


@pytest_asyncio.fixture(loop_scope="session")
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    async with running_openai() as fake:
        yield fake


async def improv(data_dir: Path, fake: FakeOpenAI, *args: str) -> str:
    """Run `improv` in a new process (the test's loop keeps serving the fake meanwhile); its stdout."""
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_URL", "_KEY", "_TOKEN", "_SECRET"))}
    env.update(OPENAI_API_KEY=fake.api_key, OPENAI_BASE_URL=fake.base_url, OPENAI_MAX_RETRIES="0", EMBEDDER="openai")
    process = await asyncio.create_subprocess_exec(
        str(IMPROV),
        "--data-dir",
        str(data_dir),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, err.decode()
    return out.decode()


async def panic(data_dir: Path, fake: FakeOpenAI) -> dict[str, Any]:
    out = await improv(data_dir, fake, "panic", "npc", "--guild", "5", "--details", "the blacksmith", "--json")
    data: dict[str, Any] = json.loads(out)
    return data


async def test_the_json_says_the_notes_were_not_consulted_and_why(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    notes = tmp_path / "emberfall.md"
    notes.write_text(NOTES)
    await improv(tmp_path / "d", fake_openai, "campaign", "import", "--guild", "5", str(notes))
    grounded = await panic(tmp_path / "d", fake_openai)
    fake_openai.mode = "500"  # the embedding service (and the model) fail from now on
    skipped = await panic(tmp_path / "d", fake_openai)
    assert grounded["grounding_note"] is None
    assert grounded["sources"][0]["file"] == "emberfall.md"
    assert (skipped["engine"], skipped["fallback_reason"]) == ("tables", "error")
    assert skipped["grounding_note"] == "unavailable"
    assert skipped["sources"] == []
