"""Every command, button and autocomplete is acknowledged within Discord's 3 seconds with PostgreSQL or Redis hung,
and a GM by role is never refused as a player because the guild's settings cannot be read.

The offline fake records a violation for an initial response after 3 s (10062) or none at all; the work after the
acknowledgement may still fail with the database (that reply is not this test's subject).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from discord import app_commands

from bot.discord.client import PanicBot
from bot.discord.prefs_cache import PrefsCache
from bot.prefs import GuildPrefs, load_prefs
from bot.services import Services, open_services
from bot.settings import Settings
from db.migrate import upgrade
from tests.fakes.stalls import Blackhole, blackhole
from tests.support.discord import DiscordDriver, Exchange, FakeUser, running_bot

GM_ROLE = 777
ROLE_GM = FakeUser(3003, "rolegm", roles=(GM_ROLE,))
WINDOW = 3.0  # Discord's window for the initial response


def _options(sim: DiscordDriver) -> dict[str, dict[str, Any]]:
    """Every slash command with options a user could give it."""
    notes = sim.attachment("notes.md", b"# Emberfall\nThe innkeeper hides a map.")
    return {
        "panic help": {},
        **{f"panic {kind}": {"details": "the innkeeper"} for kind in _kinds(sim)},
        "panic button": {},
        "panic settings": {"public_by_default": True},
        "campaign import": {"file": notes},
        "campaign list": {},
        "campaign search": {"query": "innkeeper"},
        "campaign status": {},
        "campaign forget": {"document": "notes.md"},
        "campaign forget-everything": {},
        "campaign visibility": {"document": "notes.md", "player_safe": True},
        "campaign party add": {"name": "Aria"},
        "campaign party remove": {"name": "Aria"},
        "campaign party list": {},
        "campaign new": {"name": "Frogs"},
        "campaign use": {"name": "Frogs"},
        "campaign rename": {"name": "Frogs", "new_name": "Toads"},
        "campaign configure": {"name": "Frogs", "game_system": "Dungeon World"},
        "campaign delete": {"name": "Frogs"},
        "campaign here": {},
        "campaign recap": {"since": "3h"},
        "billing status": {},
        "billing upgrade": {"plan": "pro"},
        "billing manage": {},
    }


def _kinds(sim: DiscordDriver) -> list[str]:
    group = sim.bot.tree.get_command("panic")
    assert isinstance(group, app_commands.Group)
    return [c.name for c in group.commands if c.name not in {"help", "button", "settings"}]


def _leaves(commands: list[Any], prefix: str = "") -> list[str]:
    names: list[str] = []
    for command in commands:
        if isinstance(command, app_commands.Group):
            names += _leaves(command.commands, f"{prefix}{command.name} ")
        else:
            names.append(f"{prefix}{command.name}")
    return names


def _in_time(exchange: Exchange) -> None:
    record = exchange.record
    assert record.acked
    assert record.acked_at is not None
    assert record.acked_at - record.created < WINDOW


@pytest_asyncio.fixture(loop_scope="session")
async def hung_database(tmp_path: Path) -> AsyncIterator[Services]:
    """Services whose PostgreSQL accepts connections and never answers."""
    async with blackhole() as hole:
        url = f"postgresql+asyncpg://postgres@127.0.0.1:{hole.port}/x"
        settings = Settings.embedded(tmp_path, panic_cooldown_seconds=0, database_url=url)
        async with open_services(settings) as services:
            yield services


@pytest.mark.parametrize("user", [None, ROLE_GM], ids=["manage-server", "gm-role"])
async def test_every_command_and_autocomplete_is_acknowledged_in_time_with_the_database_hung(
    hung_database: Services, user: FakeUser | None
) -> None:
    async with running_bot(hung_database, check=False) as sim:
        options = _options(sim)
        assert sorted(options) == sorted(_leaves(sim.bot.tree.get_commands()))  # a new command must be listed
        exchanges = await asyncio.gather(*(sim.slash(name, user=user, **opts) for name, opts in options.items()))
        for document in ("forget", "visibility"):
            assert await sim.autocomplete(f"campaign {document}", "document", "no", user=user) == []
        assert await sim.autocomplete("campaign party remove", "name", "Ar", user=user) == []
        for command in ("use", "rename", "configure", "delete"):
            assert await sim.autocomplete(f"campaign {command}", "name", "Fr", user=user) == []
        await sim.settle()
        assert sim.take_violations() == []
        for exchange in exchanges:
            _in_time(exchange)
        if user is ROLE_GM:  # never read: a clear "try again", not a wrong "GM only"
            for name, exchange in zip(options, exchanges, strict=True):
                if name != "panic help":
                    assert exchange.last.embeds[0]["title"] == "Settings unavailable", name
        sim.take_errors()  # the work after the acknowledgement fails with the database: not this test's subject


async def test_every_button_is_acknowledged_in_time_with_the_database_hung(hung_database: Services) -> None:
    async with running_bot(hung_database, check=False) as sim:
        panel = (await sim.slash("panic button")).message
        pressed = await sim.click(panel, "PANIC!")
        await sim.settle()
        answer = pressed.last
        clicks = [await sim.click(answer, button["custom_id"]) for button in answer.buttons()]
        assert len(clicks) >= 2  # Reveal and Reroll at least
        await sim.settle()
        assert sim.take_violations() == []
        for exchange in (pressed, *clicks):
            _in_time(exchange)
        sim.take_errors()


class Switchable:
    """Loads a guild's prefs from the database until `hang()`; then never answers (PostgreSQL hung)."""

    def __init__(self, load: Callable[[int], Awaitable[GuildPrefs]]) -> None:
        self.load = load
        self.hung = False

    def hang(self) -> None:
        self.hung = True

    async def __call__(self, guild_id: int) -> GuildPrefs:
        if self.hung:
            await asyncio.Event().wait()
        return await self.load(guild_id)


async def test_known_settings_stand_while_the_database_hangs(tmp_path: Path) -> None:
    """A GM by role stays a GM and public answers stay public with the last known settings (cache expired)."""
    settings = Settings.embedded(tmp_path, panic_cooldown_seconds=0)
    async with open_services(settings) as services:
        await upgrade(services.engine)
        loader = Switchable(lambda guild_id: load_prefs(services.sessionmaker, guild_id))

        def bot() -> PanicBot:
            made = PanicBot.from_services(services)
            made.prefs = PrefsCache(loader, ttl=0)  # every read goes to the database
            return made

        async with running_bot(services, bot_factory=bot) as sim:
            await sim.slash("panic settings", gm_role=sim.role(GM_ROLE), public_by_default=True)
            loader.hang()
            listed = await sim.slash("campaign list", user=ROLE_GM)
            assert listed.last.embeds[0]["title"] == "Campaign memory"
            answer = await sim.slash("panic npc", user=ROLE_GM, details="the innkeeper")
            await sim.settle()
            assert not answer.ephemeral
            _in_time(answer)


async def test_a_manager_told_when_unreadable_settings_make_an_answer_private(hung_database: Services) -> None:
    async with running_bot(hung_database, check=False) as sim:
        answer = await sim.slash("panic npc", details="the innkeeper")
        await sim.settle()
        assert answer.ephemeral
        assert "settings can't be read" in str(answer.message.content)
        assert answer.message.embeds[0]["fields"]
        assert sim.take_violations() == []


@pytest_asyncio.fixture(loop_scope="session")
async def hung_redis(tmp_path: Path) -> AsyncIterator[tuple[Services, Blackhole]]:
    """Services whose Redis accepts connections and never answers (the database works; cooldowns are on)."""
    async with blackhole() as hole:
        settings = Settings.embedded(tmp_path, panic_cooldown_seconds=5, redis_url=f"redis://127.0.0.1:{hole.port}/0")
        async with open_services(settings) as services:
            await upgrade(services.engine)
            yield services, hole


async def test_every_command_button_and_autocomplete_is_acknowledged_in_time_with_redis_hung(
    hung_redis: tuple[Services, Blackhole],
) -> None:
    services, hole = hung_redis
    async with running_bot(services, check=False) as sim:
        options = _options(sim)
        exchanges = await asyncio.gather(*(sim.slash(name, **opts) for name, opts in options.items()))
        for document in ("forget", "visibility"):
            await sim.autocomplete(f"campaign {document}", "document", "no")
        await sim.autocomplete("campaign party remove", "name", "Ar")
        await sim.settle()
        panel = next(ex for name, ex in zip(options, exchanges, strict=True) if name == "panic button").message
        pressed = await sim.click(panel, "PANIC!")
        await sim.settle()
        clicks = [await sim.click(pressed.last, button["custom_id"]) for button in pressed.last.buttons()]
        assert len(clicks) >= 2  # Reveal and Reroll at least
        await sim.settle()
        assert sim.take_violations() == []
        for exchange in (*exchanges, pressed, *clicks):
            _in_time(exchange)
        assert pressed.last.embeds  # the answer still arrives without Redis
        assert hole.accepted  # the bot did try Redis
        sim.take_errors()  # what fails after the acknowledgement without Redis is the next test's subject


async def test_reads_answer_without_redis(hung_redis: tuple[Services, Blackhole]) -> None:
    """The notes version and the usage counter live in Redis; without it the reads fall back, not fail."""
    services, _ = hung_redis
    async with running_bot(services, check=False) as sim:
        search = await sim.slash("campaign search", query="innkeeper")
        party = await sim.slash("campaign party list")
        status = await sim.slash("billing status")
        await sim.settle()
        assert sim.take_errors() == []
        texts = [str(ex.last.embeds[0]) for ex in (search, party, status)]
        assert not any("went wrong" in text for text in texts), texts
        assert status.last.embeds[0]["title"].startswith("Plan:")
