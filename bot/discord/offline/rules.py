"""Discord's rules for what a request may contain: the OpenAPI schemas (`schema.py`) plus the documented limits and
rules the schemas do not encode. Each check raises `FakeHTTPError` carrying Discord's real error body.

Sources (docs/discord-facts.md names the pages): resources/message (limits, flags, empty messages),
components/reference (buttons, selects, layout), interactions/receiving-and-responding (callback types, flags),
interactions/application-commands (names, descriptions, option order, 8,000 characters), topics/permissions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from bot.discord.offline.schema import nest, schema_errors

__all__ = [
    "CALLBACKS_FOR",
    "FakeHTTPError",
    "Limits",
    "Perm",
    "as_spec_command",
    "check_callback",
    "check_channel_post",
    "check_commands",
    "check_message",
    "walk_components",
]


class Limits:
    """Discord's documented limits that the fake enforces beyond the schemas (sources in docs/discord-facts.md)."""

    ACK_SECONDS = 3.0
    TOKEN_SECONDS = 15 * 60
    CONTENT = 2000  # a bot's message; the schema of channel messages allows 4,000 (Nitro users)
    EMBED_TOTAL = 6000
    ROWS = 5  # action rows of a message without IS_COMPONENTS_V2
    COMMAND_NAME = 32
    COMMAND_DESCRIPTION = 100
    COMMAND_TOTAL = 8000


class Perm:
    """Permission bits the fake checks (topics/permissions)."""

    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16


# message flags
SUPPRESS_EMBEDS, EPHEMERAL, SUPPRESS_NOTIFICATIONS, IS_VOICE_MESSAGE, COMPONENTS_V2 = 4, 64, 4096, 8192, 32768
FLAGS_ALLOWED = {
    "callback": SUPPRESS_EMBEDS | EPHEMERAL | COMPONENTS_V2 | IS_VOICE_MESSAGE | SUPPRESS_NOTIFICATIONS,
    "deferred": EPHEMERAL,  # DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE: "the only valid message flag"
    "followup": SUPPRESS_EMBEDS | EPHEMERAL | COMPONENTS_V2 | IS_VOICE_MESSAGE | SUPPRESS_NOTIFICATIONS,
    "channel": SUPPRESS_EMBEDS | SUPPRESS_NOTIFICATIONS | IS_VOICE_MESSAGE | COMPONENTS_V2,
    # Discord ignores other flags on an edit without an error; the fake refuses them (an ephemeral flag on an
    # edit is always a bug: a message's visibility is fixed when it is created)
    "edit": SUPPRESS_EMBEDS | COMPONENTS_V2,
}

# interaction type -> the callback types Discord accepts for it
CALLBACKS_FOR = {
    2: {4, 5, 9},  # APPLICATION_COMMAND
    3: {4, 5, 6, 7, 9},  # MESSAGE_COMPONENT
    4: {8},  # APPLICATION_COMMAND_AUTOCOMPLETE
    5: {4, 5, 6, 7},  # MODAL_SUBMIT
}
AUTOCOMPLETE_SCHEMA = {
    3: "InteractionApplicationCommandAutocompleteCallbackStringData",
    4: "InteractionApplicationCommandAutocompleteCallbackIntegerData",
    10: "InteractionApplicationCommandAutocompleteCallbackNumberData",
}


class FakeHTTPError(Exception):
    """A refusal with Discord's status and JSON body; the adapters turn it into discord.py's HTTP exceptions."""

    def __init__(self, status: int, code: int, message: str, errors: dict[str, Any] | None = None) -> None:
        super().__init__(f"{status} {code} {message}" + (f" {_describe(errors)}" if errors else ""))
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def body(self) -> dict[str, Any]:
        """Discord's JSON error body (each error's `code` and `message`; the fake's `detail` stays in the log)."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.errors:
            body["errors"] = _public(self.errors)
        return body


def _public(errors: dict[str, Any]) -> dict[str, Any]:
    return {
        key: [{"code": e["code"], "message": e["message"]} for e in value] if key == "_errors" else _public(value)
        for key, value in errors.items()
    }


def _describe(errors: dict[str, Any], path: str = "") -> str:
    parts: list[str] = []
    for key, value in errors.items():
        if key == "_errors":
            parts += [f"{path or '<body>'}: {e['code']} {(e.get('detail') or e['message'])[:200]}" for e in value]
        else:
            parts.append(_describe(value, f"{path}.{key}" if path else key))
    return "; ".join(parts)


def invalid_form(path: Iterable[Any], code: str, message: str) -> FakeHTTPError:
    """400 50035 Invalid Form Body with one error at `path`."""
    return FakeHTTPError(
        400, 50035, "Invalid Form Body", nest([str(p) for p in path], {"code": code, "message": message})
    )


def _schema(name: str, body: Any, prefix: Iterable[Any] = ()) -> None:
    errors = schema_errors(name, body)
    if errors:
        for key in reversed([str(p) for p in prefix]):
            errors = {key: errors}
        raise FakeHTTPError(400, 50035, "Invalid Form Body", errors)


def walk_components(components: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every leaf component (buttons, selects, inputs) of rows or containers, flattened."""
    for component in components:
        if component.get("type") == 1 or "components" in component:
            yield from walk_components(component.get("components") or [])
        else:
            yield component


def _every_component(components: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for component in components:
        yield component
        yield from _every_component(component.get("components") or [])


# --- messages ------------------------------------------------------------------------------------------------
def is_empty(message: dict[str, Any]) -> bool:
    """No content, embeds, components, attachments, stickers or poll: Discord's 50006."""
    return not (
        str(message.get("content") or "").strip()
        or message.get("embeds")
        or message.get("components")
        or message.get("attachments")
        or message.get("sticker_ids")
        or message.get("poll")
    )


def check_message(body: dict[str, Any], *, schema: str, flags: str, prefix: tuple[str, ...] = ()) -> None:
    """Schema, limits, flags and components of a message body (`prefix`: where it sits in the request)."""
    _schema(schema, body, prefix)
    content = body.get("content")
    if content is not None and len(str(content)) > Limits.CONTENT:
        raise invalid_form(
            [*prefix, "content"], "BASE_TYPE_MAX_LENGTH", f"Must be {Limits.CONTENT} or fewer in length."
        )
    total = sum(_embed_size(e) for e in body.get("embeds") or [])
    if total > Limits.EMBED_TOTAL:
        raise invalid_form([*prefix, "embeds"], "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")
    bits = int(body.get("flags") or 0)
    if bits & ~FLAGS_ALLOWED[flags]:
        raise invalid_form([*prefix, "flags"], "MESSAGE_FLAGS_INVALID", "Invalid flags")
    _check_components(list(body.get("components") or []), bits, prefix)


def _embed_size(embed: dict[str, Any]) -> int:
    size = len(embed.get("title") or "") + len(embed.get("description") or "")
    size += len((embed.get("footer") or {}).get("text") or "") + len((embed.get("author") or {}).get("name") or "")
    for f in embed.get("fields") or []:
        size += len(f.get("name") or "") + len(f.get("value") or "")
    return size


def _check_components(rows: list[dict[str, Any]], flags: int, prefix: tuple[str, ...]) -> None:
    where = [*prefix, "components"]
    if not flags & COMPONENTS_V2:
        if len(rows) > Limits.ROWS:
            raise invalid_form(where, "BASE_TYPE_MAX_LENGTH", f"Must be {Limits.ROWS} or fewer in length.")
        for r, row in enumerate(rows):
            if row.get("type") != 1:
                raise invalid_form([*where, r], "UNION_TYPE_CHOICES", "Top-level components must be action rows")
    for r, row in enumerate(rows):
        children = list(row.get("components") or []) if row.get("type") == 1 else []
        if any(c.get("type") != 2 for c in children) and len(children) > 1:
            raise invalid_form(
                [*where, r, "components"],
                "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                "The specified component exceeds the maximum width",
            )
        for c, child in enumerate(children):
            _check_leaf(child, [*where, r, "components", c])
    ids = [c["id"] for c in _every_component(rows) if c.get("id")]  # 0 or absent: Discord numbers it
    if len(set(ids)) != len(ids):
        raise invalid_form(where, "COMPONENT_ID_DUPLICATED", "Component id must be unique in the message")
    seen: set[str] = set()
    for component in walk_components(rows):
        custom_id = component.get("custom_id")
        if custom_id is not None:
            if custom_id in seen:
                raise invalid_form(where, "COMPONENT_CUSTOM_ID_DUPLICATED", "Component custom id cannot be duplicated")
            seen.add(custom_id)


def _check_leaf(component: dict[str, Any], path: list[Any]) -> None:
    kind = component.get("type")
    if kind == 2:
        style = component.get("style")
        has_id, has_url = component.get("custom_id") is not None, component.get("url") is not None
        if style == 5 and (has_id or not has_url):
            raise invalid_form(path, "BUTTON_COMPONENT_INVALID", "A link button needs a url and no custom_id")
        extras = has_id or has_url or component.get("label") or component.get("emoji")
        if style == 6 and (extras or component.get("sku_id") is None):
            raise invalid_form(path, "BUTTON_COMPONENT_INVALID", "A premium button needs a sku_id only")
        if style in (1, 2, 3, 4) and (not has_id or has_url):
            raise invalid_form(path, "BUTTON_COMPONENT_INVALID", "A non-link button needs a custom_id and no url")
    elif kind == 3:
        options = list(component.get("options") or [])
        low, high = int(component.get("min_values") or 1), int(component.get("max_values") or 1)
        if low > high or high > len(options):
            raise invalid_form(path, "SELECT_COMPONENT_INVALID", "min_values <= max_values <= number of options")
        values = [o.get("value") for o in options]
        if len(set(values)) != len(values):
            raise invalid_form(
                [*path, "options"], "SELECT_COMPONENT_OPTION_VALUE_DUPLICATED", "Option values must be unique"
            )


# --- interaction callbacks -------------------------------------------------------------------------------------
def check_callback(body: dict[str, Any], interaction_type: int, focused_type: int | None) -> int:
    """The callback type fits the interaction and its data is valid; returns the callback type."""
    kind = body.get("type")
    if not isinstance(kind, int) or kind not in CALLBACKS_FOR.get(interaction_type, set()):
        raise invalid_form(["type"], "INTERACTION_CALLBACK_TYPE_INVALID", "Invalid interaction response type")
    data = body.get("data")
    # 4-7: the callback schemas are {type, data: null | <message schema>}; the type is checked above
    if kind in (4, 5):
        if kind == 4 and (data is None or (isinstance(data, dict) and is_empty(data))):
            raise FakeHTTPError(400, 50006, "Cannot send an empty message")
        if data is not None:
            flags = "callback" if kind == 4 else "deferred"
            check_message(data, schema="IncomingWebhookInteractionRequest", flags=flags, prefix=("data",))
    elif kind in (6, 7):
        if data is not None:
            schema = "IncomingWebhookUpdateForInteractionCallbackRequestPartial"
            check_message(data, schema=schema, flags="edit", prefix=("data",))
    elif kind == 8:
        _schema("ApplicationCommandAutocompleteCallbackRequest", body)
        _schema(AUTOCOMPLETE_SCHEMA.get(focused_type or 3, AUTOCOMPLETE_SCHEMA[3]), data, ("data",))
    elif kind == 9:
        _schema("ModalInteractionCallbackRequest", body)
    return kind


# --- channel permissions ---------------------------------------------------------------------------------------
def check_channel_post(permissions: int, body: dict[str, Any]) -> None:
    """What Discord answers a channel message from a bot with `permissions` there (403 50001 / 50013)."""
    if not permissions & Perm.VIEW_CHANNEL:
        raise FakeHTTPError(403, 50001, "Missing Access")
    needed = Perm.SEND_MESSAGES
    if body.get("embeds"):
        needed |= Perm.EMBED_LINKS
    if body.get("attachments"):
        needed |= Perm.ATTACH_FILES
    if permissions & needed != needed:
        raise FakeHTTPError(403, 50013, "Missing Permissions")


# --- command sync ----------------------------------------------------------------------------------------------
def _name_ok(name: str) -> bool:
    """CHAT_INPUT names: `^[-_'\\p{L}\\p{N}\\p{sc=Deva}\\p{sc=Thai}]{1,32}$`, lowercase where a letter has cases."""
    return 1 <= len(name) <= Limits.COMMAND_NAME and all(
        (ch.isalnum() or ch in "-_'" or re.match(r"[\u0900-\u097f\u0e00-\u0e7f]", ch)) and ch.lower() == ch
        for ch in name
    )


def _longest(value: Any, localizations: Any) -> int:
    return max([len(str(value or "")), *(len(str(v)) for v in (localizations or {}).values())])


def _size(node: dict[str, Any]) -> int:
    size = _longest(node.get("name"), node.get("name_localizations"))
    size += _longest(node.get("description"), node.get("description_localizations"))
    for choice in node.get("choices") or []:
        size += _longest(choice.get("name"), choice.get("name_localizations")) + len(str(choice.get("value")))
    return size + sum(_size(option) for option in node.get("options") or [])


def _check_options(options: list[dict[str, Any]], path: list[Any]) -> None:
    optional_seen = False
    names: set[str] = set()
    groups = [o.get("type") in (1, 2) for o in options]
    if any(groups) and not all(groups):
        raise invalid_form(
            path, "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID", "Sub-commands cannot be mixed with options"
        )
    for i, option in enumerate(options):
        where = [*path, i]
        name = str(option.get("name") or "")
        if not _name_ok(name):
            raise invalid_form([*where, "name"], "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
        if name in names:
            raise invalid_form(
                [*where, "name"], "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS", "Option names must be unique"
            )
        names.add(name)
        if not 1 <= len(str(option.get("description") or "")) <= Limits.COMMAND_DESCRIPTION:
            raise invalid_form([*where, "description"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
        if option.get("required"):
            if optional_seen:
                raise invalid_form(
                    where,
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
        elif option.get("type") not in (1, 2):
            optional_seen = True
        if option.get("autocomplete") and option.get("choices"):
            raise invalid_form(where, "AUTOCOMPLETE_CHOICES_CONFLICT", "Autocomplete and choices cannot both be set")
        _check_options(list(option.get("options") or []), [*where, "options"])


def check_commands(payload: Any) -> None:
    """A bulk overwrite (`PUT /applications/{id}/commands`): the schema plus Discord's command rules."""
    if not isinstance(payload, list):
        raise invalid_form([], "BASE_TYPE_ARRAY", "Must be an array.")
    normalized = [as_spec_command(c) for c in payload]
    _schema("commands_overwrite", normalized)
    seen: set[tuple[int, str]] = set()
    for i, command in enumerate(normalized):
        kind = int(command.get("type") or 1)
        name = str(command.get("name"))
        if (kind, name) in seen:
            raise invalid_form(
                [i, "name"], "APPLICATION_COMMANDS_DUPLICATE_NAME", f"Application command names must be unique: {name}"
            )
        seen.add((kind, name))
        if kind == 1:
            if not _name_ok(name):
                raise invalid_form([i, "name"], "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
            if not 1 <= len(str(command.get("description") or "")) <= Limits.COMMAND_DESCRIPTION:
                raise invalid_form([i, "description"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
            _check_options(list(command.get("options") or []), [i, "options"])
        if _size(command) > Limits.COMMAND_TOTAL:
            raise invalid_form([i], "APPLICATION_COMMAND_TOO_LARGE", "Command exceeds maximum size (8000)")


def as_spec_command(command: Any) -> Any:
    """Discord takes `default_member_permissions` as a string of digits (what discord.py sends); the spec's
    schema says integer, so a digit string is compared as its number and anything else is refused by the schema."""
    if isinstance(command, dict) and isinstance(command.get("default_member_permissions"), str):
        value = command["default_member_permissions"]
        return {**command, "default_member_permissions": int(value) if value.isdigit() else value}
    return command
