"""Views and persistent components whose errors take the bot's one error route (`report_error`).

discord.py hands view callback errors to `View.on_error` but only logs a `DynamicItem` callback's; both land in
`report_error` here, so a user always gets an answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Self, TypeVar

import discord

from bot.discord.client import PanicBot, report_error

__all__ = ["PanicView", "PersistentItem"]

Interaction = discord.Interaction[PanicBot]
ItemT = TypeVar("ItemT", bound=discord.ui.Item[Any])

NOTHING = re.compile(r"(?!)")  # the template of a base class: matches no custom id


class PanicView(discord.ui.View):
    """A view whose callback errors take the same route as command errors."""

    async def on_error(
        self, interaction: discord.Interaction[Any], error: Exception, item: discord.ui.Item[Any]
    ) -> None:
        await report_error(interaction, error)


class PersistentItem(discord.ui.DynamicItem[ItemT], template=NOTHING):
    """A persistent component: a namespaced custom id (the class's `template`) carries all of its state.

    Subclasses give a `template` whose named groups are their constructor's keyword arguments (override
    `from_match` to convert them) and implement `run`; whatever `run` raises goes to `report_error`.
    """

    def __init_subclass__(cls, *, template: str | re.Pattern[str] = NOTHING) -> None:
        super().__init_subclass__(template=template)

    @classmethod
    def from_match(cls, match: re.Match[str]) -> Self:
        """The component a custom id matched by the template stands for."""
        factory: Callable[..., Self] = cls
        return factory(**match.groupdict())

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> Self:
        return cls.from_match(match)

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        try:
            await self.run(interaction)
        except Exception as exc:
            await report_error(interaction, exc)

    async def run(self, interaction: Interaction) -> None:
        """What a click does."""
        raise NotImplementedError(f"{type(self).__name__} must implement run()")
