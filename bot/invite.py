"""The bot's invite link: the OAuth2 scopes and the permission bits it needs (no discord import; the site and the
README use this one definition, and a test keeps the README's integer equal to it).

Audit of what the bot does in a server: every answer, the red-button panel and every refusal go out as
interaction responses, followups or edits of them, and a long import reports by DM. Discord checks the
app's channel permissions for what those messages carry: public ones need the channel to be visible and
writable for the app, and all of them are embeds (without Embed Links they arrive empty). Nothing reads
channel history, reacts, attaches files, manages roles or uses external emoji.
"""

from __future__ import annotations

from urllib.parse import urlencode

__all__ = ["PERMISSIONS", "SCOPES", "invite_url", "permissions_integer"]

AUTHORIZE_URL = "https://discord.com/oauth2/authorize"
# `bot` adds the bot user to the server; `applications.commands` publishes the slash commands there.
SCOPES: tuple[str, ...] = ("bot", "applications.commands")
# Discord's permission bits (topics/permissions), by the name Discord's UI shows.
PERMISSIONS: dict[str, int] = {
    "View Channels": 1 << 10,
    "Send Messages": 1 << 11,
    "Embed Links": 1 << 14,
}


def permissions_integer() -> int:
    """The `permissions` value of the invite link: every bit in `PERMISSIONS`."""
    value = 0
    for bit in PERMISSIONS.values():
        value |= bit
    return value


def invite_url(application_id: int) -> str:
    """The "Add to Discord" link for the application `application_id` (its id in the developer portal)."""
    if application_id <= 0:
        raise ValueError("application_id must be a positive Discord snowflake")
    query = urlencode(
        {"client_id": str(application_id), "scope": " ".join(SCOPES), "permissions": str(permissions_integer())}
    )
    return f"{AUTHORIZE_URL}?{query}"
