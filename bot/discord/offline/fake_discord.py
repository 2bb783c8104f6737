"""An in-memory Discord that speaks the REST and interaction-webhook wire formats discord.py uses.

It answers the three I/O points of discord.py (bot REST, interaction webhooks, CDN), keeps the messages the bot
posted, and enforces Discord's documented rules (3 s acknowledgement, one acknowledgement, no followup before
it, no followup in place of the deferred response's edit, 15-minute tokens, callback types that fit the
interaction, no /channels access to ephemeral messages, the bot's channel permissions, command sync only on
request) and checks every body against Discord's OpenAPI schemas and documented limits (`rules.py`), answering
violations with the HTTP status and JSON body Discord would, and recording them so a test or the console can
report them. `server.py` serves it over HTTP for discord.py's own HTTP stack (rate limits included).
"""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.discord.offline.rules import (
    FakeHTTPError,
    Limits,
    Perm,
    check_callback,
    check_channel_post,
    check_commands,
    check_message,
    is_empty,
    walk_components,
)

__all__ = ["FakeDiscord", "FakeHTTPError", "Limits", "StoredMessage", "Violation"]

DISCORD_EPOCH_MS = 1420070400000


@dataclass(slots=True)
class Violation:
    """A request Discord would have refused, or an interaction left unanswered."""

    code: int
    message: str
    route: str

    def __str__(self) -> str:
        return f"{self.code} {self.message} ({self.route})"


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
        return list(walk_components(self.components))

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
    focused_type: int | None = None  # autocomplete: the focused option's type
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
        # the bot's permissions per guild channel (`app_permissions` of interactions there); others get the default
        self.channel_permissions: dict[int, int] = {}
        self.default_permissions = (
            Perm.VIEW_CHANNEL | Perm.SEND_MESSAGES | Perm.EMBED_LINKS | Perm.ATTACH_FILES | Perm.READ_MESSAGE_HISTORY
        )
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

    # --- permissions -------------------------------------------------------------------------------------
    def permissions_in(self, channel_id: int) -> int:
        """The bot's permissions in a channel (all of them in its own DM channels)."""
        if channel_id in self.dm_channels.values():
            return self.default_permissions
        return self.channel_permissions.get(channel_id, self.default_permissions)

    # --- interactions delivered by the driver -----------------------------------------------------------
    def register_interaction(
        self,
        interaction_id: int,
        token: str,
        type_: int,
        channel_id: int,
        source_message_id: int | None,
        focused_type: int | None = None,
    ) -> None:
        """Remember an interaction the driver is about to deliver, starting its 3-second clock (`focused_type`:
        the option type of an autocomplete's focused option, which its choices must match)."""
        self.interactions[interaction_id] = InteractionRecord(
            id=interaction_id,
            token=token,
            type=type_,
            channel_id=channel_id,
            created=self.now(),
            source_message_id=source_message_id,
            focused_type=focused_type,
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
        try:
            return self._rest(method, route, payload)
        except FakeHTTPError as err:
            raise self._refused(err, route) from None

    def webhook(self, method: str, path: str, payload: dict[str, Any] | None) -> Any:
        """Interaction callbacks, followups and edits (`AsyncWebhookAdapter.request`)."""
        self.requests.append((method, path, payload))
        route = f"{method} {path}"
        try:
            return self._webhook(method, route, payload)
        except FakeHTTPError as err:
            raise self._refused(err, route) from None

    def cdn(self, url: str) -> bytes:
        """Attachment bytes (`HTTPClient.get_from_cdn`)."""
        self.requests.append(("GET", url, None))
        key = url.split("?", 1)[0]
        if key not in self.files:
            raise self._refused(FakeHTTPError(404, 0, "Not Found"), f"GET {key}")
        return self.files[key]

    # --- routes ------------------------------------------------------------------------------------------
    def _rest(self, method: str, route: str, payload: Any) -> Any:
        if route == "GET /users/@me":
            return dict(self.bot_user)
        if route == "GET /oauth2/applications/@me":
            return self._application()
        if m := re.fullmatch(r"PUT /applications/(\d+)(/guilds/\d+)?/commands", route):
            if int(m[1]) != self.application_id:
                raise FakeHTTPError(403, 50001, "Missing Access")
            check_commands(payload)
            if not self.allow_sync:
                raise FakeHTTPError(400, 0, "command tree sync is not allowed here (sync on request only)")
            commands: list[dict[str, Any]] = list(payload or [])
            self.synced_commands = commands
            return [dict(c, id=str(self.snowflake()), application_id=str(self.application_id)) for c in commands]
        if route == "POST /users/@me/channels":  # open a DM channel with a user
            user_id = int((payload or {})["recipient_id"])
            channel_id = self.dm_channels.setdefault(user_id, self.snowflake())
            user = {"id": str(user_id), "username": f"user{user_id}", "discriminator": "0", "avatar": None}
            return {"id": str(channel_id), "type": 1, "recipients": [user], "last_message_id": None}
        if m := re.fullmatch(r"POST /channels/(\d+)/messages", route):
            channel_id, body = int(m[1]), payload or {}
            check_channel_post(self.permissions_in(channel_id), body)
            check_message(body, schema="channel_message_create", flags="channel")
            return self._create_message(channel_id, body).payload
        if m := re.fullmatch(r"(GET|PATCH|DELETE) /channels/(\d+)/messages/(\d+)", route):
            channel_id = int(m[2])
            if not self.permissions_in(channel_id) & Perm.VIEW_CHANNEL:
                raise FakeHTTPError(403, 50001, "Missing Access")
            message = self._message(int(m[3]))
            if message.ephemeral or message.channel_id != channel_id:  # ephemeral messages live only in webhooks
                raise FakeHTTPError(404, 10008, "Unknown Message")
            if method == "GET":
                return message.payload
            if method == "DELETE":
                message.deleted = True
                return None
            check_message(payload or {}, schema="channel_message_edit", flags="edit")
            return self._edit(message, payload or {}).payload
        if m := re.fullmatch(r"GET /channels/(\d+)", route):
            channel_id = int(m[1])
            if not self.permissions_in(channel_id) & Perm.VIEW_CHANNEL:
                raise FakeHTTPError(403, 50001, "Missing Access")
            return {"id": str(channel_id), "type": 0, "name": f"channel-{channel_id}", "guild_id": None}
        raise FakeHTTPError(404, 0, f"the fake Discord has no route {route}")

    def _webhook(self, method: str, route: str, payload: dict[str, Any] | None) -> Any:
        if m := re.fullmatch(r"POST /interactions/(\d+)/([^/]+)/callback", route):
            return self._callback(int(m[1]), m[2], payload or {})
        if m := re.fullmatch(r"POST /webhooks/(\d+)/([^/]+)", route):
            return self._followup(self._record_for_token(int(m[1]), m[2]), payload or {})
        if m := re.fullmatch(r"(GET|PATCH|DELETE) /webhooks/(\d+)/([^/]+)/messages/(@original|\d+)", route):
            record = self._record_for_token(int(m[2]), m[3])
            message_id = record.original_message_id if m[4] == "@original" else int(m[4])
            if message_id is None or message_id not in (record.original_message_id, *record.followup_ids):
                raise FakeHTTPError(404, 10008, "Unknown Message")
            message = self._message(message_id)
            if method == "GET":
                return message.payload
            if method == "DELETE":
                message.deleted = True
                return None
            check_message(payload or {}, schema="webhook_message_edit", flags="edit")
            return self._edit(message, payload or {}).payload
        raise FakeHTTPError(404, 0, f"the fake Discord has no route {route}")

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

    def _refused(self, err: FakeHTTPError, route: str) -> FakeHTTPError:
        """Record a refusal as a violation and return it to raise."""
        self._violate(err.code, str(err).split(" ", 2)[2], route)
        return err

    def _message(self, message_id: int) -> StoredMessage:
        message = self.messages.get(message_id)
        if message is None or message.deleted:
            raise FakeHTTPError(404, 10008, "Unknown Message")
        return message

    def _record_for_token(self, application_id: int, token: str) -> InteractionRecord:
        for record in self.interactions.values():
            if record.token == token and application_id == self.application_id:
                if self.now() - record.created > Limits.TOKEN_SECONDS:
                    raise FakeHTTPError(401, 50027, "Invalid Webhook Token")
                return record
        raise FakeHTTPError(404, 10015, "Unknown Webhook")

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
            "attachments": self._attachments(channel_id, payload.get("attachments")),
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

    def _attachments(self, channel_id: int, requested: Any) -> list[dict[str, Any]]:
        """Discord's attachment objects for the `attachments` of a request (uploads are not kept)."""
        stored: list[dict[str, Any]] = []
        for item in requested or []:
            if "url" in item:  # an attachment the message already has, kept by an edit
                stored.append(item)
                continue
            attachment_id = self.snowflake()
            name = str(item.get("filename") or "file")
            url = f"https://cdn.discordapp.com/attachments/{channel_id}/{attachment_id}/{name}"
            stored.append({"id": str(attachment_id), "filename": name, "size": 0, "url": url, "proxy_url": url})
        return stored

    def _create_message(
        self,
        channel_id: int,
        payload: dict[str, Any],
        *,
        ephemeral: bool = False,
        interaction_id: int | None = None,
        loading: bool = False,
    ) -> StoredMessage:
        """Store a new message (its body already checked); an empty one is Discord's 50006."""
        if not loading and is_empty(payload):
            raise FakeHTTPError(400, 50006, "Cannot send an empty message")
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

    def _edit(self, message: StoredMessage, payload: dict[str, Any]) -> StoredMessage:
        """Apply an edit (its body already checked); a message edited to nothing is Discord's 50006."""
        updated = dict(message.payload)
        for key in ("content", "embeds", "components", "allowed_mentions"):
            if key in payload:
                updated[key] = payload[key] if payload[key] is not None else ([] if key != "content" else "")
        if "attachments" in payload:
            updated["attachments"] = self._attachments(message.channel_id, payload["attachments"])
        if is_empty(updated):
            raise FakeHTTPError(400, 50006, "Cannot send an empty message")
        message.history.append(json.loads(json.dumps(message.payload)))
        updated["flags"] = int(updated.get("flags") or 0) & ~128
        updated["edited_timestamp"] = datetime.now(UTC).isoformat()
        message.payload = updated
        message.loading = False
        return message

    def _callback(self, interaction_id: int, token: str, body: dict[str, Any]) -> dict[str, Any]:
        record = self.interactions.get(interaction_id)
        if record is None or record.token != token:
            raise FakeHTTPError(404, 10062, "Unknown interaction")
        if record.acked:
            raise FakeHTTPError(400, 40060, "Interaction has already been acknowledged.")
        if self.now() - record.created > Limits.ACK_SECONDS:
            raise FakeHTTPError(404, 10062, "Unknown interaction")
        kind = check_callback(body, record.type, record.focused_type)
        data = dict(body.get("data") or {})
        ephemeral = bool(int(data.get("flags") or 0) & 64)
        message: StoredMessage | None = None
        if kind == 4:  # CHANNEL_MESSAGE_WITH_SOURCE
            message = self._create_message(record.channel_id, data, ephemeral=ephemeral, interaction_id=interaction_id)
            record.original_message_id = message.id
        elif kind == 5:  # DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE ("thinking")
            message = self._create_message(
                record.channel_id, {}, ephemeral=ephemeral, interaction_id=interaction_id, loading=True
            )
            record.original_message_id = message.id
            record.deferred_thinking = True
        elif kind in (6, 7):  # DEFERRED_UPDATE_MESSAGE / UPDATE_MESSAGE (components: check_callback ensured it)
            if record.source_message_id is None:
                raise FakeHTTPError(400, 50035, "Invalid Form Body")
            record.original_message_id = record.source_message_id
            message = self._message(record.source_message_id)
            ephemeral = message.ephemeral
            if kind == 7:
                self._edit(message, data)
        elif kind == 8:  # APPLICATION_COMMAND_AUTOCOMPLETE_RESULT
            record.autocomplete_choices = list(data.get("choices") or [])
        else:  # MODAL
            record.modal = data
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

    def _followup(self, record: InteractionRecord, payload: dict[str, Any]) -> dict[str, Any]:
        if not record.acked:
            raise FakeHTTPError(404, 10015, "Unknown Webhook")
        if record.deferred_thinking and record.original_message_id is not None:
            original = self.messages[record.original_message_id]
            if original.loading and not original.deleted:  # deprecated: this followup would edit the placeholder
                raise FakeHTTPError(
                    400,
                    50035,
                    "Invalid Form Body",
                    {
                        "_errors": [
                            {
                                "code": "INTERACTION_FOLLOWUP_EDITS_DEFERRED",
                                "message": "A followup would fill the deferred response (deprecated); "
                                "edit @original instead",
                            }
                        ]
                    },
                )
        check_message(payload, schema="IncomingWebhookRequestPartial", flags="followup")
        ephemeral = bool(int(payload.get("flags") or 0) & 64)
        message = self._create_message(record.channel_id, payload, ephemeral=ephemeral, interaction_id=record.id)
        record.followup_ids.append(message.id)
        return message.payload
