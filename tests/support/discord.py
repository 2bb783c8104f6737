"""Pytest glue for the offline Discord harness: a logged-in bot that fails the test on any broken rule."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from bot.discord.client import PanicBot
from bot.discord.offline.driver import GM, PLAYER, AttachmentArg, DiscordDriver, Exchange, FakeUser, HarnessFailure
from bot.discord.offline.fake_discord import FakeDiscord, StoredMessage
from bot.services import Services

__all__ = [
    "GM",
    "PLAYER",
    "AttachmentArg",
    "DiscordDriver",
    "Exchange",
    "FakeUser",
    "HarnessFailure",
    "StoredMessage",
    "running_bot",
]


@asynccontextmanager
async def running_bot(
    services: Services,
    *,
    fake: FakeDiscord | None = None,
    bot_factory: Callable[[], PanicBot] | None = None,
    check: bool = True,
    latency: float = 0.0,
    http: bool = False,
) -> AsyncIterator[DiscordDriver]:
    """A started driver over `services` (requests to Discord take `latency` seconds to arrive; `http`: over
    loopback HTTP through discord.py's own HTTP stack); on exit the test fails on any broken rule or swallowed
    error."""
    driver = DiscordDriver(
        bot_factory or (lambda: PanicBot.from_services(services)), fake=fake, latency=latency, http=http
    )
    await driver.start()
    try:
        yield driver
    finally:
        await driver.close()
    if check:
        driver.assert_clean()
