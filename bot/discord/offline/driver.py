"""Drive a real `PanicBot` offline: gateway INTERACTION_CREATE payloads in, Discord's answers captured.

The payloads are built from the bot's real command tree and fed to the connection's parser, exactly as the
gateway does; discord.py's real `CommandTree` and view store dispatch them. Bot REST, interaction webhooks and
CDN downloads are answered by `FakeDiscord`. Used by the tests and by `improv console`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import mimetypes
import secrets
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.enums import AppCommandOptionType
from discord.http import Route
from discord.webhook.async_ import AsyncWebhookAdapter, async_context

from bot.discord.offline.fake_discord import FakeDiscord, FakeHTTPError, StoredMessage, Violation
from bot.discord.offline.server import FakeDiscordServer
from bot.discord.offline.values import (
    BASIC_PERMISSIONS,
    GM,
    MANAGE_GUILD,
    PLAYER,
    AttachmentArg,
    Exchange,
    FakeRole,
    FakeUser,
    HarnessFailure,
)

if TYPE_CHECKING:
    from bot.discord.client import PanicBot

__all__ = [
    "BASIC_PERMISSIONS",
    "GM",
    "MANAGE_GUILD",
    "PLAYER",
    "AttachmentArg",
    "DiscordDriver",
    "Exchange",
    "FakeRole",
    "FakeUser",
    "HTTPWebhookAdapter",
    "HarnessFailure",
    "connect_http",
]

DEFAULT_GUILD_ID = 290926798626357999
DEFAULT_CHANNEL_ID = 645027906669510667
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024  # Discord's default upload limit for a server without boosts


class _LogCapture(logging.Handler):
    """Collects ERROR records: discord.py swallows handler exceptions and only logs them."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _discord_error(err: FakeHTTPError) -> discord.HTTPException:
    response = SimpleNamespace(status=err.status, reason=err.message)
    body = err.body()
    cls: type[discord.HTTPException] = {
        403: discord.Forbidden,
        404: discord.NotFound,
    }.get(err.status, discord.DiscordServerError if err.status >= 500 else discord.HTTPException)
    return cls(response, body)  # type: ignore[arg-type]


def _path(route: Route) -> str:
    return route.url.removeprefix(Route.BASE).split("?", 1)[0]


def _payload_from(json_payload: Any, form: Any) -> Any:
    if json_payload is not None:
        return json_payload
    for part in form or []:
        if part.get("name") == "payload_json":
            return json.loads(part["value"])
    return None


class _FakeWebhookAdapter(AsyncWebhookAdapter):
    """Answers interaction callbacks, followups and edits from the fake."""

    def __init__(self, fake: FakeDiscord, latency: float = 0.0) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._fake = fake
        self.latency = latency

    async def request(
        self,
        route: Route,
        session: Any = None,
        *,
        payload: dict[str, Any] | None = None,
        multipart: list[dict[str, Any]] | None = None,
        **_: Any,
    ) -> Any:
        await asyncio.sleep(self.latency)
        try:
            return self._fake.webhook(route.method, _path(route), _payload_from(payload, multipart))
        except FakeHTTPError as err:
            raise _discord_error(err) from None


def connect_http(http: discord.http.HTTPClient, server: FakeDiscordServer) -> None:
    """Send discord.py's REST requests (`HTTPClient.request`, its rate limiting included) to `server`."""
    request = http.request

    async def rest(route: Route, **kwargs: Any) -> Any:
        route.url = route.url.replace(Route.BASE, server.base_url, 1)
        return await request(route, **kwargs)

    http.request = rest  # type: ignore[method-assign]


class HTTPWebhookAdapter(AsyncWebhookAdapter):
    """discord.py's own webhook adapter, its URLs pointed at the fake's HTTP server."""

    def __init__(self, server: FakeDiscordServer) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._server = server

    async def request(self, route: Route, session: Any = None, **kwargs: Any) -> Any:
        route.url = route.url.replace(Route.BASE, self._server.base_url, 1)
        return await super().request(route, session, **kwargs)


class DiscordDriver:
    """A logged-in bot wired to a `FakeDiscord`, with methods that act like a Discord user."""

    def __init__(
        self,
        bot_factory: Callable[[], PanicBot],
        *,
        fake: FakeDiscord | None = None,
        guild_id: int = DEFAULT_GUILD_ID,
        channel_id: int = DEFAULT_CHANNEL_ID,
        user: FakeUser = GM,
        latency: float = 0.0,
        http: bool = False,
    ) -> None:
        """`latency`: seconds each request to Discord takes to arrive (0: the next loop iteration), as over a
        real network; the fake's clocks (the 3-second acknowledgement window) see the arrival time. `http`: the
        bot talks to the fake over loopback HTTP through discord.py's own HTTP client and webhook adapter
        (`server`, where a test can make routes answer 429)."""
        self._factory = bot_factory
        self.fake = fake or FakeDiscord()
        self.guild_id = guild_id
        self.channel_id = channel_id
        self.user = user
        self.gm = GM
        self.player = PLAYER
        # where channels sit: channel id -> its category's id; thread id -> its parent channel's id
        self.categories: dict[int, int] = {}
        self.threads: dict[int, int] = {}
        self._adapter = _FakeWebhookAdapter(self.fake, latency)
        self.server: FakeDiscordServer | None = FakeDiscordServer(self.fake) if http else None
        self._webhooks: AsyncWebhookAdapter = self._adapter if self.server is None else HTTPWebhookAdapter(self.server)
        self._logs = _LogCapture()
        self._bot: PanicBot | None = None

    # --- lifecycle ---------------------------------------------------------------------------------------
    @property
    def bot(self) -> PanicBot:
        """The running bot."""
        if self._bot is None:
            raise RuntimeError("the driver is not started")
        return self._bot

    async def start(self) -> DiscordDriver:
        """Build the bot, point its I/O at the fake and log in (runs the real `setup_hook`)."""
        logging.getLogger().addHandler(self._logs)
        if self.server is not None:
            await self.server.start()
        bot = self._factory()
        self._attach(bot)
        await bot.login("offline-token")
        self._bot = bot
        return self

    async def restart(self) -> None:
        """Close the bot and start a new one over the same services and the same Discord (a process restart)."""
        await self.settle()
        await self.bot.close()
        bot = self._factory()
        self._attach(bot)
        await bot.login("offline-token")
        self._bot = bot

    async def close(self) -> None:
        """Wait for background work, close the bot and stop capturing logs."""
        try:
            if self._bot is not None:
                await self.settle()
                await self._bot.close()
        finally:
            if self.server is not None:
                await self.server.close()
            logging.getLogger().removeHandler(self._logs)

    def _attach(self, bot: PanicBot) -> None:
        fake = self.fake
        if self.server is not None:
            self._attach_http(bot, self.server)
            return

        async def rest(route: Route, *, files: Any = None, form: Any = None, **kwargs: Any) -> Any:
            await asyncio.sleep(self._adapter.latency)
            try:
                return fake.rest(route.method, _path(route), _payload_from(kwargs.get("json"), form))
            except FakeHTTPError as err:
                raise _discord_error(err) from None

        async def cdn(url: str) -> bytes:
            await asyncio.sleep(0)
            try:
                return fake.cdn(url)
            except FakeHTTPError as err:
                raise _discord_error(err) from None

        bot.http.request = rest  # type: ignore[method-assign]
        bot.http.get_from_cdn = cdn  # type: ignore[method-assign]

    def _attach_http(self, bot: PanicBot, server: FakeDiscordServer) -> None:
        """Point discord.py's real `HTTPClient.request` at the fake's HTTP server (the CDN stays in memory)."""
        connect_http(bot.http, server)
        fake = self.fake

        async def cdn(url: str) -> bytes:
            await asyncio.sleep(0)
            try:
                return fake.cdn(url)
            except FakeHTTPError as err:
                raise _discord_error(err) from None

        bot.http.get_from_cdn = cdn  # type: ignore[method-assign]

    # --- health ------------------------------------------------------------------------------------------
    @property
    def errors(self) -> list[logging.LogRecord]:
        """ERROR log records seen so far (swallowed exceptions, unexpected errors)."""
        return list(self._logs.records)

    def take_errors(self) -> list[logging.LogRecord]:
        """Return and forget the ERROR records (for tests that provoke one on purpose)."""
        records, self._logs.records = self._logs.records, []
        return records

    def take_violations(self) -> list[Violation]:
        """Return and forget Discord-rule violations (for tests that provoke one on purpose)."""
        violations, self.fake.violations = self.fake.violations, []
        return violations

    def problems(self) -> list[str]:
        """Everything that would make a real user see a failure."""
        found = [f"Discord rule broken: {v}" for v in self.fake.violations]
        for record in self._logs.records:
            text = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                text += f": {record.exc_info[0].__name__ if record.exc_info[0] else ''}: {record.exc_info[1]}"
            found.append(f"error logged by {record.name}: {text}")
        return found

    def assert_clean(self) -> None:
        """Fail when any Discord rule was broken or any error was logged."""
        problems = self.problems()
        if problems:
            raise HarnessFailure("\n".join(problems))

    async def settle(self) -> None:
        """Wait for the background work the bot started (streaming edits, pool refills, imports) and for the
        event listeners discord.py is running (`bot.dispatch` runs each in a task of its own)."""
        if self._bot is None:
            return
        while True:
            listeners = [
                t
                for t in asyncio.all_tasks()
                if not t.done() and getattr(t.get_coro(), "__qualname__", "").endswith("._run_event")
            ]
            if listeners:
                await asyncio.gather(*listeners, return_exceptions=True)
            await self._bot.services.tasks.drain()
            if not listeners:
                return

    # --- building blocks -----------------------------------------------------------------------------------
    def attachment(
        self,
        source: str | Path,
        data: bytes | None = None,
        content_type: str | None = None,
        *,
        size: int | None = None,
    ) -> AttachmentArg:
        """A file to attach: a path on disk, or a name with bytes."""
        path = Path(source)
        if data is None:
            data = path.read_bytes()
        if content_type is None:
            content_type = mimetypes.guess_type(path.name)[0]
            if path.suffix.lower() in {".md", ".markdown"}:
                content_type = "text/markdown"
        return AttachmentArg(path.name, data, content_type, size)

    def role(self, role_id: int, name: str = "GM") -> FakeRole:
        """A role to pass as a command option."""
        return FakeRole(role_id, name)

    def _envelope(
        self,
        type_: int,
        data: dict[str, Any],
        *,
        user: FakeUser | None,
        guild_id: int | None,
        channel_id: int | None,
        message: StoredMessage | None = None,
    ) -> dict[str, Any]:
        guild = guild_id if guild_id is not None else self.guild_id
        channel = channel_id if channel_id is not None else (message.channel_id if message else self.channel_id)
        payload: dict[str, Any] = {
            "id": str(self.fake.snowflake()),
            "application_id": str(self.fake.application_id),
            "type": type_,
            "token": secrets.token_urlsafe(32),
            "version": 1,
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
            "guild_id": str(guild),
            "channel_id": str(channel),
            "channel": self._channel_payload(channel, guild),
            "member": (user or self.user).member_payload(),
            "app_permissions": str(self.fake.permissions_in(channel)),
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(guild)},
            "context": 0,
            "data": data,
        }
        if message is not None:
            payload["message"] = message.payload
        return payload

    def _channel_payload(self, channel: int, guild: int) -> dict[str, Any]:
        """The partial channel an interaction carries: a text channel (in its category, if `categories` has one)
        or a public thread of a channel (when `threads` names its parent)."""
        payload: dict[str, Any] = {
            "id": str(channel),
            "type": 0,
            "guild_id": str(guild),
            "name": "game-night",
            "position": 0,
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": str(self.categories[channel]) if channel in self.categories else None,
            "topic": None,
            "rate_limit_per_user": 0,
            "last_message_id": None,
            "flags": 0,
        }
        if channel in self.threads:
            payload.update(
                type=11,
                parent_id=str(self.threads[channel]),
                owner_id=str(self.user.id),
                message_count=0,
                member_count=1,
                thread_metadata={
                    "archived": False,
                    "auto_archive_duration": 1440,
                    "archive_timestamp": "2026-01-01T00:00:00+00:00",
                    "locked": False,
                },
            )
        return payload

    def _command_path(self, command: str) -> list[app_commands.Command[Any, ..., Any] | app_commands.Group]:
        parts = command.strip().lstrip("/").split()
        if not parts:
            raise ValueError("empty command")
        node: Any = self.bot.tree.get_command(parts[0])
        if node is None:
            raise LookupError(f"no slash command /{parts[0]}")
        chain = [node]
        for part in parts[1:]:
            if not isinstance(node, app_commands.Group):
                raise LookupError(f"/{command}: {node.name} has no subcommands")
            node = node.get_command(part)
            if node is None:
                raise LookupError(f"no slash command /{command}")
            chain.append(node)
        if not isinstance(node, app_commands.Command):
            raise LookupError(f"/{command} is a group; name a subcommand")
        return chain

    def _options(
        self,
        leaf: app_commands.Command[Any, ..., Any],
        values: Mapping[str, Any],
        resolved: dict[str, dict[str, Any]],
        focused: str | None = None,
    ) -> list[dict[str, Any]]:
        params = {p.name: p for p in leaf.parameters}
        unknown = set(values) - set(params)
        if unknown:
            raise TypeError(f"/{leaf.qualified_name} has no option(s) {sorted(unknown)}; it has {sorted(params)}")
        options: list[dict[str, Any]] = []
        for param in leaf.parameters:
            if param.name not in values:
                if param.required and focused is None:
                    raise TypeError(f"/{leaf.qualified_name} needs option {param.name!r}")
                continue
            option = {"type": param.type.value, "name": param.display_name}
            option["value"] = self._option_value(param.type, values[param.name], resolved)
            if param.name == focused:
                option["focused"] = True
            options.append(option)
        return options

    def _option_value(self, kind: AppCommandOptionType, value: Any, resolved: dict[str, dict[str, Any]]) -> Any:
        if kind is AppCommandOptionType.attachment:
            if not isinstance(value, AttachmentArg):
                raise TypeError("attachment options take driver.attachment(...)")
            attachment_id = self.fake.snowflake()
            url = f"https://cdn.discordapp.com/ephemeral-attachments/{self.channel_id}/{attachment_id}/{value.filename}"
            self.fake.files[url] = value.data
            entry: dict[str, Any] = {
                "id": str(attachment_id),
                "filename": value.filename,
                "size": value.size if value.size is not None else len(value.data),
                "url": url + "?ex=0&is=0&hm=0&",
                "proxy_url": url.replace("cdn.discordapp.com", "media.discordapp.net") + "?ex=0&is=0&hm=0&",
                "ephemeral": True,
            }
            if value.content_type is not None:
                entry["content_type"] = value.content_type
            resolved.setdefault("attachments", {})[str(attachment_id)] = entry
            return str(attachment_id)
        if kind is AppCommandOptionType.role:
            role = value if isinstance(value, FakeRole) else FakeRole(int(value), f"role-{value}")
            resolved.setdefault("roles", {})[str(role.id)] = role.payload()
            return str(role.id)
        if kind in (AppCommandOptionType.user, AppCommandOptionType.mentionable):
            user = value if isinstance(value, FakeUser) else FakeUser(int(value), f"user-{value}")
            member = user.member_payload()
            resolved.setdefault("users", {})[str(user.id)] = member.pop("user")
            resolved.setdefault("members", {})[str(user.id)] = member
            return str(user.id)
        if kind is AppCommandOptionType.channel:
            channel_id = int(value)
            resolved.setdefault("channels", {})[str(channel_id)] = {
                "id": str(channel_id),
                "type": 0,
                "name": f"channel-{channel_id}",
                "permissions": str(BASIC_PERMISSIONS),
                "app_permissions": str(self.fake.permissions_in(channel_id)),
            }
            return str(channel_id)
        if kind is AppCommandOptionType.boolean:
            return bool(value)
        if kind is AppCommandOptionType.integer:
            return int(value)
        if kind is AppCommandOptionType.number:
            return float(value)
        return str(value)

    def _command_data(
        self, command: str, values: Mapping[str, Any], *, focused: str | None = None
    ) -> tuple[dict[str, Any], str]:
        chain = self._command_path(command)
        leaf = chain[-1]
        assert isinstance(leaf, app_commands.Command)
        resolved: dict[str, dict[str, Any]] = {}
        options = self._options(leaf, values, resolved, focused)
        for node in reversed(chain[1:]):
            type_ = 1 if isinstance(node, app_commands.Command) else 2
            options = [{"type": type_, "name": node.name, "options": options}]
        data: dict[str, Any] = {"id": str(self.fake.snowflake()), "name": chain[0].name, "type": 1, "options": options}
        if resolved:
            data["resolved"] = resolved
        return data, leaf.qualified_name

    # --- acting like a user --------------------------------------------------------------------------------
    async def slash(
        self,
        command: str,
        /,
        *,
        user: FakeUser | None = None,
        guild_id: int | None = None,
        channel_id: int | None = None,
        **options: Any,
    ) -> Exchange:
        """Run a slash command such as `"panic npc"` with options by parameter name."""
        data, _ = self._command_data(command, options)
        return await self._deliver(self._envelope(2, data, user=user, guild_id=guild_id, channel_id=channel_id))

    async def autocomplete(
        self, command: str, focused: str, value: str, /, *, user: FakeUser | None = None, **options: Any
    ) -> list[dict[str, Any]]:
        """Type `value` into option `focused` of `command`; returns the choices the bot offered."""
        data, _ = self._command_data(command, {**options, focused: value}, focused=focused)
        focused_type = self._focused_type(command, focused)
        payload = self._envelope(4, data, user=user, guild_id=None, channel_id=None)
        exchange = await self._deliver(payload, focused_type=focused_type)
        return exchange.choices

    def _focused_type(self, command: str, focused: str) -> int:
        leaf = self._command_path(command)[-1]
        assert isinstance(leaf, app_commands.Command)
        return next(p.type.value for p in leaf.parameters if p.name == focused)

    def find_component(self, message: StoredMessage, target: str) -> dict[str, Any]:
        """A component of `message` by custom id or label."""
        components = message.buttons()
        for component in components:
            if component.get("custom_id") == target:
                return component
        matches = [c for c in components if str(c.get("label", "")).lower() == target.lower()]
        if len(matches) == 1:
            return matches[0]
        labels = [c.get("label") or c.get("custom_id") for c in components]
        raise LookupError(f"no single component {target!r} on message {message.id}; it has {labels}")

    async def click(self, message: StoredMessage, target: str, /, *, user: FakeUser | None = None) -> Exchange:
        """Click a button of `message` by custom id or label."""
        component = self.find_component(message, target)
        if component.get("type") != 2 or "custom_id" not in component:
            raise LookupError(f"{target!r} is not a clickable button")
        if component.get("disabled"):
            raise LookupError(f"{target!r} is disabled")
        data = {"custom_id": component["custom_id"], "component_type": 2}
        return await self._deliver(
            self._envelope(3, data, user=user, guild_id=None, channel_id=None, message=message), message
        )

    async def select(
        self, message: StoredMessage, target: str, values: Sequence[str], /, *, user: FakeUser | None = None
    ) -> Exchange:
        """Pick `values` in a select menu of `message` (by custom id or placeholder)."""
        components = message.buttons()
        component = next(
            (c for c in components if c.get("custom_id") == target or c.get("placeholder") == target), None
        )
        if component is None or component.get("type") not in (3, 5, 6, 7, 8):
            raise LookupError(f"no select menu {target!r} on message {message.id}")
        allowed = {o["value"] for o in component.get("options") or []}
        if allowed and not set(values) <= allowed:
            raise LookupError(f"{sorted(set(values) - allowed)} are not options of {target!r}")
        data = {"custom_id": component["custom_id"], "component_type": component["type"], "values": list(values)}
        return await self._deliver(
            self._envelope(3, data, user=user, guild_id=None, channel_id=None, message=message), message
        )

    async def _deliver(
        self, payload: dict[str, Any], source: StoredMessage | None = None, *, focused_type: int | None = None
    ) -> Exchange:
        interaction_id = int(payload["id"])
        self.fake.register_interaction(
            interaction_id,
            payload["token"],
            payload["type"],
            int(payload["channel_id"]),
            source.id if source is not None else None,
            focused_type,
        )
        before = asyncio.all_tasks()
        token = async_context.set(self._webhooks)
        try:
            self.bot._connection.parsers["INTERACTION_CREATE"](payload)
        finally:
            async_context.reset(token)
        dispatched = asyncio.all_tasks() - before
        if dispatched:
            await asyncio.gather(*dispatched, return_exceptions=True)
        self.fake.check_acknowledged(interaction_id)
        return Exchange(self.fake, self.fake.interactions[interaction_id])

    def channel_messages(self, channel_id: int | None = None) -> list[StoredMessage]:
        """Public messages the bot posted in the channel (default: the driver's channel)."""
        return self.fake.channel_messages(channel_id if channel_id is not None else self.channel_id)
