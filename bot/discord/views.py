"""Views and persistent components whose errors take the bot's one error route (`report_error`).

discord.py hands view callback errors to `View.on_error` but only logs a `DynamicItem` callback's; both land in
`report_error` here, so a user always gets an answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, ClassVar, Self, TypeVar

import discord

from bot.discord.checks import ensure_gm
from bot.discord.client import PanicBot, report_error
from bot.discord.render import fit_embed

__all__ = ["ConfirmButton", "PanicView", "PersistentItem"]

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


class ConfirmButton(PersistentItem[discord.ui.Button[Any]], template=NOTHING):
    """One button of a GM's yes/no confirmation of something that cannot be undone.

    Subclasses give the `confirm_label`, what `cancelled` says (title, description) and `confirmed`, which runs
    after the acknowledgement (a defer) and edits the original response; "no" only says nothing changed.
    """

    confirm_label: ClassVar[str]
    cancelled: ClassVar[tuple[str, str]]
    colour: ClassVar[discord.Colour] = discord.Colour.dark_teal()

    def __init__(self, custom_id: str, action: str) -> None:
        yes = action == "yes"
        super().__init__(
            discord.ui.Button(
                label=self.confirm_label if yes else "Cancel",
                style=discord.ButtonStyle.danger if yes else discord.ButtonStyle.secondary,
                custom_id=custom_id,
            )
        )
        self.action = action

    async def run(self, interaction: Interaction) -> None:
        await ensure_gm(interaction)
        if self.action != "yes":
            title, description = self.cancelled
            embed = fit_embed(title=title, description=description, colour=self.colour)
            await interaction.response.edit_message(embed=embed, view=None)
            return
        await interaction.response.defer()
        await self.confirmed(interaction)

    async def confirmed(self, interaction: Interaction) -> None:
        """What "yes" does, after the defer."""
        raise NotImplementedError(f"{type(self).__name__} must implement confirmed()")
