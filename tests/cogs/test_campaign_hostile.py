"""`/campaign import` of hostile files through discord.py's real dispatch: a file that takes too long or too
much memory to read is stopped in its worker process, the GM reads which file and which limit, earlier notes
stay, and another guild's panic is answered meanwhile."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bot.discord.offline.driver import DiscordDriver
from bot.services import open_services
from bot.settings import Settings
from db.migrate import upgrade
from tests.memory.hostile_files import slow_notes
from tests.memory.memory_support import HashingEmbedder
from tests.support.discord import running_bot

OTHER_GUILD = 424242


@asynccontextmanager
async def _bot(tmp_path: Path, **overrides: object) -> AsyncIterator[DiscordDriver]:
    settings = Settings.embedded(tmp_path / "data", **overrides)
    async with open_services(settings) as services:
        await upgrade(services.engine)
        services.memory.embedder = HashingEmbedder(384)
        async with running_bot(services) as driver:
            yield driver


async def _import_vald(sim: DiscordDriver, test_data: Path) -> None:
    ex = await sim.slash("campaign import", file=sim.attachment(test_data / "cairn/players-guide/vald.md"))
    assert ex.message.embeds[0]["title"] == "Import finished"


async def _still_has_vald(sim: DiscordDriver) -> None:
    listing = await sim.slash("campaign list")
    assert "vald.md" in listing.message.embeds[0]["description"]
    found = await sim.slash("campaign search", query="Kettlewrights itinerant merchants peddlers")
    assert any("Kettlewrights" in f["value"] for f in found.message.embeds[0]["fields"])


async def test_a_file_over_the_time_limit_is_stopped_while_another_guild_panics(
    tmp_path: Path, test_data: Path
) -> None:
    async with _bot(tmp_path, parse_timeout_seconds=0.5) as sim:
        await _import_vald(sim, test_data)
        slow = asyncio.create_task(
            sim.slash("campaign import", file=sim.attachment("harbor.md", slow_notes(19), "text/markdown"))
        )
        await asyncio.sleep(0.2)  # the slow file is being read in the worker now
        panic = await sim.slash("panic npc", guild_id=OTHER_GUILD)
        assert not slow.done()  # answered while the other guild's file was still being read
        assert panic.message.embeds, panic
        ex = await slow
        description = ex.message.embeds[0]["description"]
        assert "**harbor.md** took too long to read (over the 0.5-second limit)" in description
        await _still_has_vald(sim)
        await _import_vald(sim, test_data)  # the worker was replaced: the next import works


async def test_a_file_over_the_memory_limit_is_refused_and_earlier_notes_stay(tmp_path: Path, test_data: Path) -> None:
    async with _bot(tmp_path, parse_memory_mb=128) as sim:
        await _import_vald(sim, test_data)
        ex = await sim.slash("campaign import", file=sim.attachment("harbor.md", slow_notes(19), "text/markdown"))
        description = ex.message.embeds[0]["description"]
        assert "**harbor.md** is too large once unpacked" in description
        assert "128.0 MB" in description
        await _still_has_vald(sim)
        await _import_vald(sim, test_data)
