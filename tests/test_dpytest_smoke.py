"""dpytest smoke test: the bot boots with its real cogs and real `setup_hook` (facts in docs/discord-facts.md).

dpytest refuses sharded clients, so this boots `PanicBotBase` (everything `PanicBot` does, without
`AutoShardedBot`). It has no interaction support; slash commands are driven by the harness in tests/support.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import discord
import discord.ext.test as dpytest
import pytest
import pytest_asyncio
from discord import app_commands
from discord.ext import commands

from bot.discord.client import COGS, PanicBot, PanicBotBase, PanicTree
from bot.services import Services


@pytest_asyncio.fixture(loop_scope="session")
async def dpy_bot(services: Services) -> AsyncIterator[PanicBotBase]:
    """A bot configured by dpytest over the embedded services, with its `setup_hook` run."""
    intents = discord.Intents.none()
    intents.guilds = True
    intents.members = True  # dpytest needs it
    intents.messages = True
    bot = PanicBotBase.from_services(services, intents=intents)
    await bot._async_setup_hook()
    dpytest.configure(bot)
    bot._connection._command_tree = bot.tree  # configure() unlinks the tree (docs/discord-facts.md)
    await bot.setup_hook()
    try:
        yield bot
    finally:
        await dpytest.empty_queue()
        for name in list(bot.extensions):
            await bot.unload_extension(name)


async def test_setup_hook_loads_every_cog(dpy_bot: PanicBotBase) -> None:
    assert set(dpy_bot.extensions) == set(COGS)
    assert {"Panic", "Campaign", "Billing"} <= set(dpy_bot.cogs)


async def test_tree_has_panic_help(dpy_bot: PanicBotBase) -> None:
    assert isinstance(dpy_bot.tree, PanicTree)
    panic = dpy_bot.tree.get_command("panic")
    assert isinstance(panic, app_commands.Group)
    assert panic.get_command("help") is not None


async def test_bot_ignores_ordinary_messages(dpy_bot: PanicBotBase) -> None:
    await dpytest.message("hello bot, /panic help")
    assert dpytest.verify().message().nothing()


async def test_real_bot_is_sharded_and_mentions_nobody(services: Services) -> None:
    bot = PanicBot.from_services(services)  # never logged in, so there is nothing to close
    assert isinstance(bot, discord.AutoShardedClient)
    assert isinstance(bot.tree, PanicTree)
    mentions = bot.allowed_mentions
    assert mentions is not None
    assert (mentions.everyone, mentions.users, mentions.roles, mentions.replied_user) == (False,) * 4


async def test_mentioning_the_bot_with_text_is_ignored_quietly(
    dpy_bot: PanicBotBase, caplog: pytest.LogCaptureFixture
) -> None:
    assert dpy_bot.user is not None
    # dpytest re-raises every command error it sees; the bot's own handler must neither reply nor log it.
    with caplog.at_level(logging.ERROR), pytest.raises(commands.CommandNotFound):
        await dpytest.message(f"<@{dpy_bot.user.id}> who runs this shop?")
    assert dpytest.verify().message().nothing()
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
