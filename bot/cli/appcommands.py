"""`improv commands --json`: the application-command payload a sync would publish, for review and tests."""

from __future__ import annotations

import argparse
import json
from typing import Any

from bot.cli.commands import add_command
from bot.services import Services

__all__ = ["command_payload", "register"]


async def command_payload(services: Services) -> list[dict[str, Any]]:
    """The JSON array `CommandTree.sync` sends (`PUT /applications/{id}/commands`), built from the real cogs."""
    from bot.discord.client import PanicBot

    bot = PanicBot(services)
    async with bot:
        await bot.setup_hook()  # loads the cogs; never syncs (no token, no network)
        return [command.to_dict(bot.tree) for command in bot.tree.get_commands()]


async def print_commands(args: argparse.Namespace, services: Services) -> int:
    """Print the payload: JSON with `--json`, else one line per command."""
    payload = await command_payload(services)
    if args.json:
        print(json.dumps(payload, indent=2, sort_keys=True))
        return 0
    for command in payload:
        subcommands = [option["name"] for option in command.get("options", []) if option.get("type") in (1, 2)]
        print(f"/{command['name']}: {', '.join(subcommands) or command.get('description', '')}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `improv commands`."""
    parser = add_command(
        sub, "commands", print_commands, help="show the slash commands a sync would publish", migrate=False, quiet=True
    )
    parser.add_argument("--json", action="store_true", help="print the exact payload of a sync (a JSON array)")
