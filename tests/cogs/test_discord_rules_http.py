"""The bot over real HTTP: discord.py's own HTTP client and webhook adapter talk to the strict fake on loopback, and
Discord's 429s (per route and global, with its headers and `retry_after`) are waited out by discord.py itself:
the replies still arrive, in time, and nothing is refused."""

from __future__ import annotations

from pathlib import Path

from bot.services import open_services
from db.migrate import upgrade
from tests.cogs.conftest import model_settings
from tests.fakes.openai import FakeOpenAI
from tests.support.discord import running_bot


async def test_replies_arrive_after_discord_rate_limits_them(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    async with open_services(model_settings(tmp_path / "data", fake_openai)) as services:
        await upgrade(services.engine)
        async with running_bot(services, http=True) as sim:  # fails on any refusal or swallowed error
            assert sim.server is not None
            sim.server.rate_limit(r"^POST /interactions/\d+/[^/]+/callback$", retry_after=0.2)
            sim.server.rate_limit(r"^PATCH /webhooks/\d+/[^/]+/messages/@original$", retry_after=0.2, global_=True)
            answer = await sim.slash("panic npc", details="the innkeeper")
            await sim.settle()
            assert answer.message.embeds[0]["fields"]  # the answer, after both waits
            assert answer.record.acked
            sim.server.rate_limit(r"^POST /webhooks/\d+/[^/]+$", retry_after=0.2)
            revealed = await sim.click(answer.message, "Reveal to table")
            await sim.settle()
            assert next(m for m in revealed.followups if not m.ephemeral).embeds
            limited = [route.split(" ")[0] + " " + route.split("/")[1] for route in sim.server.limited]
            assert limited == ["POST interactions", "PATCH webhooks", "POST webhooks"]
