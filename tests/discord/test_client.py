"""The bot application: cogs, sync on request only, sharding and mentions from configuration."""

from __future__ import annotations

from pathlib import Path

import discord

from bot.discord.client import PanicBot
from bot.discord.offline.fake_discord import FakeDiscord
from bot.memory.embedders import LocalEmbedder
from bot.services import Services, open_services
from bot.settings import Settings
from tests.support.discord import running_bot


async def test_start_loads_every_cog_and_never_syncs(services: Services) -> None:
    async with running_bot(services) as driver:
        assert set(driver.bot.cogs) >= {"Panic"}
        assert {"cogs.panic", "cogs.campaign", "cogs.billing"} <= set(driver.bot.extensions)
        assert not [r for r in driver.fake.requests if r[0] == "PUT"]


async def test_sync_flag_publishes_the_command_tree_once(services: Services) -> None:
    fake = FakeDiscord(allow_sync=True)
    async with running_bot(services, fake=fake, bot_factory=lambda: PanicBot(services, sync_commands=True)):
        pass
    assert "panic" in {c["name"] for c in fake.synced_commands}
    assert len([r for r in fake.requests if r[0] == "PUT"]) == 1


async def test_shards_come_from_settings(tmp_path: Path) -> None:
    settings = Settings.embedded(tmp_path, shard_count=4, shard_ids=[1, 3])
    async with open_services(settings) as services:
        bot = PanicBot.from_services(services)
        assert bot.shard_count == 4
        assert bot.shard_ids == [1, 3]


async def test_mentions_are_off_by_default(services: Services) -> None:
    bot = PanicBot.from_services(services)
    assert bot.allowed_mentions is not None
    assert bot.allowed_mentions.to_dict() == discord.AllowedMentions.none().to_dict()


async def test_commands_are_published_for_every_member_of_a_guild_and_never_in_dms(services: Services) -> None:
    fake = FakeDiscord(allow_sync=True)
    async with running_bot(services, fake=fake, bot_factory=lambda: PanicBot(services, sync_commands=True)):
        pass
    published = {c["name"]: c for c in fake.synced_commands}
    assert set(published) == {"panic", "campaign", "billing"}
    for command in published.values():
        # visible to GMs by role too: the bot's own GM check decides (an admin may still narrow it per server)
        assert command.get("default_member_permissions") is None
        assert command["contexts"] == [0]  # guilds only
        assert command["integration_types"] == [0]  # installed to a guild, never to a user


async def test_going_live_loads_the_embedding_model_in_the_background(services: Services) -> None:
    embedder = services.memory.embedder
    assert isinstance(embedder, LocalEmbedder)
    async with running_bot(services) as driver:
        assert embedder._session is None  # lazily loaded: tests and the console never pay for it
        driver.bot.dispatch("ready")
        await driver.settle()
        assert embedder._session is not None
