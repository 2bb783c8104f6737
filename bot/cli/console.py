"""`improv console`: the real bot in a terminal, driven through the same interaction path as the tests.

Type slash commands as in Discord (`/panic npc details: the blacksmith`, `/campaign import notes.md`), click
buttons with `click <custom id or label>`, pick options with `select <custom id> <value>`, switch user with
`as player` / `as gm`, switch channel with `channel NAME` (created on first use; each channel can be bound to
its own campaign with `/campaign use`). Discord's state (the channel's messages and their buttons) is kept in the data directory,
so a later run can click a button posted by an earlier one, as after a restart.

With `--json`, every bot response or edit is printed as one JSON object per line:
`{"event": "message"|"edit", "message_id", "channel_id", "interaction_id", "ephemeral", "content", "embeds",
"components"}` (embeds and components as Discord's JSON); a problem is `{"event": "error", "message"}`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import textwrap
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from bot.discord.client import PanicBot
from bot.discord.offline.command_line import parse_slash
from bot.discord.offline.driver import GM, PLAYER, DiscordDriver, FakeUser
from bot.discord.offline.fake_discord import FakeDiscord, StoredMessage
from bot.improv.config import PATIENT_POLICY
from bot.services import Services, open_services
from bot.settings import Settings
from db.migrate import upgrade

__all__ = ["Console", "register"]

STATE_FILE = "console-discord.json"
CHANNELS_FILE = "console-channels.json"  # channel name -> id, so `channel NAME` finds the same channel next run
DEFAULT_CHANNEL = "game-night"
PROMPT = "improv> "


class ConsoleError(Exception):
    """A line the console cannot run; shown to the user, the session goes on."""


class Console:
    """Runs lines against a driver and prints what Discord would show."""

    def __init__(
        self, driver: DiscordDriver, out: TextIO, *, as_json: bool, channels: dict[str, int] | None = None
    ) -> None:
        self.driver = driver
        self.out = out
        self.as_json = as_json
        self.channels = channels if channels is not None else {}  # name -> id of the channels used so far
        self.channels.setdefault(DEFAULT_CHANNEL, driver.channel_id)
        self._seen: dict[int, int] = {m.id: len(m.history) for m in driver.fake.messages.values()}

    def _find_message(self, target: str) -> StoredMessage:
        for message in sorted(self.driver.fake.messages.values(), key=lambda m: -m.id):
            if message.deleted:
                continue
            for component in message.buttons():
                if target in (component.get("custom_id"), component.get("placeholder")) or (
                    str(component.get("label", "")).lower() == target.lower()
                ):
                    return message
        raise ConsoleError(f"no button or menu {target!r} on any message")

    # --- running -----------------------------------------------------------------------------------------
    async def run_line(self, line: str) -> None:
        """Run one console line; problems are printed, never raised."""
        line = line.strip()
        if not line or line.startswith("#"):
            return
        try:
            await self._run(line)
        except (ConsoleError, LookupError, TypeError, ValueError) as exc:
            self._problem(str(exc))
        await self.driver.settle()
        self._show_changes()
        for problem in self.driver.problems():
            self._problem(problem)
        self.driver.take_errors()
        self.driver.take_violations()

    async def _run(self, line: str) -> None:
        if line.startswith("/"):
            name, options = parse_slash(self.driver, line)
            await self.driver.slash(name, **options)
        elif line.startswith("click "):
            target = line.removeprefix("click ").strip()
            await self.driver.click(self._find_message(target), target)
        elif line.startswith("select "):
            parts = line.split(None, 2)
            if len(parts) < 3:
                raise ConsoleError("usage: select <custom id> <value>")
            await self.driver.select(self._find_message(parts[1]), parts[1], [parts[2].strip()])
        elif line.startswith("as "):
            who = line.removeprefix("as ").strip().lower()
            users: dict[str, FakeUser] = {"gm": GM, "player": PLAYER}
            if who not in users:
                raise ConsoleError("as gm | as player")
            self.driver.user = users[who]
            self._note(f"now acting as the {who}")
        elif line == "channel" or line.startswith("channel "):
            self._switch_channel(line.removeprefix("channel").strip())
        elif line == "restart":
            await self.driver.restart()
            self._note("bot restarted (same database, same Discord messages)")
        elif line in {"help", "?"}:
            self._note(_HELP)
        else:
            raise ConsoleError(f"not a command: {line!r} (type help)")

    def _switch_channel(self, name: str) -> None:
        """Act in the channel `name` from now on (created on first use)."""
        name = "-".join(name.lstrip("#").lower().split())
        if not name:
            current = next((n for n, i in self.channels.items() if i == self.driver.channel_id), DEFAULT_CHANNEL)
            self._note(f"in #{current}; channels: {', '.join('#' + n for n in sorted(self.channels))}")
            return
        if len(name) > 100:
            raise ConsoleError("a channel name has at most 100 characters")
        created = name not in self.channels
        if created:
            self.channels[name] = self.driver.fake.snowflake()
        self.driver.channel_id = self.channels[name]
        self._note(f"now in #{name}{' (new channel)' if created else ''}")

    def _channel_name(self, channel_id: int) -> str:
        return next((n for n, i in self.channels.items() if i == channel_id), DEFAULT_CHANNEL)

    def _changes(self) -> Iterator[tuple[str, StoredMessage]]:
        for message in sorted(self.driver.fake.messages.values(), key=lambda m: m.id):
            seen = self._seen.get(message.id)
            if seen is None:
                yield "message", message
            elif len(message.history) > seen:
                yield "edit", message
            self._seen[message.id] = len(message.history)

    def _show_changes(self) -> None:
        for event, message in self._changes():
            if self.as_json:
                self._emit(
                    {
                        "event": event,
                        "message_id": str(message.id),
                        "channel_id": str(message.channel_id),
                        "interaction_id": str(message.interaction_id) if message.interaction_id else None,
                        "ephemeral": message.ephemeral,
                        "content": message.content,
                        "embeds": message.embeds,
                        "components": message.components,
                    }
                )
            else:
                self.out.write(
                    render_message(message, edited=event == "edit", channel=self._channel_name(message.channel_id))
                )

    def _problem(self, text: str) -> None:
        if self.as_json:
            self._emit({"event": "error", "message": text})
        else:
            self.out.write(f"! {text}\n")

    def _note(self, text: str) -> None:
        if not self.as_json:
            self.out.write(f"{text}\n")

    def _emit(self, obj: dict[str, Any]) -> None:
        self.out.write(json.dumps(obj, ensure_ascii=False) + "\n")
        self.out.flush()


_HELP = """\
/panic help                          what the bot does
/<command> [option: value …]         any slash command, e.g. /panic npc details: the blacksmith
/campaign import path/to/notes.md    attach files by path
click <custom id or label>           press a button on the newest message that has it
select <custom id> <value>           pick an option in a menu
as gm | as player                    act as the GM (default) or as a player
channel NAME                         act in channel #NAME (created on first use); `channel` alone lists them
restart                              restart the bot, as after a deploy (buttons keep working)"""


def _box(lines: Iterable[str], width: int = 78) -> str:
    body = [wrapped for line in lines for wrapped in (textwrap.wrap(line, width - 4, replace_whitespace=False) or [""])]
    return "\n".join(
        ["┌" + "─" * (width - 2) + "┐", *(f"│ {t:<{width - 4}} │" for t in body), "└" + "─" * (width - 2) + "┘"]
    )


def render_message(message: StoredMessage, *, edited: bool = False, channel: str = DEFAULT_CHANNEL) -> str:
    """A message as text: who sees it, content, embeds as boxes, components as [buttons]."""
    tags = ["only you can see this" if message.ephemeral else f"in #{channel}"]
    if edited:
        tags.append("edited")
    parts = [f"── bot ({', '.join(tags)})"]
    if message.content:
        parts.append(message.content)
    for embed in message.embeds:
        lines: list[str] = []
        if embed.get("title"):
            lines.append(f"** {embed['title']} **")
        if embed.get("description"):
            lines.extend(str(embed["description"]).splitlines())
        for f in embed.get("fields") or []:
            lines.append("")
            lines.append(f"{f['name']}:")
            lines.extend(str(f["value"]).splitlines())
        if (embed.get("footer") or {}).get("text"):
            lines.extend(["", f"— {embed['footer']['text']}"])
        parts.append(_box(lines))
    for row in message.components:
        shown = []
        for c in row.get("components") or []:
            if c.get("type") == 2:
                label = c.get("label") or c.get("emoji", {}).get("name") or "button"
                target = c.get("custom_id") or c.get("url")
                shown.append(f"[{label}] ({target})")
            elif c.get("custom_id"):
                options = ", ".join(o.get("value", "") for o in c.get("options") or [])
                shown.append(f"<{c.get('placeholder') or 'choose'}: {options}> ({c['custom_id']})")
        if shown:
            parts.append("  ".join(shown))
    return "\n".join(parts) + "\n\n"


async def run_console(args: argparse.Namespace, settings: Settings) -> int:
    """Open the services (one person at a keyboard: no per-user cooldown unless configured) and run."""
    if "PANIC_COOLDOWN_SECONDS" not in os.environ:
        settings = settings.model_copy(update={"panic_cooldown_seconds": 0.0})
    async with open_services(settings) as services:
        if settings.is_sqlite:
            await upgrade(services.engine)
        services.improv.policy = PATIENT_POLICY  # one person at a keyboard waits for grounded answers
        return await _run_console(args, services)


async def _run_console(args: argparse.Namespace, services: Services) -> int:
    """Start the bot offline, run the script or read lines from the terminal, then save Discord's state."""
    state_path = services.settings.data_dir / STATE_FILE
    channels_path = services.settings.data_dir / CHANNELS_FILE
    fake = FakeDiscord()
    if state_path.is_file():
        fake.load(json.loads(state_path.read_text()))
    channels = (
        {str(k): int(v) for k, v in json.loads(channels_path.read_text()).items()} if channels_path.is_file() else {}
    )
    driver = DiscordDriver(lambda: PanicBot.from_services(services), fake=fake)
    await driver.start()
    console = Console(driver, sys.stdout, as_json=args.json, channels=channels)
    try:
        if args.script is not None:
            script = await asyncio.to_thread(Path(args.script).read_text, encoding="utf-8")
            for line in script.splitlines():
                if line.strip() and not line.lstrip().startswith("#") and not args.json:
                    sys.stdout.write(f"{PROMPT}{line.strip()}\n")
                await console.run_line(line)
        if args.script is None or (sys.stdin.isatty() and not args.json):
            await _interactive(console, greet=not args.json)
    finally:
        await driver.close()
        state_path.write_text(json.dumps(fake.dump()))
        channels_path.write_text(json.dumps(console.channels))
    return 0


async def _interactive(console: Console, *, greet: bool) -> None:
    if greet:
        sys.stdout.write("Improv Panic Button, offline. Type help for commands, Ctrl-D to leave.\n")
    while True:
        try:
            line = await asyncio.to_thread(input, PROMPT if sys.stdin.isatty() else "")
        except EOFError:
            break
        await console.run_line(line)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `improv console`."""
    from bot.cli.commands import add_command

    parser = add_command(
        sub,
        "console",
        run_console,
        help="try the bot offline: slash commands and buttons",
        quiet=True,
        needs_services=False,
    )
    parser.add_argument("--script", type=Path, help="run one console line per line of FILE, then exit")
    parser.add_argument("--json", action="store_true", help="print each bot response or edit as a JSON line")
