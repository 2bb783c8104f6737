"""Who may do what: GM-only commands and components (discord side)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import discord
from discord import app_commands

from bot.guilds import get_settings

if TYPE_CHECKING:
    from bot.discord.client import PanicBot

__all__ = ["NotGM", "ensure_gm", "gm_only", "is_gm"]

T = TypeVar("T")

GM_ONLY_MESSAGE = (
    "Only the game master can do that here. Ask someone with **Manage Server** to set a GM role with "
    "`/panic settings gm_role:`."
)


class NotGM(app_commands.CheckFailure):
    """The user is not a GM of this guild (or not in a guild); the message says how to become one."""

    title = "GM only"


async def is_gm(interaction: discord.Interaction[PanicBot]) -> bool:
    """True for members with Manage Server or the guild's configured GM role."""
    if interaction.guild_id is None:
        return False
    perms = interaction.permissions
    if perms.manage_guild or perms.administrator:
        return True
    user: Any = interaction.user
    role_ids = {role.id for role in getattr(user, "roles", [])} | set(getattr(user, "_roles", []))
    if not role_ids:
        return False
    async with interaction.client.services.sessionmaker() as session:
        settings = await get_settings(session, interaction.guild_id)
        await session.commit()
    return settings.gm_role_id is not None and settings.gm_role_id in role_ids


async def ensure_gm(interaction: discord.Interaction[PanicBot]) -> None:
    """Raise `NotGM` (shown as a friendly refusal) unless the user is a GM of this guild."""
    if interaction.guild_id is None:
        raise NotGM("This only works inside a server.")
    if not await is_gm(interaction):
        raise NotGM(GM_ONLY_MESSAGE)


def gm_only() -> Callable[[T], T]:
    """App-command check: GMs only (the refusal goes through the tree's error handler)."""

    async def predicate(interaction: discord.Interaction[PanicBot]) -> bool:
        await ensure_gm(interaction)
        return True

    decorator: Callable[[T], T] = app_commands.check(predicate)
    return decorator
