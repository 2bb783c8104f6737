"""`/panic` through discord.py's real dispatch: rerolls go elsewhere, and skipped notes are never silent.

Reroll: the model is told what it gave before. Grounding: the bot loads the embedding model when it connects and
a panic that arrives meanwhile waits for it; when the notes are skipped anyway (a slow embedding service, a dead
database) the footer says they were not consulted and why.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

from bot.discord.offline.driver import DEFAULT_GUILD_ID
from bot.services import open_services
from bot.settings import Settings
from db.migrate import upgrade
from tests.cogs.conftest import model_settings
from tests.fakes.openai import FakeOpenAI
from tests.support.discord import running_bot

NOTES = b"""# Emberfall

Emberfall is a mining town under the ash peaks.

## Mira Voss

Mira Voss is the blacksmith of Emberfall. She fears Captain Harl Denby.
"""
GIVEN = "Already given, do not repeat: "


def names(prompt: str, titles: list[str]) -> bool:
    """Whether the prompt's "Already given" line names `titles` in order (each whole or cut at a word)."""
    line = next((line for line in prompt.splitlines() if line.startswith(GIVEN)), "")
    named = [name.removesuffix(" …") for name in line.removeprefix(GIVEN).split("; ")] if line else []
    return len(named) == len(titles) and all(t.startswith(n) for n, t in zip(named, titles, strict=True))


def _embed(ex: Any) -> dict[str, Any]:
    embeds: list[dict[str, Any]] = ex.last.embeds
    return embeds[0]


def _footer(ex: Any) -> str:
    return str(_embed(ex)["footer"]["text"])


def _sources(ex: Any) -> str:
    return next((f["value"] for f in _embed(ex)["fields"] if f["name"] == "Sources"), "")


async def test_reroll_tells_the_model_what_it_gave_before(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    async with open_services(model_settings(tmp_path / "d", fake_openai)) as services:
        await upgrade(services.engine)
        async with running_bot(services) as sim:
            first = await sim.slash("panic npc", details="a nervous excise officer")
            rerolled = await sim.click(first.message, "Reroll")
            again = await sim.click(first.message, "Reroll")
    first_title, second_title = _embed(first)["title"], _embed(rerolled)["title"]
    prompts = [r.prompt for r in fake_openai.chat_requests()]
    assert len(prompts) == 3
    assert GIVEN not in prompts[0]
    assert prompts[1] != prompts[0]
    assert names(prompts[1], [first_title])
    assert names(prompts[2], [second_title, first_title])
    assert "notes not consulted" not in _footer(again)


async def test_a_slow_embedding_service_is_named_in_the_footer(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    settings = model_settings(tmp_path / "d", fake_openai, embedder="openai")
    async with open_services(settings) as services:
        await upgrade(services.engine)
        async with running_bot(services) as sim:
            await services.memory.import_file(sim.guild_id, "emberfall.md", "text/markdown", NOTES)
            grounded = await sim.slash("panic npc", details="the blacksmith")
            fake_openai.fail_next("hang")  # the next request, the query's embedding, never answers
            slow = await sim.slash("panic npc", details="the captain of the watch")
    assert "emberfall.md" in _sources(grounded)
    assert "notes not consulted" not in _footer(grounded)
    assert _footer(slow).startswith("Source: gpt-4o-mini")  # the model still answered, in time
    assert "notes not consulted (searching them took too long)" in _footer(slow)
    assert _sources(slow) == ""


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_dead_database_is_named_in_the_footer(tmp_path: Path) -> None:
    dead = f"postgresql+asyncpg://postgres@127.0.0.1:{_closed_port()}/x"
    settings = Settings.embedded(tmp_path / "d", panic_cooldown_seconds=0, database_url=dead)
    async with open_services(settings) as services, running_bot(services) as sim:
        ex = await sim.slash("panic tavern", details="by the docks")
    footer = _footer(ex)
    assert "offline tables (no model configured)" in footer
    assert "notes not consulted (campaign memory is unavailable)" in footer
    assert _embed(ex)["fields"]


async def test_the_first_panic_after_a_start_waits_for_the_embedder_and_is_grounded(tmp_path: Path) -> None:
    settings = Settings.embedded(tmp_path / "d", panic_cooldown_seconds=0)
    async with open_services(settings) as services:
        await upgrade(services.engine)
        await services.memory.import_file(DEFAULT_GUILD_ID, "emberfall.md", "text/markdown", NOTES)
    # a new process: the embedding model is not loaded
    async with open_services(settings) as services, running_bot(services) as sim:
        assert not services.improv.warmed
        sim.bot.dispatch("connect")  # the gateway connection: the bot starts loading the model
        await asyncio.sleep(0)
        ex = await sim.slash("panic npc", details="the blacksmith")
        assert services.improv.warmed
    assert "notes not consulted" not in _footer(ex)
    assert "emberfall.md" in _sources(ex)
