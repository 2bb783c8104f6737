"""An in-memory Discord that speaks the REST and interaction-webhook wire formats discord.py uses.

It answers the three I/O points of discord.py (bot REST, interaction webhooks, CDN), keeps the messages the bot
posted, and enforces Discord's documented rules (3 s acknowledgement, one acknowledgement, no followup before
it, no followup in place of the deferred response's edit, 15-minute tokens, content/embed/component limits, no command sync), answering violations with the same
HTTP errors Discord would, and recording them so a test or the console can report them.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = ["FakeDiscord", "FakeHTTPError", "Limits", "StoredMessage", "Violation"]

DISCORD_EPOCH_MS = 1420070400000


class Limits:
    """Discord's documented limits that the fake enforces (sources in docs/discord-facts.md)."""

    ACK_SECONDS = 3.0
    TOKEN_SECONDS = 15 * 60
    CONTENT = 2000
    EMBEDS = 10
    EMBED_TITLE = 256
    EMBED_DESCRIPTION = 4096
    EMBED_FIELDS = 25
    FIELD_NAME = 256
    FIELD_VALUE = 1024
    FOOTER = 2048
    AUTHOR = 256
    EMBED_TOTAL = 6000
    CUSTOM_ID = 100
    ROWS = 5
    ROW_BUTTONS = 5
    LABEL = 80
    SELECT_OPTIONS = 25
    AUTOCOMPLETE_CHOICES = 25


@dataclass(slots=True)
class Violation:
    """A request Discord would have refused, or an interaction left unanswered."""

    code: int
    message: str
    route: str

    def __str__(self) -> str:
        return f"{self.code} {self.message} ({self.route})"


class FakeHTTPError(Exception):
    """Raised inside the fake; the adapters turn it into discord.py's own HTTP exceptions."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message


@dataclass(slots=True)
class StoredMessage:
    """A message as Discord stores it, with the history of its edits."""

    id: int
    channel_id: int
    payload: dict[str, Any]
    ephemeral: bool = False
    interaction_id: int | None = None
    loading: bool = False
    deleted: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def content(self) -> str:
        """Message text."""
        return str(self.payload.get("content") or "")

    @property
    def embeds(self) -> list[dict[str, Any]]:
        """Embeds as Discord's JSON."""
        return list(self.payload.get("embeds") or [])

    @property
    def components(self) -> list[dict[str, Any]]:
        """Component rows as Discord's JSON."""
        return list(self.payload.get("components") or [])

    @property
    def edits(self) -> list[dict[str, Any]]:
        """Earlier states of the message, oldest first (the current state is `payload`)."""
        return list(self.history)

    def buttons(self) -> list[dict[str, Any]]:
        """Every interactive component of the message, flattened."""
        return list(_walk_components(self.components))

    def to_json(self) -> dict[str, Any]:
        """For persistence."""
        return {
            "id": self.id,
            "channel_id": self.channel_id,
            "payload": self.payload,
            "ephemeral": self.ephemeral,
            "interaction_id": self.interaction_id,
            "deleted": self.deleted,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StoredMessage:
        """Inverse of `to_json`."""
        return cls(
            id=int(data["id"]),
            channel_id=int(data["channel_id"]),
            payload=dict(data["payload"]),
            ephemeral=bool(data.get("ephemeral")),
            interaction_id=data.get("interaction_id"),
            deleted=bool(data.get("deleted")),
        )


def _walk_components(components: Iterable[dict[str, Any]]) -> Iterable[dict[str, Any]]:
    for component in components:
        if component.get("type") == 1 or "components" in component:
            yield from _walk_components(component.get("components") or [])
        else:
            yield component


@dataclass(slots=True)
class InteractionRecord:
    """What the fake knows of one interaction it delivered."""

    id: int
    token: str
    type: int
    channel_id: int
    created: float
    acked: bool = False
    acked_at: float | None = None  # the fake's clock when the acknowledgement arrived
    deferred_thinking: bool = False
    ephemeral: bool = False
    original_message_id: int | None = None
    source_message_id: int | None = None  # the message whose component was used
    callback_type: int | None = None
    autocomplete_choices: list[dict[str, Any]] | None = None
    modal: dict[str, Any] | None = None
    followup_ids: list[int] = field(default_factory=list)


class FakeDiscord:
    """Discord's side of the conversation, in memory."""

    def __init__(
        self,
        *,
        application_id: int = 775799577604522054,
        bot_user_id: int = 775799577604522054,
        bot_name: str = "Improv Panic Button",
        clock: Callable[[], float] | None = None,
        allow_sync: bool = False,
    ) -> None:
        self.application_id = application_id
        self.bot_user = {
            "id": str(bot_user_id),
            "username": bot_name,
            "discriminator": "0",
            "global_name": bot_name,
            "avatar": None,
            "bot": True,
            "public_flags": 0,
            "flags": 0,
        }
        self._clock = clock or time.monotonic
        self.offset = 0.0
        self.allow_sync = allow_sync
        self.messages: dict[int, StoredMessage] = {}
        self.interactions: dict[int, InteractionRecord] = {}
        self.files: dict[str, bytes] = {}
        self.requests: list[tuple[str, str, dict[str, Any] | None]] = []
        self.violations: list[Violation] = []
        self.synced_commands: list[dict[str, Any]] = []
        self.dm_channels: dict[int, int] = {}  # user id -> the id of the bot's DM channel with them
        self._ids = itertools.count(1)
        self._last_ms = 0

    # --- time and ids ------------------------------------------------------------------------------------
    def now(self) -> float:
        """The fake's clock (monotonic seconds plus any `advance`)."""
        return self._clock() + self.offset

    def advance(self, seconds: float) -> None:
        """Move the fake's clock forward (to expire interaction tokens without waiting)."""
        self.offset += seconds

    def snowflake(self) -> int:
        """A fresh, increasing snowflake."""
        ms = max(int(time.time() * 1000), self._last_ms + 1)
        self._last_ms = ms
        return ((ms - DISCORD_EPOCH_MS) << 22) | (next(self._ids) & 0x3FFFFF)

    # --- persistence (the console keeps Discord's state between runs) -----------------------------------
    def dump(self) -> dict[str, Any]:
        """Messages worth keeping across a restart (the channel's, not ephemeral ones)."""
        kept = [m.to_json() for m in self.messages.values() if not m.ephemeral and not m.deleted]
        return {"version": 1, "last_ms": self._last_ms, "messages": kept}

    def load(self, data: dict[str, Any]) -> None:
        """Restore what `dump` returned."""
        self._last_ms = int(data.get("last_ms", 0))
        for raw in data.get("messages", []):
            message = StoredMessage.from_json(raw)
            self.messages[message.id] = message

    # --- queries -----------------------------------------------------------------------------------------
    def channel_messages(self, channel_id: int | None = None) -> list[StoredMessage]:
        """Public messages in a channel (all channels when None), oldest first."""
        return [
            m
            for m in sorted(self.messages.values(), key=lambda m: m.id)
            if not m.ephemeral and not m.deleted and (channel_id is None or m.channel_id == channel_id)
        ]

    def direct_messages(self, user_id: int) -> list[StoredMessage]:
        """Messages the bot sent to one user's DMs."""
        channel_id = self.dm_channels.get(user_id)
        return [] if channel_id is None else self.channel_messages(channel_id)

    def interaction_messages(self, interaction_id: int) -> list[StoredMessage]:
        """Every message created for one interaction (original response first, then followups)."""
        record = self.interactions[interaction_id]
        ids = [record.original_message_id, *record.followup_ids]
        return [self.messages[i] for i in ids if i is not None and i in self.messages]

    # --- interactions delivered by the driver -----------------------------------------------------------
    def register_interaction(
        self, interaction_id: int, token: str, type_: int, channel_id: int, source_message_id: int | None
    ) -> None:
        """Remember an interaction the driver is about to deliver, starting its 3-second clock."""
        self.interactions[interaction_id] = InteractionRecord(
            id=interaction_id,
            token=token,
            type=type_,
            channel_id=channel_id,
            created=self.now(),
            source_message_id=source_message_id,
        )

    def check_acknowledged(self, interaction_id: int) -> None:
        """Record a violation when the bot never answered the interaction."""
        record = self.interactions[interaction_id]
        if not record.acked:
            self._violate(0, "interaction was never acknowledged (the user sees 'This interaction failed')", "-")

    # --- the three I/O points ----------------------------------------------------------------------------
    def rest(self, method: str, path: str, payload: Any) -> Any:
        """Bot REST calls (`HTTPClient.request`)."""
        self.requests.append((method, path, payload))
        route = f"{method} {path}"
        if route == "GET /users/@me":
            return dict(self.bot_user)
        if route == "GET /oauth2/applications/@me":
            return self._application()
        if re.fullmatch(r"PUT /applications/\d+(/guilds/\d+)?/commands", route):
            if not self.allow_sync:
                raise self._error(400, 0, "command tree sync is not allowed here (sync on request only)", route)
            commands: list[dict[str, Any]] = list(payload or [])
            self.synced_commands = commands
            return [dict(c, id=str(self.snowflake()), application_id=str(self.application_id)) for c in commands]
        if route == "POST /users/@me/channels":  # open a DM channel with a user
            user_id = int((payload or {})["recipient_id"])
            channel_id = self.dm_channels.setdefault(user_id, self.snowflake())
            user = {"id": str(user_id), "username": f"user{user_id}", "discriminator": "0", "avatar": None}
            return {"id": str(channel_id), "type": 1, "recipients": [user], "last_message_id": None}
        if m := re.fullmatch(r"POST /channels/(\d+)/messages", route):
            return self._create_message(int(m[1]), payload or {}, route=route).payload
        if m := re.fullmatch(r"(GET|PATCH|DELETE) /channels/(\d+)/messages/(\d+)", route):
            message = self._message(int(m[3]), route)
            if method == "GET":
                return message.payload
            if method == "DELETE":
                message.deleted = True
                return None
            return self._edit(message, payload or {}, route).payload
        if re.fullmatch(r"GET /channels/\d+", route):
            channel_id = int(path.rsplit("/", 1)[1])
            return {"id": str(channel_id), "type": 0, "name": f"channel-{channel_id}", "guild_id": None}
        raise self._error(404, 0, f"the fake Discord has no route {route}", route)

    def webhook(self, method: str, path: str, payload: dict[str, Any] | None) -> Any:
        """Interaction callbacks, followups and edits (`AsyncWebhookAdapter.request`)."""
        self.requests.append((method, path, payload))
        route = f"{method} {path}"
        if m := re.fullmatch(r"POST /interactions/(\d+)/([^/]+)/callback", route):
            return self._callback(int(m[1]), m[2], payload or {}, route)
        if m := re.fullmatch(r"POST /webhooks/(\d+)/([^/]+)", route):
            return self._followup(m[2], payload or {}, route)
        if m := re.fullmatch(r"(GET|PATCH|DELETE) /webhooks/(\d+)/([^/]+)/messages/(@original|\d+)", route):
            record = self._record_for_token(m[3], route)
            if m[4] == "@original":
                if record.original_message_id is None:
                    raise self._error(404, 10008, "Unknown Message", route)
                message = self._message(record.original_message_id, route)
            else:
                message = self._message(int(m[4]), route)
            if method == "GET":
                return message.payload
            if method == "DELETE":
                message.deleted = True
                return None
            message.loading = False
            return self._edit(message, payload or {}, route).payload
        raise self._error(404, 0, f"the fake Discord has no route {route}", route)

    def cdn(self, url: str) -> bytes:
        """Attachment bytes (`HTTPClient.get_from_cdn`)."""
        self.requests.append(("GET", url, None))
        key = url.split("?", 1)[0]
        if key not in self.files:
            raise self._error(404, 0, "Not Found", f"GET {key}")
        return self.files[key]

    # --- internals ---------------------------------------------------------------------------------------
    def _application(self) -> dict[str, Any]:
        return {
            "id": str(self.application_id),
            "name": self.bot_user["username"],
            "icon": None,
            "description": "",
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "owner": {"id": "1", "username": "owner", "discriminator": "0", "avatar": None},
            "flags": 0,
            "team": None,
        }

    def _violate(self, code: int, message: str, route: str) -> Violation:
        violation = Violation(code, message, route)
        self.violations.append(violation)
        return violation

    def _error(self, status: int, code: int, message: str, route: str) -> FakeHTTPError:
        """Record a violation and return the error to raise (Discord's status, code and message)."""
        self._violate(code, message, route)
        return FakeHTTPError(status, code, message)

    def _message(self, message_id: int, route: str) -> StoredMessage:
        message = self.messages.get(message_id)
        if message is None or message.deleted:
            raise self._error(404, 10008, "Unknown Message", route)
        return message

    def _record_for_token(self, token: str, route: str) -> InteractionRecord:
        for record in self.interactions.values():
            if record.token == token:
                if self.now() - record.created > Limits.TOKEN_SECONDS:
                    raise self._error(401, 50027, "Invalid Webhook Token", route)
                return record
        raise self._error(404, 10015, "Unknown Webhook", route)

    def _validate(self, payload: dict[str, Any], route: str) -> None:
        problems: list[str] = []
        content = payload.get("content")
        if content is not None and len(str(content)) > Limits.CONTENT:
            problems.append(f"content: {len(str(content))} > {Limits.CONTENT}")
        embeds = payload.get("embeds") or []
        if len(embeds) > Limits.EMBEDS:
            problems.append(f"embeds: {len(embeds)} > {Limits.EMBEDS}")
        total = 0
        for i, embed in enumerate(embeds):
            problems.extend(f"embeds.{i}.{p}" for p in _embed_problems(embed))
            total += _embed_size(embed)
        if total > Limits.EMBED_TOTAL:
            problems.append(f"embeds: total {total} > {Limits.EMBED_TOTAL}")
        problems.extend(_component_problems(payload.get("components") or []))
        if problems:
            raise self._error(400, 50035, "Invalid Form Body: " + "; ".join(problems), route)

    def _new_payload(self, message_id: int, channel_id: int, payload: dict[str, Any], flags: int) -> dict[str, Any]:
        now = datetime.now(UTC).isoformat()
        return {
            "id": str(message_id),
            "channel_id": str(channel_id),
            "type": 0,
            "author": dict(self.bot_user),
            "content": payload.get("content") or "",
            "embeds": list(payload.get("embeds") or []),
            "components": list(payload.get("components") or []),
            "attachments": [],
            "mentions": [],
            "mention_roles": [],
            "mention_everyone": False,
            "pinned": False,
            "tts": False,
            "timestamp": now,
            "edited_timestamp": None,
            "flags": flags,
            "allowed_mentions": payload.get("allowed_mentions"),
            "application_id": str(self.application_id),
        }

    def _create_message(
        self,
        channel_id: int,
        payload: dict[str, Any],
        *,
        route: str,
        ephemeral: bool = False,
        interaction_id: int | None = None,
        loading: bool = False,
    ) -> StoredMessage:
        self._validate(payload, route)
        message_id = self.snowflake()
        flags = int(payload.get("flags") or 0) | (64 if ephemeral else 0) | (128 if loading else 0)
        message = StoredMessage(
            id=message_id,
            channel_id=channel_id,
            payload=self._new_payload(message_id, channel_id, payload, flags),
            ephemeral=ephemeral,
            interaction_id=interaction_id,
            loading=loading,
        )
        self.messages[message_id] = message
        return message

    def _edit(self, message: StoredMessage, payload: dict[str, Any], route: str) -> StoredMessage:
        self._validate(payload, route)
        message.history.append(json.loads(json.dumps(message.payload)))
        updated = dict(message.payload)
        for key in ("content", "embeds", "components", "allowed_mentions"):
            if key in payload:
                updated[key] = payload[key] if payload[key] is not None else ([] if key != "content" else "")
        updated["flags"] = int(updated.get("flags") or 0) & ~128
        updated["edited_timestamp"] = datetime.now(UTC).isoformat()
        message.payload = updated
        return message

    def _callback(self, interaction_id: int, token: str, body: dict[str, Any], route: str) -> dict[str, Any]:
        record = self.interactions.get(interaction_id)
        if record is None or record.token != token:
            raise self._error(404, 10062, "Unknown interaction", route)
        if record.acked:
            raise self._error(400, 40060, "Interaction has already been acknowledged.", route)
        if self.now() - record.created > Limits.ACK_SECONDS:
            raise self._error(404, 10062, "Unknown interaction (not acknowledged within 3 seconds)", route)
        kind = int(body.get("type", 0))
        data = dict(body.get("data") or {})
        ephemeral = bool(int(data.get("flags") or 0) & 64)
        message: StoredMessage | None = None
        if kind == 4:  # CHANNEL_MESSAGE_WITH_SOURCE
            message = self._create_message(
                record.channel_id, data, route=route, ephemeral=ephemeral, interaction_id=interaction_id
            )
            record.original_message_id = message.id
        elif kind == 5:  # DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE ("thinking")
            message = self._create_message(
                record.channel_id, {}, route=route, ephemeral=ephemeral, interaction_id=interaction_id, loading=True
            )
            record.original_message_id = message.id
            record.deferred_thinking = True
        elif kind in (6, 7):  # DEFERRED_UPDATE_MESSAGE / UPDATE_MESSAGE
            if record.source_message_id is None:
                raise self._error(400, 50035, "Invalid Form Body: no message to update", route)
            record.original_message_id = record.source_message_id
            message = self._message(record.source_message_id, route)
            ephemeral = message.ephemeral
            if kind == 7:
                self._edit(message, data, route)
        elif kind == 8:  # APPLICATION_COMMAND_AUTOCOMPLETE_RESULT
            choices = list(data.get("choices") or [])
            if len(choices) > Limits.AUTOCOMPLETE_CHOICES:
                raise self._error(400, 50035, "Invalid Form Body: more than 25 choices", route)
            record.autocomplete_choices = choices
        elif kind == 9:  # MODAL
            record.modal = data
        else:
            raise self._error(400, 50035, f"Invalid Form Body: unknown callback type {kind}", route)
        record.acked = True
        record.acked_at = self.now()
        record.callback_type = kind
        record.ephemeral = ephemeral
        response: dict[str, Any] = {
            "interaction": {
                "id": str(interaction_id),
                "type": record.type,
                "response_message_loading": kind == 5,
                "response_message_ephemeral": ephemeral,
            }
        }
        if message is not None:
            response["interaction"]["response_message_id"] = str(message.id)
            response["resource"] = {"type": kind, "message": message.payload}
        else:
            response["resource"] = {"type": kind}
        return response

    def _followup(self, token: str, payload: dict[str, Any], route: str) -> dict[str, Any]:
        record = self._record_for_token(token, route)
        if not record.acked:
            raise self._error(404, 10015, "Unknown Webhook (followup before the interaction was acknowledged)", route)
        if record.deferred_thinking and record.original_message_id is not None:
            original = self.messages[record.original_message_id]
            if original.loading and not original.deleted:  # deprecated: this followup would edit the placeholder
                raise self._error(
                    400,
                    50035,
                    "Invalid Form Body: a followup would fill the deferred response (deprecated); "
                    "edit @original instead",
                    route,
                )
        ephemeral = bool(int(payload.get("flags") or 0) & 64)
        message = self._create_message(
            record.channel_id, payload, route=route, ephemeral=ephemeral, interaction_id=record.id
        )
        record.followup_ids.append(message.id)
        return message.payload


def _embed_size(embed: dict[str, Any]) -> int:
    size = len(embed.get("title") or "") + len(embed.get("description") or "")
    size += len((embed.get("footer") or {}).get("text") or "") + len((embed.get("author") or {}).get("name") or "")
    for f in embed.get("fields") or []:
        size += len(f.get("name") or "") + len(f.get("value") or "")
    return size


def _embed_problems(embed: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    checks = [
        ("title", embed.get("title"), Limits.EMBED_TITLE),
        ("description", embed.get("description"), Limits.EMBED_DESCRIPTION),
        ("footer.text", (embed.get("footer") or {}).get("text"), Limits.FOOTER),
        ("author.name", (embed.get("author") or {}).get("name"), Limits.AUTHOR),
    ]
    fields = embed.get("fields") or []
    if len(fields) > Limits.EMBED_FIELDS:
        problems.append(f"fields: {len(fields)} > {Limits.EMBED_FIELDS}")
    for i, f in enumerate(fields):
        checks.append((f"fields.{i}.name", f.get("name"), Limits.FIELD_NAME))
        checks.append((f"fields.{i}.value", f.get("value"), Limits.FIELD_VALUE))
        if not f.get("name") or not f.get("value"):
            problems.append(f"fields.{i}: name and value are required")
    problems.extend(f"{name}: {len(value)} > {limit}" for name, value, limit in checks if value and len(value) > limit)
    return problems


def _component_problems(rows: list[dict[str, Any]]) -> list[str]:
    problems: list[str] = []
    if len(rows) > Limits.ROWS:
        problems.append(f"components: {len(rows)} rows > {Limits.ROWS}")
    for r, row in enumerate(rows):
        children = row.get("components") or []
        buttons = [c for c in children if c.get("type") == 2]
        if len(buttons) > Limits.ROW_BUTTONS:
            problems.append(f"components.{r}: {len(buttons)} buttons > {Limits.ROW_BUTTONS}")
    for component in _walk_components(rows):
        custom_id = component.get("custom_id")
        if custom_id is not None and len(custom_id) > Limits.CUSTOM_ID:
            problems.append(f"custom_id {custom_id[:20]}…: {len(custom_id)} > {Limits.CUSTOM_ID}")
        label = component.get("label")
        if label is not None and len(label) > Limits.LABEL:
            problems.append(f"label: {len(label)} > {Limits.LABEL}")
        if len(component.get("options") or []) > Limits.SELECT_OPTIONS:
            problems.append("select: more than 25 options")
    return problems
