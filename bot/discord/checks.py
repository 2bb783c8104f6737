"""Who may do what: the one GM check behind every GM-only command and component."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import discord
from discord import app_commands

from bot.prefs import DEFAULT_PREFS, GuildPrefs

if TYPE_CHECKING:
    from bot.discord.client import PanicBot

__all__ = [
    "GM_ONLY_MESSAGE",
    "NOT_YOURS_MESSAGE",
    "SETTINGS_UNAVAILABLE_MESSAGE",
    "NotGM",
    "NotYours",
    "SettingsUnavailable",
    "ensure_gm",
    "ensure_owner_or_gm",
    "gm_only",
    "guild_prefs",
    "has_gm_rights",
    "is_gm",
    "role_ids",
]

T = TypeVar("T")

GM_ONLY_MESSAGE = (
    "Only the game master can do that here. Ask someone with **Manage Server** to set a GM role with "
    "`/panic settings gm_role:`."
)


NOT_YOURS_MESSAGE = (
    "That answer belongs to whoever asked for it: only they or a GM can use its buttons. "
    "Press the panic button yourself for one of your own!"
)


class NotGM(app_commands.CheckFailure):
    """The user is not a GM of this guild (or not in a guild); the message says how to become one."""

    title = "GM only"


SETTINGS_UNAVAILABLE_MESSAGE = (
    "This server's settings can't be read right now, so the bot can't tell whether you are its GM. "
    "Try again in a moment."
)


class SettingsUnavailable(app_commands.CheckFailure):
    """The guild's prefs could not be read (the database is slow or down) and none are known: a GM by role would
    be refused wrongly, so the user is asked to try again instead."""

    title = "Settings unavailable"

    def __init__(self, message: str = SETTINGS_UNAVAILABLE_MESSAGE) -> None:
        super().__init__(message)


class NotYours(app_commands.CheckFailure):
    """The user is neither the owner of an answer nor a GM (or may not see that answer)."""

    title = "Not your answer"


def role_ids(user: discord.User | discord.Member) -> set[int]:
    """The ids of the roles a member holds (none for a user outside a guild)."""
    if not isinstance(user, discord.Member):
        return set()
    # `Member.roles` only lists roles found in the guild's role cache, which an interaction's guild may not have
    # (an uncached guild, or no guilds intent); the interaction payload's role ids are in `Member._roles` alone.
    return {role.id for role in user.roles} | set(user._roles)


def has_gm_rights(interaction: discord.Interaction[Any], prefs: GuildPrefs) -> bool:
    """True for members with Manage Server or Administrator, or the guild's configured GM role."""
    if interaction.guild_id is None:
        return False
    perms = interaction.permissions
    if perms.manage_guild or perms.administrator:
        return True
    return prefs.gm_role_id is not None and prefs.gm_role_id in role_ids(interaction.user)


async def guild_prefs(interaction: discord.Interaction[PanicBot]) -> GuildPrefs:
    """The prefs of the interaction's guild (the defaults outside a guild), read within the cache's deadline;
    `SettingsUnavailable` when they cannot be read and none are known."""
    if interaction.guild_id is None:
        return DEFAULT_PREFS
    prefs = await interaction.client.prefs.lookup(interaction.guild_id)
    if prefs is None:
        raise SettingsUnavailable()
    return prefs


async def is_gm(interaction: discord.Interaction[PanicBot]) -> bool:
    """True for a GM of the interaction's guild (see `has_gm_rights`); `SettingsUnavailable` when it depends on
    prefs that cannot be read."""
    if interaction.guild_id is None:
        return False
    perms = interaction.permissions
    if perms.manage_guild or perms.administrator:
        return True
    if not role_ids(interaction.user):
        return False  # no role a GM role could be: no need to read the guild's prefs
    return has_gm_rights(interaction, await guild_prefs(interaction))


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


def ensure_owner_or_gm(
    interaction: discord.Interaction[Any], prefs: GuildPrefs, owner_id: int, *, player_safe: bool = True
) -> None:
    """Raise `NotYours` (a private, friendly refusal) unless the user is a GM of this guild, or the answer's owner
    and the answer is one they may see (`player_safe`: made from player-safe notes, or they are still allowed
    every note)."""
    if has_gm_rights(interaction, prefs):
        return
    if interaction.user.id != owner_id or not player_safe:
        raise NotYours(NOT_YOURS_MESSAGE)
