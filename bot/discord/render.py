"""The one embed builder: every embed the bot sends is made by `fit_embed`, within Discord's limits (discord.py
checks none of them; Discord answers 400).

Limits: title 256, description 4096, 25 fields of name 256 and value 1024, footer 2048, author 256, and 6000
characters in total across all of them. Text past a limit is cut at a word boundary with an ellipsis; fields
that no longer fit are dropped (the last one says how many were left out).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import discord

__all__ = ["ERROR_COLOUR", "EmbedField", "Limits", "embed_length", "error_embed", "fit_embed", "truncate"]


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


ELLIPSIS = "…"
ERROR_COLOUR = discord.Colour.orange()
NOTE_ROOM = 24  # characters of the "… / N more not shown" field that ends a cut list of fields


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
