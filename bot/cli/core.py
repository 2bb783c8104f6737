"""Core subcommands: run (the bot), web, migrate, sync-commands."""

from __future__ import annotations

import argparse
import logging

from bot.cli.commands import add_command
from bot.services import Services
from bot.settings import ConfigError, Settings

__all__ = ["register"]

log = logging.getLogger(__name__)


async def run_bot(args: argparse.Namespace, settings: Settings) -> int:
    """Start the Discord bot (the Procfile's worker)."""
    if settings.discord_token is None:
        raise ConfigError(
            "DISCORD_TOKEN is not set. Set it to run the bot, or try everything offline with `improv console`."
        )
    from bot.discord.client import PanicBot
    from bot.services import open_services
    from db.migrate import upgrade

    async with open_services(settings) as services:
        if settings.is_sqlite:  # embedded default: keep the local file current; production migrates on release
            await upgrade(services.engine)
        bot = PanicBot.from_services(services)
        if args.sync:
            bot._sync_on_start = True
        async with bot:
            await bot.start(settings.discord_token.get_secret_value())
    return 0


async def run_web(args: argparse.Namespace, settings: Settings) -> int:
    """Serve the webhook endpoint (the Procfile's web process)."""
    from bot.web import serve

    await serve(settings)
    return 0


async def migrate(args: argparse.Namespace, services: Services) -> int:
    """Bring the configured database to the newest schema."""
    from db.migrate import upgrade

    await upgrade(services.engine, args.revision)
    print(f"database at {args.revision}: {services.engine.url.render_as_string(hide_password=True)}")
    return 0


async def sync_commands(args: argparse.Namespace, settings: Settings) -> int:
    """Publish the slash commands to Discord once (never done on a normal start)."""
    if settings.discord_token is None:
        raise ConfigError("DISCORD_TOKEN is not set; syncing commands needs the bot's token.")
    from bot.discord.client import PanicBot
    from bot.services import open_services

    async with open_services(settings) as services:
        bot = PanicBot.from_services(services)
        async with bot:
            await bot.login(settings.discord_token.get_secret_value())
            synced = await bot.sync_commands()
    print(f"synced {len(synced)} commands")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the core subcommands."""
    run = add_command(sub, "run", run_bot, help="run the Discord bot (needs DISCORD_TOKEN)", needs_services=False)
    run.add_argument("--sync", action="store_true", help="sync the slash commands once at startup")
    add_command(sub, "web", run_web, help="serve the Paddle webhook endpoint and /healthz", needs_services=False)
    mig = add_command(sub, "migrate", migrate, help="migrate the database", migrate=False)
    mig.add_argument("revision", nargs="?", default="head", help="target revision (default: head)")
    add_command(sub, "sync-commands", sync_commands, help="publish slash commands to Discord", needs_services=False)
