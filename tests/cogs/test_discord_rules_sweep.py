"""Adversarial sweep: every slash command, autocomplete, button and select, fed hostile input (6,000-character
options full of mentions, markdown, zalgo and emoji; five attachments with 600-character headings; model answers
whose fields run to 2,500 characters), with the bot missing its channel permissions or its database hung, sends
only requests the strict offline Discord accepts (it checks Discord's OpenAPI schemas and documented rules and
records every refusal; `running_bot` fails the test on any refusal or swallowed error).

The options are built from the real command tree, so a new command or option is swept without editing this file.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
from discord import app_commands
from discord.enums import AppCommandOptionType

from bot.discord.offline.driver import DiscordDriver, Exchange
from bot.discord.offline.rules import Perm
from bot.improv.kinds import KINDS, schema_for
from bot.services import Services, open_services
from bot.settings import Settings
from db.migrate import upgrade
from tests.cogs.conftest import model_settings
from tests.fakes.openai import FakeOpenAI
from tests.fakes.stalls import blackhole
from tests.memory.memory_support import HashingEmbedder
from tests.support.discord import StoredMessage, running_bot

GM_ROLE = 777
T = TypeVar("T")
_PIECES = [
    "@everyone @here <@1001> <@&777> <#645027906669510667> ",
    "**bold** __under__ ~~gone~~ `code` ```py\nprint()\n``` > quote ||spoiler|| [link](https://example.com) ",
    "Z̸̢̛̯͓̈́a̷̧͖̾l̵̨̰̈g̶̣̈́o̴̱͊ ",
    "🎲🐉👍🏽👨‍👩‍👧‍👦🏳️‍🌈 ",
    "# Heading\n- item\n",
]


def hostile(length: int) -> str:
    """`length` characters of mentions, markdown, zalgo and emoji."""
    text = "".join(_PIECES)
    return (text * (length // len(text) + 1))[:length]


def _notes(n: int) -> bytes:
    heading = hostile(600).replace("\n", " ")
    return (
        f"# {heading}\n\n{hostile(1500)}\n\n## Part {n} {heading}\n\nThe innkeeper of Emberfall hides a map.\n".encode()
    )


def _value(sim: DiscordDriver, param: app_commands.Parameter, files: list[Any]) -> Any:
    kind = param.type
    if param.choices:
        return param.choices[-1].value
    if kind is AppCommandOptionType.string:
        return hostile(int(param.max_value or 6000))  # a string's max_length
    if kind is AppCommandOptionType.integer:
        return int(param.max_value or 3)
    if kind is AppCommandOptionType.number:
        return float(param.max_value or 3)
    if kind is AppCommandOptionType.boolean:
        return True
    if kind is AppCommandOptionType.role:
        return sim.role(GM_ROLE, hostile(100))
    if kind is AppCommandOptionType.attachment:
        return files.pop(0)
    raise AssertionError(f"no hostile value for {param.name} ({kind})")


def _commands(sim: DiscordDriver) -> list[app_commands.Command[Any, ..., Any]]:
    found: list[app_commands.Command[Any, ..., Any]] = []
    for command in sim.bot.tree.walk_commands():
        if isinstance(command, app_commands.Command):
            found.append(command)
    return found


def _hostile_options(sim: DiscordDriver, command: app_commands.Command[Any, ..., Any]) -> dict[str, Any]:
    files = [sim.attachment(f"notes-{i}-🎲.md", _notes(i), "text/markdown") for i in range(5)]
    return {p.name: _value(sim, p, files) for p in command.parameters}


async def _use_every_component(sim: DiscordDriver, message: StoredMessage) -> list[Exchange]:
    exchanges: list[Exchange] = []
    for custom_id in [c.get("custom_id") for c in message.buttons()]:
        component = next((c for c in message.buttons() if c.get("custom_id") == custom_id), None)
        if component is None or component.get("disabled") or custom_id is None or message.deleted:
            continue  # an earlier click replaced or removed it
        if component["type"] == 2:
            exchanges.append(await sim.click(message, custom_id))
        elif component["type"] == 3:
            exchanges.append(await sim.select(message, custom_id, [component["options"][0]["value"]]))
    return exchanges


async def _run(calls: list[Coroutine[Any, Any, T]], together: bool) -> list[T]:
    if together:
        return list(await asyncio.gather(*calls))
    return [await call for call in calls]


async def sweep(sim: DiscordDriver, *, together: bool = False) -> None:
    """Every command with hostile options and every autocomplete, then every component of every reply and of
    the replies those produce (the panic panel's PANIC! included); `together`: each stage's requests at once
    (with a hung database, one by one would take minutes)."""
    commands = [c for c in _commands(sim) if c.qualified_name != "campaign forget-everything"]
    exchanges = await _run([sim.slash(c.qualified_name, **_hostile_options(sim, c)) for c in commands], together)
    await sim.settle()
    typed = [
        sim.autocomplete(
            c.qualified_name,
            p.name,
            hostile(100),
            **{k: v for k, v in _hostile_options(sim, c).items() if k != p.name},
        )
        for c in commands
        for p in c.parameters
        if p.autocomplete
    ]
    assert len(await _run(typed, together)) >= 3
    exchanges.append(await sim.slash("campaign forget-everything"))  # last: it empties what the others use
    await sim.settle()
    seen: set[int] = set()
    for _ in range(2):  # the components of the replies, then of the replies to those
        messages = [m for ex in exchanges for m in ex.responses if m.id not in seen and not m.deleted]
        seen.update(m.id for m in messages)
        clicked = await _run([_use_every_component(sim, m) for m in messages], together)
        await sim.settle()
        exchanges = [ex for batch in clicked for ex in batch]


@asynccontextmanager
async def _services(settings: Settings, *, migrate: bool = True) -> AsyncIterator[Services]:
    async with open_services(settings) as services:
        if migrate:
            await upgrade(services.engine)
        services.memory.embedder = HashingEmbedder(384)
        yield services


def _long_model_fields(fake_openai: FakeOpenAI) -> None:
    """Every top-level text field of every kind's answer is 2,500 hostile characters."""
    fields = {
        name
        for kind in KINDS
        for name, info in schema_for(kind).model_fields.items()
        if info.annotation is str and name != "kind"
    }
    fake_openai.overrides = dict.fromkeys(fields, hostile(2500))


@pytest.mark.parametrize("permissions", [None, 0], ids=["usual-permissions", "no-channel-permissions"])
async def test_hostile_input_produces_only_requests_discord_accepts(
    tmp_path: Path, fake_openai: FakeOpenAI, permissions: int | None
) -> None:
    _long_model_fields(fake_openai)
    settings = model_settings(tmp_path / "data", fake_openai)
    async with _services(settings) as services, running_bot(services) as sim:  # fails on any refusal or error
        if permissions is not None:
            sim.fake.channel_permissions[sim.channel_id] = permissions
        await sweep(sim)
        assert len(sim.fake.interactions) > 40
    fake_openai.overrides = {}


async def test_hostile_input_with_the_database_hung_produces_only_requests_discord_accepts(tmp_path: Path) -> None:
    async with blackhole() as hole:
        url = f"postgresql+asyncpg://postgres@127.0.0.1:{hole.port}/x"
        settings = Settings.embedded(tmp_path, panic_cooldown_seconds=0, database_url=url)
        async with _services(settings, migrate=False) as services, running_bot(services, check=False) as sim:
            sim.fake.channel_permissions[sim.channel_id] = Perm.VIEW_CHANNEL
            await asyncio.wait_for(sweep(sim, together=True), timeout=100)
            assert sim.take_violations() == []
            sim.take_errors()  # work after the acknowledgement fails with the database: not this test's subject
