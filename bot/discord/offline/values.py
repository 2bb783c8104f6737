"""What a test or `improv console` hands the offline driver (users, roles, attachments) and what it hands back
(the exchange of one interaction)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.discord.offline.fake_discord import FakeDiscord, InteractionRecord, StoredMessage

__all__ = [
    "BASIC_PERMISSIONS",
    "GM",
    "MANAGE_GUILD",
    "PLAYER",
    "AttachmentArg",
    "Exchange",
    "FakeRole",
    "FakeUser",
    "HarnessFailure",
]

MANAGE_GUILD = 1 << 5
BASIC_PERMISSIONS = (1 << 10) | (1 << 11) | (1 << 14) | (1 << 15) | (1 << 16) | (1 << 31)


class HarnessFailure(AssertionError):
    """The bot broke one of Discord's rules or let an error pass silently."""


@dataclass(frozen=True, slots=True)
class FakeUser:
    """A guild member who uses the bot."""

    id: int
    name: str
    permissions: int = BASIC_PERMISSIONS
    roles: tuple[int, ...] = ()

    def member_payload(self) -> dict[str, Any]:
        """The `member` object of an interaction."""
        return {
            "user": {
                "id": str(self.id),
                "username": self.name,
                "global_name": self.name.title(),
                "discriminator": "0",
                "avatar": None,
                "public_flags": 0,
            },
            "roles": [str(r) for r in self.roles],
            "permissions": str(self.permissions),
            "joined_at": "2024-01-01T00:00:00+00:00",
            "premium_since": None,
            "nick": None,
            "avatar": None,
            "flags": 0,
            "pending": False,
            "deaf": False,
            "mute": False,
        }


@dataclass(frozen=True, slots=True)
class FakeRole:
    """A role given as a slash-command option."""

    id: int
    name: str

    def payload(self) -> dict[str, Any]:
        """Discord's role object."""
        return {
            "id": str(self.id),
            "name": self.name,
            "color": 0,
            "hoist": False,
            "position": 1,
            "permissions": "0",
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }


@dataclass(frozen=True, slots=True)
class AttachmentArg:
    """A file the user attaches to a slash command; its bytes are served by the fake CDN."""

    filename: str
    data: bytes
    content_type: str | None
    size: int | None = None  # override the declared size (e.g. to claim a huge file without making one)


GM = FakeUser(1001, "gm", BASIC_PERMISSIONS | MANAGE_GUILD)
PLAYER = FakeUser(2002, "player")


@dataclass(slots=True)
class Exchange:
    """What one interaction produced."""

    fake: FakeDiscord
    record: InteractionRecord

    @property
    def responses(self) -> list[StoredMessage]:
        """Every message created for the interaction: the original response, then followups."""
        return self.fake.interaction_messages(self.record.id)

    @property
    def message(self) -> StoredMessage:
        """The interaction's visible message (for a component defer, the message that carried it)."""
        if self.record.original_message_id is None:
            raise HarnessFailure(f"interaction {self.record.id} has no message (callback {self.record.callback_type})")
        return self.fake.messages[self.record.original_message_id]

    @property
    def followups(self) -> list[StoredMessage]:
        """Messages sent with `interaction.followup.send` that did not replace a thinking placeholder."""
        return [self.fake.messages[i] for i in self.record.followup_ids]

    @property
    def last(self) -> StoredMessage:
        """The newest message of the interaction."""
        responses = self.responses
        if not responses:
            raise HarnessFailure(f"interaction {self.record.id} sent no message")
        return max(responses, key=lambda m: m.id)

    @property
    def ephemeral(self) -> bool:
        """Whether the acknowledgement was private to the user."""
        return self.record.ephemeral

    @property
    def choices(self) -> list[dict[str, Any]]:
        """Autocomplete choices returned."""
        return list(self.record.autocomplete_choices or [])
