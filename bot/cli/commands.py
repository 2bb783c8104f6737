"""How a subcommand module adds its commands (`add_command`); the parser and dispatch live in `bot.cli`.

Handlers are `async def handler(args, services)` or, for commands that manage services themselves,
`async def handler(args, settings)` marked `needs_services=False`.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable

from bot.services import Services
from bot.settings import Settings

__all__ = ["ServiceHandler", "SettingsHandler", "add_command"]

ServiceHandler = Callable[[argparse.Namespace, Services], Awaitable[int | None]]
SettingsHandler = Callable[[argparse.Namespace, Settings], Awaitable[int | None]]


def add_command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    handler: ServiceHandler | SettingsHandler,
    *,
    help: str,
    needs_services: bool = True,
    migrate: bool = True,
    quiet: bool = False,
) -> argparse.ArgumentParser:
    """Add a subcommand whose handler gets opened (and, by default, migrated) services or the settings.

    `quiet` commands (the console, JSON-printing commands) log only warnings unless `--verbose`.
    """
    parser = sub.add_parser(name, help=help, description=help)
    parser.set_defaults(handler=handler, needs_services=needs_services, migrate=migrate, quiet=quiet)
    return parser
