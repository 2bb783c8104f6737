"""Streaming a panic's answer into its deferred response: partial cards, throttled edits."""

from __future__ import annotations

import asyncio
import contextlib
import time

import discord

from bot.discord.client import PanicBot
from bot.discord.render import card
from bot.improv.kinds import Improv
from bot.improv.kinds.base import Audience

__all__ = ["StreamingEditor", "render_partial"]

Interaction = discord.Interaction[PanicBot]

NO_MENTIONS = discord.AllowedMentions.none()


def render_partial(improv: Improv, model: str, audience: Audience = "gm") -> discord.Embed:
    """An answer while it is still streaming."""
    return card(improv, footer=f"Writing… ({model})", colour=discord.Colour.red(), audience=audience)


# --- streaming -----------------------------------------------------------------------------------------------
class StreamingEditor:
    """Edits the deferred response with partial results, at most one edit in flight and one per `interval`."""

    def __init__(self, interaction: Interaction, model: str, interval: float, audience: Audience = "gm") -> None:
        self.interaction = interaction
        self.model = model
        self.interval = interval
        self.audience = audience
        self.edits = 0
        self._next = time.monotonic() + interval  # the "thinking…" placeholder shows first
        self._task: asyncio.Task[None] | None = None

    async def push(self, improv: Improv) -> None:
        now = time.monotonic()
        if now < self._next or (self._task is not None and not self._task.done()) or not improv.fields(self.audience):
            return
        if not self.interaction.response.is_done():
            return  # not acknowledged yet (the answer starts alongside the defer): nothing to edit
        self._next = now + self.interval
        self._task = asyncio.create_task(self._edit(improv), name="panic-stream-edit")

    async def _edit(self, improv: Improv) -> None:
        with contextlib.suppress(discord.HTTPException):
            await self.interaction.edit_original_response(
                embed=render_partial(improv, self.model, self.audience), allowed_mentions=NO_MENTIONS
            )
            self.edits += 1

    async def finish(self) -> None:
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
