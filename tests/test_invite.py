"""The invite link: one definition (bot/invite.py), the README's "Invite the bot" section agrees with it."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from bot.invite import PERMISSIONS, SCOPES, invite_url, permissions_integer
from tests.test_readme import README


def invite_section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("## Invite the bot")
    return text[start : text.index("\n## ", start + 1)]


def test_the_link_asks_for_the_scopes_and_permissions() -> None:
    url = urlsplit(invite_url(1187654321098765432))
    assert (url.scheme, url.netloc, url.path) == ("https", "discord.com", "/oauth2/authorize")
    query = parse_qs(url.query)
    assert query == {
        "client_id": ["1187654321098765432"],
        "scope": ["bot applications.commands"],
        "permissions": [str(permissions_integer())],
    }
    assert "scope=bot+applications.commands" in url.query


def test_the_permissions_are_view_send_and_embed() -> None:
    # Discord's bits: VIEW_CHANNEL 1 << 10, SEND_MESSAGES 1 << 11, EMBED_LINKS 1 << 14
    assert permissions_integer() == 1024 + 2048 + 16384 == 19456


def test_the_readme_names_the_same_integer_scopes_and_permissions() -> None:
    section = invite_section()
    integers = {int(n) for n in re.findall(r"permissions[= ](?:integer )?`?(\d+)", section)}
    assert integers == {permissions_integer()}
    for scope in SCOPES:
        assert f"`{scope}`" in section
    assert re.findall(r"\*\*([A-Za-z ]+)\*\*", section) == list(PERMISSIONS)
    template = re.search(r"```\n(https://\S+)\n```", section)
    assert template is not None
    assert template.group(1) == invite_url(424242).replace("424242", "APPLICATION_ID")


def test_a_bad_application_id_is_refused() -> None:
    with pytest.raises(ValueError, match="snowflake"):
        invite_url(0)
