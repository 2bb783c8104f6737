"""Each request Discord refuses is refused by the offline fake with Discord's status, code and error body.

The requests go over loopback HTTP through discord.py's own `HTTPClient` and webhook adapter (as the bot sends
them) to `FakeDiscordServer`; discord.py parses the answers into its exceptions. The sources of the rules are in
docs/discord-facts.md.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import discord
import pytest
import pytest_asyncio
from discord.http import HTTPClient, Route

from bot.discord.offline.driver import HTTPWebhookAdapter, connect_http
from bot.discord.offline.fake_discord import FakeDiscord
from bot.discord.offline.rules import Perm
from bot.discord.offline.schema import SCHEMA_FILE
from bot.discord.offline.server import FakeDiscordServer

CHANNEL = 645027906669510667
BUTTON = {"type": 2, "style": 1, "label": "Reroll", "custom_id": "panic:reroll:1"}
GOOD = {
    "content": "An innkeeper",
    "components": [{"type": 1, "components": [BUTTON]}],
    "allowed_mentions": {"parse": []},
}


@dataclass
class Wire:
    """discord.py's HTTP client and webhook adapter, talking to the fake over loopback HTTP."""

    fake: FakeDiscord
    server: FakeDiscordServer
    http: HTTPClient
    webhooks: HTTPWebhookAdapter

    def interaction(self, type_: int = 2, *, focused_type: int | None = None, source: int | None = None) -> str:
        """Register an interaction the fake delivered; returns its id/token pair as 'id/token'."""
        iid = self.fake.snowflake()
        self.fake.register_interaction(iid, f"tok{iid}", type_, CHANNEL, source, focused_type)
        return f"{iid}/tok{iid}"

    async def callback(self, interaction: str, body: dict[str, Any]) -> Any:
        iid, token = interaction.split("/")
        route = Route("POST", "/interactions/{i}/{t}/callback", i=iid, t=token)
        return await self.webhooks.request(route, self._session(), payload=body)

    async def followup(self, interaction: str, body: dict[str, Any]) -> Any:
        route = Route("POST", "/webhooks/{a}/{t}", a=self.fake.application_id, t=interaction.split("/")[1])
        return await self.webhooks.request(route, self._session(), payload=body)

    async def edit_original(self, interaction: str, body: dict[str, Any]) -> Any:
        token = interaction.split("/")[1]
        route = Route("PATCH", "/webhooks/{a}/{t}/messages/@original", a=self.fake.application_id, t=token)
        return await self.webhooks.request(route, self._session(), payload=body)

    async def rest(self, method: str, path: str, body: Any = None) -> Any:
        return await self.http.request(Route(method, path), json=body)

    def _session(self) -> aiohttp.ClientSession:
        session: aiohttp.ClientSession = self.http._HTTPClient__session  # type: ignore[attr-defined]
        return session


@pytest_asyncio.fixture(loop_scope="session")
async def wire() -> AsyncIterator[Wire]:
    fake = FakeDiscord(allow_sync=True)
    server = FakeDiscordServer(fake)
    await server.start()
    http = HTTPClient(asyncio.get_running_loop())
    connect_http(http, server)
    await http.static_login("offline-token")
    try:
        yield Wire(fake, server, http, HTTPWebhookAdapter(server))
    finally:
        await http.close()
        await server.close()


async def _refused(call: Awaitable[Any]) -> discord.HTTPException:
    with pytest.raises(discord.HTTPException) as info:
        await call
    return info.value


def _with(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(GOOD)
    body.update(changes)
    return body


def _row(*components: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"type": 1, "components": list(components)}]


SELECT = {"type": 3, "custom_id": "pick", "options": [{"label": "Aria", "value": "aria"}]}
BAD_MESSAGES = {
    "empty reply": ({"content": "", "allowed_mentions": {"parse": []}}, 50006),
    "blank reply": ({"content": "  \n "}, 50006),
    "content over 2,000": (_with(content="x" * 2001), 50035),
    "embed title over 256": (_with(embeds=[{"title": "t" * 257}]), 50035),
    "embed description over 4,096": (_with(embeds=[{"description": "d" * 4097}]), 50035),
    "26 embed fields": (_with(embeds=[{"fields": [{"name": "n", "value": "v"}] * 26}]), 50035),
    "embed field value over 1,024": (_with(embeds=[{"fields": [{"name": "n", "value": "v" * 1025}]}]), 50035),
    "embeds over 6,000 together": (_with(embeds=[{"description": "d" * 4000}, {"description": "d" * 2001}]), 50035),
    "11 embeds": (_with(embeds=[{"title": "x"}] * 11), 50035),
    "custom_id over 100": (_with(components=_row({**BUTTON, "custom_id": "c" * 101})), 50035),
    "duplicate custom_ids": (_with(components=_row(BUTTON, {**BUTTON, "label": "Again"})), 50035),
    "link button with a custom_id": (
        _with(components=_row({"type": 2, "style": 5, "label": "Docs", "url": "https://x.example", "custom_id": "d"})),
        50035,
    ),
    "link button without a url": (_with(components=_row({"type": 2, "style": 5, "label": "Docs"})), 50035),
    "duplicate component ids": (
        _with(components=_row({**BUTTON, "id": 7}, {**BUTTON, "custom_id": "b", "id": 7})),
        50035,
    ),
    "premium button with a label": (
        _with(components=_row({"type": 2, "style": 6, "label": "Buy", "sku_id": "1"})),
        50035,
    ),
    "button without a custom_id": (_with(components=_row({"type": 2, "style": 1, "label": "Go"})), 50035),
    "button label over 80": (_with(components=_row({**BUTTON, "label": "l" * 81})), 50035),
    "six buttons in a row": (
        _with(components=_row(*({**BUTTON, "custom_id": f"b{i}"} for i in range(6)))),
        50035,
    ),
    "six rows": (_with(components=[_row({**BUTTON, "custom_id": f"r{i}"})[0] for i in range(6)]), 50035),
    "select sharing a row with buttons": (_with(components=_row(SELECT, {**BUTTON, "custom_id": "b"})), 50035),
    "select option label over 100": (
        _with(components=_row({**SELECT, "options": [{"label": "l" * 101, "value": "v"}]})),
        50035,
    ),
    "select option value over 100": (
        _with(components=_row({**SELECT, "options": [{"label": "l", "value": "v" * 101}]})),
        50035,
    ),
    "select placeholder over 150": (_with(components=_row({**SELECT, "placeholder": "p" * 151})), 50035),
    "26 select options": (
        _with(components=_row({**SELECT, "options": [{"label": f"{i}", "value": f"{i}"} for i in range(26)]})),
        50035,
    ),
    "link url over 512": (
        _with(components=_row({"type": 2, "style": 5, "label": "Docs", "url": "https://x.example/" + "a" * 500})),
        50035,
    ),
    "a flag that cannot be set (LOADING)": (_with(flags=128), 50035),
}


@pytest.mark.parametrize(("body", "code"), BAD_MESSAGES.values(), ids=BAD_MESSAGES.keys())
async def test_a_bad_reply_is_refused_on_every_route(wire: Wire, body: dict[str, Any], code: int) -> None:
    for send in (
        lambda: wire.callback(wire.interaction(), {"type": 4, "data": body}),
        lambda: _followup_after_reply(wire, body),
        lambda: _edit_after_reply(wire, body),
        lambda: wire.rest("POST", f"/channels/{CHANNEL}/messages", body),
    ):
        err = await _refused(send())
        assert (err.status, err.code) == (400, code), err.text
    assert len(wire.fake.violations) == 4


async def _followup_after_reply(wire: Wire, body: dict[str, Any]) -> Any:
    interaction = wire.interaction()
    await wire.callback(interaction, {"type": 4, "data": GOOD})
    return await wire.followup(interaction, body)


async def _edit_after_reply(wire: Wire, body: dict[str, Any]) -> Any:
    interaction = wire.interaction()
    await wire.callback(interaction, {"type": 5})
    return await wire.edit_original(interaction, body)


async def test_the_good_reply_is_accepted_on_every_route(wire: Wire) -> None:
    """The baseline each bad body departs from is valid: the refusals above are for the broken field."""
    await wire.callback(wire.interaction(), {"type": 4, "data": GOOD})
    await _followup_after_reply(wire, GOOD)
    await _edit_after_reply(wire, GOOD)
    await wire.rest("POST", f"/channels/{CHANNEL}/messages", GOOD)
    link = _row({"type": 2, "style": 5, "label": "Docs", "url": "https://x.example/" + "a" * 490})
    await wire.rest("POST", f"/channels/{CHANNEL}/messages", _with(components=[*link, *_row(SELECT)]))
    assert wire.fake.violations == []


async def test_discords_error_body_names_the_field(wire: Wire) -> None:
    url = f"{wire.server.base_url}/interactions/{wire.interaction()}/callback"
    body_sent = {"type": 4, "data": _with(content="x" * 2001)}
    async with aiohttp.ClientSession() as session, session.post(url, json=body_sent) as response:
        body = await response.json()
    assert response.status == 400
    assert body["code"] == 50035
    assert body["message"] == "Invalid Form Body"
    assert body["errors"]["data"]["content"]["_errors"][0]["code"] == "BASE_TYPE_MAX_LENGTH"


CallbackCase = tuple[int, int | None, dict[str, Any]]
BAD_CALLBACKS: dict[str, CallbackCase] = {
    "message reply to an autocomplete": (4, 3, {"type": 4, "data": GOOD}),
    "choices for a slash command": (2, None, {"type": 8, "data": {"choices": []}}),
    "update message for a slash command": (2, None, {"type": 7, "data": GOOD}),
    "deferred update for a slash command": (2, None, {"type": 6}),
    "modal for an autocomplete": (4, 3, {"type": 9, "data": {"custom_id": "m", "title": "t", "components": []}}),
    "unknown callback type": (2, None, {"type": 3}),
    "autocomplete choice name over 100": (4, 3, {"type": 8, "data": {"choices": [{"name": "n" * 101, "value": "v"}]}}),
    "autocomplete string choice for an integer option": (
        4,
        4,
        {"type": 8, "data": {"choices": [{"name": "one", "value": "1"}]}},
    ),
    "26 autocomplete choices": (
        4,
        3,
        {"type": 8, "data": {"choices": [{"name": f"{i}", "value": f"{i}"} for i in range(26)]}},
    ),
    "deferred reply with a flag other than EPHEMERAL": (2, None, {"type": 5, "data": {"flags": 4}}),
}


@pytest.mark.parametrize(("interaction_type", "focused", "body"), BAD_CALLBACKS.values(), ids=BAD_CALLBACKS.keys())
async def test_a_callback_that_does_not_fit_is_refused(
    wire: Wire, interaction_type: int, focused: int | None, body: dict[str, Any]
) -> None:
    interaction = wire.interaction(interaction_type, focused_type=focused)
    err = await _refused(wire.callback(interaction, body))
    assert (err.status, err.code) == (400, 50035), err.text
    assert not wire.fake.interactions[int(interaction.split("/")[0])].acked


async def test_fitting_autocomplete_choices_are_accepted(wire: Wire) -> None:
    await wire.callback(
        wire.interaction(4, focused_type=3), {"type": 8, "data": {"choices": [{"name": "n" * 100, "value": "v"}]}}
    )
    await wire.callback(
        wire.interaction(4, focused_type=4), {"type": 8, "data": {"choices": [{"name": "one", "value": 1}]}}
    )
    assert wire.fake.violations == []


async def test_the_deprecated_followup_as_edit_is_refused(wire: Wire) -> None:
    interaction = wire.interaction()
    await wire.callback(interaction, {"type": 5, "data": {"flags": 64}})
    err = await _refused(wire.followup(interaction, {"content": "done"}))
    assert (err.status, err.code) == (400, 50035)
    await wire.edit_original(interaction, {"content": "done"})
    await wire.followup(interaction, {"content": "more", "flags": 64})
    assert len(wire.fake.violations) == 1


async def test_an_edit_cannot_change_visibility_or_empty_the_message(wire: Wire) -> None:
    interaction = wire.interaction()
    await wire.callback(interaction, {"type": 4, "data": {"content": "public"}})
    assert (await _refused(wire.edit_original(interaction, {"content": "private", "flags": 64}))).code == 50035
    assert (await _refused(wire.edit_original(interaction, {"content": ""}))).code == 50006


async def test_channels_routes_do_not_know_ephemeral_messages(wire: Wire) -> None:
    interaction = wire.interaction()
    reply = await wire.callback(interaction, {"type": 4, "data": {"content": "secret", "flags": 64}})
    message_id = reply["resource"]["message"]["id"]
    for method in ("GET", "PATCH", "DELETE"):
        err = await _refused(wire.rest(method, f"/channels/{CHANNEL}/messages/{message_id}", {"content": "x"}))
        assert (err.status, err.code) == (404, 10008)
    await wire.edit_original(interaction, {"content": "still mine"})  # the interaction's own route works


FILE = {"attachments": [{"id": 0, "filename": "notes.md"}]}
ALL = Perm.VIEW_CHANNEL | Perm.SEND_MESSAGES | Perm.EMBED_LINKS | Perm.ATTACH_FILES


@pytest.mark.parametrize(
    ("permissions", "body", "code"),
    [
        (0, {"content": "hi"}, 50001),
        (Perm.VIEW_CHANNEL, {"content": "hi"}, 50013),
        (ALL & ~Perm.EMBED_LINKS, {"embeds": [{"title": "Reveal"}]}, 50013),
        (ALL & ~Perm.ATTACH_FILES, FILE, 50013),
    ],
    ids=["no view channel", "no send messages", "embed without embed links", "file without attach files"],
)
async def test_missing_channel_permissions_are_403(
    wire: Wire, permissions: int, body: dict[str, Any], code: int
) -> None:
    wire.fake.channel_permissions[CHANNEL] = permissions
    err = await _refused(wire.rest("POST", f"/channels/{CHANNEL}/messages", body))
    assert isinstance(err, discord.Forbidden)
    assert err.code == code
    wire.fake.channel_permissions[CHANNEL] = ALL
    sent = await wire.rest("POST", f"/channels/{CHANNEL}/messages", body)
    assert [a["filename"] for a in sent["attachments"]] == [a["filename"] for a in body.get("attachments", [])]


async def test_a_channel_message_cannot_be_ephemeral(wire: Wire) -> None:
    err = await _refused(wire.rest("POST", f"/channels/{CHANNEL}/messages", {"content": "x", "flags": 64}))
    assert err.code == 50035


def _command(**changes: Any) -> dict[str, Any]:
    command: dict[str, Any] = {
        "name": "panic",
        "description": "Improvise",
        "type": 1,
        "contexts": [0],
        "integration_types": [0],
        "default_member_permissions": "32",
        "options": [
            {"type": 3, "name": "details", "description": "What", "required": True},
            {"type": 5, "name": "public", "description": "Share", "required": False},
        ],
    }
    command.update(changes)
    return command


def _options(n: int) -> list[dict[str, Any]]:
    return [{"type": 3, "name": f"o{i}", "description": "d"} for i in range(n)]


BAD_COMMANDS: dict[str, Callable[[], list[dict[str, Any]]]] = {
    "uppercase name": lambda: [_command(name="Panic")],
    "name with a space": lambda: [_command(name="panic now")],
    "name over 32": lambda: [_command(name="p" * 33)],
    "empty description": lambda: [_command(description="")],
    "description over 100": lambda: [_command(description="d" * 101)],
    "required option after an optional one": lambda: [
        _command(options=[_options(1)[0], {"type": 3, "name": "x", "description": "d", "required": True}])
    ],
    "26 options": lambda: [_command(options=_options(26))],
    "26 choices": lambda: [
        _command(options=[{**_options(1)[0], "choices": [{"name": f"{i}", "value": f"{i}"} for i in range(26)]}])
    ],
    "over 8,000 characters": lambda: [
        _command(
            options=[
                {
                    "type": 1,
                    "name": f"s{i}",
                    "description": "d" * 100,
                    "options": [{"type": 3, "name": f"o{j}", "description": "d" * 100} for j in range(8)],
                }
                for i in range(10)
            ]
        )
    ],
    "unknown context": lambda: [_command(contexts=[0, 7])],
    "default_member_permissions not a number": lambda: [_command(default_member_permissions="manage")],
    "two commands of one name": lambda: [_command(), _command()],
    "subcommands mixed with options": lambda: [
        _command(options=[{"type": 1, "name": "npc", "description": "d"}, _options(1)[0]])
    ],
}


@pytest.mark.parametrize("commands", BAD_COMMANDS.values(), ids=BAD_COMMANDS.keys())
async def test_a_bad_command_sync_is_refused(wire: Wire, commands: Callable[[], list[dict[str, Any]]]) -> None:
    err = await _refused(wire.http.bulk_upsert_global_commands(wire.fake.application_id, commands()))
    assert (err.status, err.code) == (400, 50035), err.text
    assert wire.fake.synced_commands == []


async def test_a_good_command_sync_is_accepted(wire: Wire) -> None:
    synced = await wire.http.bulk_upsert_global_commands(wire.fake.application_id, [_command()])
    assert [c["name"] for c in synced] == ["panic"]
    assert wire.fake.violations == []


async def test_a_429_is_waited_out_by_discord_py(wire: Wire) -> None:
    """A per-route and a global 429, with Discord's headers and body: discord.py sleeps `retry_after` and retries."""
    wire.server.rate_limit(r"^POST /channels/\d+/messages$", retry_after=0.05, times=2)
    sent = await wire.rest("POST", f"/channels/{CHANNEL}/messages", {"content": "after the wait"})
    assert sent["content"] == "after the wait"
    interaction = wire.interaction()
    await wire.callback(interaction, {"type": 5})
    wire.server.rate_limit(r"^PATCH /webhooks/", retry_after=0.05, global_=True)
    edited = await wire.edit_original(interaction, {"content": "done"})
    assert edited["content"] == "done"
    assert [route.split(" ")[0] for route in wire.server.limited] == ["POST", "POST", "PATCH"]
    assert wire.fake.violations == []


def test_the_vendored_subset_is_complete() -> None:
    """Every `$ref` of the vendored schemas resolves inside the subset (the generator kept the whole closure)."""
    document = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    refs = set(re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', json.dumps(document)))
    assert refs
    assert refs <= set(document["components"]["schemas"])
    assert set(document["requests"]) >= {"interaction_callback", "webhook_execute", "commands_overwrite"}
