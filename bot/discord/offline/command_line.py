"""Typed slash commands, as a user writes them in Discord's message box, read against the bot's real command tree.

`/panic npc details: the blacksmith` is the command `panic npc` with `details="the blacksmith"`; text before the
first `name:` fills the first option left (several attachment options take one file path each).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

from discord import app_commands
from discord.enums import AppCommandOptionType

from bot.discord.offline.driver import DiscordDriver, FakeRole

__all__ = ["CommandLineError", "parse_slash"]

_OPTION = re.compile(r"(?:^|\s)([a-z_][a-z0-9_]*):\s*")


class CommandLineError(ValueError):
    """A typed command that does not match the command tree; the message says what would."""


def parse_slash(driver: DiscordDriver, line: str) -> tuple[str, dict[str, Any]]:
    """The qualified command name and the option values of a typed slash command."""
    name, command, rest = _split_command(driver, line)
    return name, _options(driver, command, rest)


def _split_command(driver: DiscordDriver, line: str) -> tuple[str, app_commands.Command[Any, ..., Any], str]:
    words = line.lstrip("/").split()
    tree = driver.bot.tree
    node: Any = tree.get_command(words[0]) if words else None
    if node is None:
        names = ", ".join(f"/{c.name}" for c in tree.get_commands())
        raise CommandLineError(f"unknown command {line.split()[0]!r}; try {names}")
    used = 1
    while isinstance(node, app_commands.Group):
        if used >= len(words) or node.get_command(words[used]) is None:
            subs = ", ".join(c.name for c in node.commands)
            raise CommandLineError(f"/{node.qualified_name} needs a subcommand: {subs}")
        node = node.get_command(words[used])
        used += 1
    rest = line.lstrip("/").split(None, used)[used] if len(words) > used else ""
    return node.qualified_name, node, rest


def _convert(driver: DiscordDriver, kind: AppCommandOptionType, raw: str) -> Any:
    raw = raw.strip()
    if kind is AppCommandOptionType.attachment:
        path = Path(raw).expanduser()
        if not path.is_file():
            raise CommandLineError(f"no file {raw!r}")
        return driver.attachment(path)
    if kind is AppCommandOptionType.boolean:
        return raw.lower() in {"1", "true", "yes", "y", "on"}
    if kind is AppCommandOptionType.integer:
        return int(raw)
    if kind is AppCommandOptionType.number:
        return float(raw)
    if kind is AppCommandOptionType.role:
        digits = re.sub(r"\D", "", raw)
        return FakeRole(int(digits), "role") if digits else FakeRole(abs(hash(raw)) % 10**17 + 10**17, raw)
    return raw


def _options(driver: DiscordDriver, command: app_commands.Command[Any, ..., Any], rest: str) -> dict[str, Any]:
    params = {p.display_name: p for p in command.parameters}
    matches = [m for m in _OPTION.finditer(rest) if m.group(1) in params]
    positional = rest[: matches[0].start()] if matches else rest
    values: dict[str, Any] = {}
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(rest)
        param = params[match.group(1)]
        values[param.name] = _convert(driver, param.type, rest[match.end() : end])
    positional = positional.strip()
    if positional:
        free = [p for p in command.parameters if p.name not in values]
        if free and free[0].type is AppCommandOptionType.attachment:
            for param, word in zip(free, shlex.split(positional), strict=False):
                if param.type is AppCommandOptionType.attachment:
                    values[param.name] = _convert(driver, param.type, word)
        elif free:
            values[free[0].name] = _convert(driver, free[0].type, positional)
        else:
            raise CommandLineError(f"/{command.qualified_name} takes no more options")
    return values
