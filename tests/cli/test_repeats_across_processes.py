"""Recent answers count across processes: two `improv console --json --script` runs on one data directory, ten
panics each, as a GM who restarts the bot (or runs a second process) would see them."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_asyncio

from bot.improv.prompts import GIVEN_MAX
from tests.fakes.openai import FakeOpenAI, running_openai

IMPROV = Path(sys.executable).with_name("improv")
GIVEN = "Already given, do not repeat: "
PANICS = 10

#: runs the real `improv` command line, noting the titles of the recent answers each offline-table roll is given
#: (one JSON line on stderr per roll; the roll itself is the real one)
SPY = """
import json, sys
import bot.improv.engine as engine
real_roll = engine.roll

def roll(*args, recent=(), **kwargs):
    print("RECENT " + json.dumps([improv.title for improv in recent]), file=sys.stderr, flush=True)
    return real_roll(*args, recent=recent, **kwargs)

engine.roll = roll
from bot.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest_asyncio.fixture(loop_scope="session")
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    async with running_openai() as fake:
        yield fake


async def run_console(
    data_dir: Path, lines: list[str], env_extra: dict[str, str], *, spy: bool = False
) -> tuple[list[dict[str, Any]], str]:
    """One console process over a script (its JSON events and its stderr); the test's loop keeps serving the fake
    model meanwhile."""
    script = data_dir.parent / f"script-{len(list(data_dir.parent.glob('script-*')))}.txt"
    script.write_text("\n".join(lines) + "\n")
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_URL", "_KEY", "_TOKEN", "_SECRET"))}
    env.update(env_extra)
    args = ["--data-dir", str(data_dir), "console", "--script", str(script), "--json"]
    command = [sys.executable, "-c", SPY, *args] if spy else [str(IMPROV), *args]
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=180)
    assert process.returncode == 0, err.decode()
    return [json.loads(line) for line in out.decode().splitlines() if line.strip()], err.decode()


def final_titles(events: list[dict[str, Any]]) -> list[str]:
    """The title of each interaction's last embed, in the order the interactions came."""
    last: dict[int, str] = {}
    for event in events:
        if event["event"] in {"message", "edit"} and event["embeds"]:
            last[event["interaction_id"]] = event["embeds"][0]["title"]
    return list(last.values())


def panics(kind: str, start: int) -> list[str]:
    return [f"/panic {kind} details: trouble number {n}" for n in range(start, start + PANICS)]


async def test_a_second_process_tells_the_model_what_the_first_gave(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    model = {
        "OPENAI_API_KEY": fake_openai.api_key,
        "OPENAI_BASE_URL": fake_openai.base_url,
        "OPENAI_MAX_RETRIES": "0",
        "POOL_SIZE": "0",
    }
    first, _ = await run_console(tmp_path / "data", panics("encounter", 0), model)
    sent = len(fake_openai.chat_requests())
    second, _ = await run_console(tmp_path / "data", panics("encounter", PANICS), model)
    given_before = final_titles(first)
    assert len(given_before) == PANICS
    assert sent == PANICS
    opening = fake_openai.chat_requests()[sent].prompt  # the second process's first panic
    line = next(line for line in opening.splitlines() if line.startswith(GIVEN))
    named = line.removeprefix(GIVEN).split("; ")
    expected = list(dict.fromkeys(reversed(given_before)))[:GIVEN_MAX]  # most recent first, each title once
    assert len(named) == len(expected)
    for name, title in zip(named, expected, strict=True):
        assert title.startswith(name.removesuffix(" …")), (name, title)
    assert len(final_titles(second)) == PANICS


async def test_a_second_process_gives_the_tables_the_first_ones_answers(tmp_path: Path) -> None:
    first, _ = await run_console(tmp_path / "data", panics("encounter", 0), {})
    second, rolls = await run_console(tmp_path / "data", panics("encounter", PANICS), {}, spy=True)
    given = [json.loads(line.removeprefix("RECENT ")) for line in rolls.splitlines() if line.startswith("RECENT ")]
    titles = final_titles(first) + final_titles(second)
    assert len(titles) == 2 * PANICS
    assert len(given) == PANICS
    assert given[0] == titles[:PANICS][::-1]  # the first process's answers, most recent first
    assert given[-1] == titles[: 2 * PANICS - 1][::-1]  # and every answer since, this process's too


def final_embeds(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each interaction's last embed, in the order the interactions came."""
    last: dict[int, dict[str, Any]] = {}
    for event in events:
        if event["event"] in {"message", "edit"} and event["embeds"]:
            last[event["interaction_id"]] = event["embeds"][0]
    return list(last.values())


async def test_no_repeats_over_two_processes_of_ten_panics_each(tmp_path: Path) -> None:
    script = [f"/panic {kind}" for kind in ("encounter", "npc", "rumor") for _ in range(PANICS)]
    runs = [await run_console(tmp_path / "data", script, {}) for _ in range(2)]
    embeds = [embed for events, _ in runs for embed in final_embeds(events)]
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for embed in embeds:
        by_kind.setdefault(embed["author"]["name"], []).append(embed)
    encounters, npcs, rumors = (by_kind[label] for label in ("Encounter", "NPC", "Rumors"))
    assert len(encounters) == len(npcs) == len(rumors) == 2 * PANICS
    assert len({e["title"] for e in encounters}) >= 18
    assert len({e["title"].split(" — ")[0] for e in npcs}) >= 19
    lines = [
        line
        for embed in rumors
        for field in embed["fields"]
        if field["name"] != "Sources"
        for line in field["value"].splitlines()
        if line.startswith("•")
    ]
    assert len(lines) >= 2 * PANICS
    assert len(set(lines)) == len(lines)  # never the same rumor line twice
