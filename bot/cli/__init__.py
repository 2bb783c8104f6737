"""The `improv` command line: run the bot or the web endpoint, migrate, sync commands, and the domain commands.

Each subcommand module exposes `register(subparsers)` and adds its commands with `bot.cli.commands.add_command`
(never importing this package, which imports them).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.errors import UserFacingError
from bot.logs import configure_logging
from bot.services import open_services
from bot.settings import ConfigError, Settings, load_settings
from bot.tasks import Stopped, run_until_terminated

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The full `improv` parser."""
    from bot.cli import appcommands, billing, campaign, console, core, panic, pinecone

    parser = argparse.ArgumentParser(prog="improv", description="Improv Panic Button")
    parser.add_argument("--data-dir", type=Path, help="directory for local state (IMPROV_DATA_DIR)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (core, appcommands, console, billing, campaign, panic, pinecone):
        module.register(sub)
    return parser


async def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if not args.needs_services:
        return int(await args.handler(args, settings) or 0)
    async with open_services(settings) as services:
        if args.migrate and settings.is_sqlite:
            from db.migrate import upgrade

            await upgrade(services.engine)
        return int(await args.handler(args, services) or 0)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `improv` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    overrides: dict[str, Any] = {}
    if args.data_dir is not None:
        overrides["data_dir"] = args.data_dir
    try:
        settings = load_settings(**overrides)
    except ConfigError as exc:
        print(f"improv: {exc}", file=sys.stderr)
        return 2
    level = "DEBUG" if args.verbose else ("WARNING" if args.quiet else settings.log_level)
    configure_logging(level)
    try:
        return asyncio.run(run_until_terminated(_dispatch(args, settings)))
    except ConfigError as exc:
        print(f"improv: {exc}", file=sys.stderr)
        return 2
    except UserFacingError as exc:  # e.g. the guild is busy, or the lock service is unreachable: one line
        print(f"improv: {exc.message.replace('**', '')}", file=sys.stderr)
        return 1
    except Stopped:
        print("improv: stopped by SIGTERM; unfinished work was cancelled and rolled back", file=sys.stderr)
        return 0
    except KeyboardInterrupt:
        return 130


logging.getLogger(__name__).addHandler(logging.NullHandler())
