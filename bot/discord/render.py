"""The one embed builder: every embed the bot sends is made by `fit_embed`, within Discord's limits (discord.py
checks none of them; Discord answers 400).

Limits: title 256, description 4096, 25 fields of name 256 and value 1024, footer 2048, author 256, and 6000
characters in total across all of them. Text past a limit is cut at a word boundary with an ellipsis; fields
that no longer fit are dropped (the last one says how many were left out).

An answer's cards: `card` (the GM's whole card with its Sources, or the table's card: no GM-only field and no
Sources), `gm_part_card` (what only the GM sees of an answer the table saw) and `secret_card` (the GM-only part
alone, revealed on purpose). Which fields are the GM's is the kind's decision (`Improv.gm_only`), not this module's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import discord

from bot.improv.kinds import KIND_INFO, Improv
from bot.improv.kinds.base import Audience

__all__ = [
    "ERROR_COLOUR",
    "EmbedField",
    "Limits",
    "card",
    "embed_length",
    "error_embed",
    "fit_choice",
    "fit_content",
    "fit_embed",
    "fit_lines",
    "gm_part_card",
    "secret_card",
    "truncate",
]


class Limits:
    """Discord's embed limits."""

    TITLE = 256
    DESCRIPTION = 4096
    FIELDS = 25
    FIELD_NAME = 256
    FIELD_VALUE = 1024
    FOOTER = 2048
    AUTHOR = 256
    TOTAL = 6000
    CONTENT = 2000  # a message's content
    CHOICE = 100  # an autocomplete choice's name or value, a select option's label or value
    PLACEHOLDER = 150  # a select's placeholder


ELLIPSIS = "…"
ERROR_COLOUR = discord.Colour.orange()
NOTE_ROOM = 24  # characters of the "… / N more not shown" field that ends a cut list of fields
MAX_SOURCES = 5  # cited notes listed on a card


@dataclass(frozen=True, slots=True)
class EmbedField:
    """A field to show."""

    name: str
    value: str
    inline: bool = False


def truncate(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, at a word boundary when one is near, with an ellipsis."""
    text = text.strip()
    if len(text) <= limit:
        return text
    if limit <= 1:
        return ELLIPSIS[:limit]
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit * 0.7:
        cut = cut[:space]
    return cut.rstrip() + ELLIPSIS


def fit_lines(lines: Sequence[str], limit: int = Limits.DESCRIPTION, *, keep: Callable[[str], bool]) -> str:
    """`lines` joined within `limit` characters: every line `keep` marks (problems), then the others in order
    while they fit, and one last line counting those left out (a vault of hundreds of notes)."""
    text = "\n".join(lines)
    if len(text) <= limit:
        return text
    used = sum(len(line) + 1 for line in lines if keep(line)) + 40  # room for the count
    shown: list[str] = []
    left = 0
    for line in lines:
        if keep(line) or used + len(line) + 1 <= limit:
            shown.append(line)
            used += 0 if keep(line) else len(line) + 1
        else:
            left += 1
    if left:
        shown.append(f"… and {left} more.")
    return truncate("\n".join(shown), limit)


def fit_content(text: str) -> str:
    """A message's content within Discord's 2,000 characters."""
    return truncate(text, Limits.CONTENT)


def fit_choice(name: str) -> str:
    """An autocomplete choice's name or a select option's label within Discord's 100 characters."""
    return truncate(name, Limits.CHOICE)


def embed_length(embed: discord.Embed) -> int:
    """Characters Discord counts towards the 6000 total."""
    return len(embed)


def fit_embed(
    *,
    title: str = "",
    description: str = "",
    fields: Sequence[EmbedField] = (),
    footer: str = "",
    author: str = "",
    colour: discord.Colour | int | None = None,
    url: str | None = None,
) -> discord.Embed:
    """An embed holding as much of the given content as Discord allows, in priority order:
    title, author, footer, description, then fields in order."""
    budget = Limits.TOTAL
    title = truncate(title, Limits.TITLE)
    budget -= len(title)
    author = truncate(author, min(Limits.AUTHOR, budget))
    budget -= len(author)
    footer = truncate(footer, min(Limits.FOOTER, budget))
    budget -= len(footer)
    description = truncate(description, min(Limits.DESCRIPTION, budget))
    budget -= len(description)

    embed = discord.Embed(title=title or None, description=description or None, colour=colour, url=url)
    if author:
        embed.set_author(name=author)
    usable = [f for f in fields if f.name.strip() and f.value.strip()]
    shown = 0
    for index, item in enumerate(usable):
        if shown == Limits.FIELDS:
            break
        name = truncate(item.name, Limits.FIELD_NAME)
        more = index < len(usable) - 1  # then keep room to say how many fields were left out
        room = min(Limits.FIELD_VALUE, budget - len(name) - (NOTE_ROOM if more else 0))
        if room < 20 or (shown == Limits.FIELDS - 1 and more):
            left = len(usable) - index
            note_name, note_value = "…", f"{left} more not shown"
            if budget >= len(note_name) + len(note_value):
                embed.add_field(name=note_name, value=note_value, inline=False)
            break
        value = truncate(item.value, room)
        embed.add_field(name=name, value=value, inline=item.inline)
        budget -= len(name) + len(value)
        shown = len(embed.fields)
    if footer:
        embed.set_footer(text=footer)
    return embed


def error_embed(title: str, message: str) -> discord.Embed:
    """The one look of an error shown to a user."""
    return fit_embed(title=title, description=message, colour=ERROR_COLOUR)


def _sources(sources: Sequence[str]) -> list[EmbedField]:
    lines = [f"• {s}" for s in sources[:MAX_SOURCES]]
    if len(sources) > MAX_SOURCES:
        lines.append(f"… and {len(sources) - MAX_SOURCES} more")
    return [EmbedField("Sources", "\n".join(lines))] if lines else []


def _label(improv: Improv) -> str:
    return KIND_INFO[improv.kind].label


def card(
    improv: Improv, *, footer: str, sources: Sequence[str] = (), colour: Any = None, audience: Audience = "gm"
) -> discord.Embed:
    """An answer's card for `audience`: the GM's has every field and the Sources; the table's (the channel, a
    player) has no GM-only field and no Sources."""
    fields = [EmbedField(name, value) for name, value in improv.fields(audience)]
    if audience == "gm":
        fields.extend(_sources(sources))
    return fit_embed(
        title=improv.title or _label(improv),
        author=_label(improv),
        fields=fields,
        footer=footer,
        colour=colour if colour is not None else discord.Colour.red(),
    )


def gm_part_card(improv: Improv, sources: Sequence[str]) -> discord.Embed | None:
    """What only the GM sees of an answer the table saw: its GM-only fields and Sources (None when neither)."""
    fields = [EmbedField(name, value) for name, value in improv.gm_fields()] + _sources(sources)
    if not fields:
        return None
    return fit_embed(
        title=f"🔒 For your eyes only: {improv.title or _label(improv)}",
        author=_label(improv),
        fields=fields,
        footer="Only you can see this; the table saw the rest.",
        colour=discord.Colour.dark_grey(),
    )


def secret_card(improv: Improv, *, title: str, footer: str) -> discord.Embed:
    """An answer's GM-only part alone under `title` (asking to reveal it, and revealing it)."""
    return fit_embed(
        title=title,
        author=_label(improv),
        fields=[EmbedField(name, value) for name, value in improv.gm_fields()],
        footer=footer,
        colour=discord.Colour.dark_red(),
    )
