"""The Discord client: `PanicBot`, its command tree, and `report_error`, the one error route (views and persistent
items in `bot.discord.views` use it too)."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Sequence
from typing import Any, Self

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.prefs_cache import PrefsCache
from bot.discord.render import error_embed
from bot.errors import UserFacingError
from bot.prefs import load_prefs
from bot.process import freeze_startup_objects
from bot.services import Services

__all__ = ["COGS", "PanicBot", "PanicBotBase", "PanicTree", "report_error"]

log = logging.getLogger(__name__)

COGS: tuple[str, ...] = ("cogs.panic", "cogs.campaign", "cogs.billing")
WARM_UP_SECONDS = 30.0  # after this long, a warm-up that has not finished is logged (the load goes on)
SHUTDOWN_GRACE = 5.0  # seconds in-flight commands may take to finish at shutdown before they are cancelled
# discord.py's names for the tasks that run interactions (app commands, view and dynamic-item callbacks, events)
_INTERACTION_TASKS = ("CommandTree-invoker", "discord-ui-view-dispatch", "discord.py: ")

Interaction = discord.Interaction["PanicBot"]
NO_ANSWER = "No answer this time."  # what a public placeholder says while its error goes privately to the user


def _unwrap(error: BaseException) -> BaseException:
    """The exception a command raised, without discord.py's wrappers."""
    while isinstance(error, app_commands.CommandInvokeError | app_commands.TransformerError):
        if error.__cause__ is None:
            break
        error = error.__cause__
    if isinstance(error, app_commands.CommandInvokeError):
        return error.original
    return error


async def _reply(interaction: discord.Interaction[Any], embed: discord.Embed) -> None:
    """Answer privately whether or not the interaction was acknowledged already.

    A "thinking" placeholder still loading is filled by editing it (never by the deprecated first followup): a
    private one with the error itself; a public one with a neutral line, the error following privately, and the
    public line then removed so the table sees no error."""
    if not interaction.response.is_done():
        await interaction.response.send_message(embed=embed, ephemeral=True)
        return
    if interaction.response.type is discord.InteractionResponseType.deferred_channel_message:
        original = await interaction.original_response()
        if original.flags.loading:
            if original.flags.ephemeral:
                await interaction.edit_original_response(embed=embed)
                return
            await interaction.edit_original_response(content=NO_ANSWER)
            await interaction.followup.send(embed=embed, ephemeral=True)
            try:
                await interaction.delete_original_response()
            except discord.HTTPException:
                log.warning("could not remove the public placeholder of interaction %s", interaction.id)
            return
    await interaction.followup.send(embed=embed, ephemeral=True)


async def report_error(interaction: discord.Interaction[Any], error: BaseException) -> None:
    """The single route for every interaction error: friendly text for `UserFacingError`, else log + apology."""
    error = _unwrap(error)
    if isinstance(error, UserFacingError):
        embed = error_embed(error.title, error.message)
    elif isinstance(error, app_commands.CheckFailure):
        title = getattr(error, "title", "Not allowed")
        embed = error_embed(title, str(error) or "You can't use this command here.")
    elif isinstance(error, app_commands.CommandOnCooldown):
        embed = error_embed("Slow down", f"Try again in {error.retry_after:.0f} s.")
    else:
        reference = secrets.token_hex(4)
        command = interaction.command.qualified_name if interaction.command else None
        custom_id = interaction.data.get("custom_id") if interaction.data else None
        log.error(
            "unhandled error ref=%s guild=%s user=%s command=%s custom_id=%s",
            reference,
            interaction.guild_id,
            interaction.user.id if interaction.user else None,
            command,
            custom_id,
            exc_info=error,
        )
        embed = error_embed(
            "Something went wrong",
            f"Sorry, that didn't work. If it keeps happening, tell the bot's host reference `{reference}`.",
        )
    try:
        await _reply(interaction, embed)
    except discord.HTTPException:
        log.warning("could not deliver an error message for interaction %s", interaction.id)


class PanicTree(app_commands.CommandTree["PanicBot"]):
    """Command tree whose `on_error` is the one error handler of the bot."""

    async def on_error(self, interaction: Interaction, error: app_commands.AppCommandError) -> None:
        await report_error(interaction, error)


class PanicBotBase(commands.Bot):
    """The whole bot on a plain, unsharded `commands.Bot`; `PanicBot` adds automatic sharding.

    Owns nothing long-lived itself: services come in from the entry point. dpytest refuses sharded
    clients, so the dpytest smoke test boots this class; everything else runs `PanicBot`.
    """

    def __init__(
        self,
        services: Services,
        *,
        shard_count: int | None = None,
        shard_ids: Sequence[int] | None = None,
        sync_commands: bool = False,
        cogs: Sequence[str] = COGS,
        **options: Any,
    ) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        options.setdefault("intents", intents)
        if shard_ids is not None:
            options["shard_ids"] = list(shard_ids)
        super().__init__(
            command_prefix=commands.when_mentioned,
            tree_cls=PanicTree,
            allowed_mentions=discord.AllowedMentions.none(),
            shard_count=shard_count,
            help_command=None,
            **options,
        )
        self.services = services
        self.prefs = PrefsCache(lambda guild_id: load_prefs(services.sessionmaker, guild_id))
        self._sync_on_start = sync_commands
        self._cog_names = tuple(cogs)
        self.shutdown_grace = SHUTDOWN_GRACE

    @classmethod
    def from_services(cls, services: Services, **options: Any) -> Self:
        """A bot configured from the settings inside `services`."""
        settings = services.settings
        return cls(
            services,
            shard_count=settings.shard_count,
            shard_ids=settings.shard_ids,
            sync_commands=settings.sync_commands,
            **options,
        )

    async def setup_hook(self) -> None:
        """Load cogs (they register their persistent components); sync the tree only when asked."""
        for name in self._cog_names:
            await self.load_extension(name)
        if self._sync_on_start:
            await self.sync_commands()
        freeze_startup_objects()

    def _warm_up(self) -> None:
        """Load the embedding model in the background (once; cheap when loaded). Panics that arrive while it
        loads wait for it within their budget, so the first panic after a start is grounded in time."""

        async def warm() -> None:
            if not await self.services.improv.warm_up(WARM_UP_SECONDS):
                log.warning("the embedding model is not loaded (yet); the first searches load it themselves")

        self.services.tasks.spawn(warm(), name="warm-embedder")

    async def on_connect(self) -> None:
        # connected to the gateway, before any interaction arrives: start loading the embedding model
        self._warm_up()

    async def sync_commands(self) -> list[app_commands.AppCommand]:
        """Publish the slash commands: to the dev guild when configured, else globally."""
        dev_guild = self.services.settings.dev_guild_id
        if dev_guild is not None:
            guild = discord.Object(id=dev_guild)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
        else:
            synced = await self.tree.sync()
        log.info("synced %d commands", len(synced))
        return synced

    async def on_ready(self) -> None:
        shards = getattr(self, "shard_ids", None)
        log.info("ready as %s in %d guilds (shards %s)", self.user, len(self.guilds), shards)
        self._warm_up()  # going live (also after a connect that did not warm it, e.g. a failed load)

    async def close(self) -> None:
        """Shut down cleanly: in-flight commands get `shutdown_grace` seconds, the rest are cancelled (an import
        rolls back and releases its lock) while the connection to Discord can still tell the user; then the
        background tasks drain and the gateway closes."""
        current = asyncio.current_task()
        running = [t for t in asyncio.all_tasks() if t is not current and t.get_name().startswith(_INTERACTION_TASKS)]
        if running:
            _, pending = await asyncio.wait(running, timeout=self.shutdown_grace)
            if pending:
                log.warning("cancelling %d commands still running at shutdown", len(pending))
                for task in pending:
                    task.cancel()
                await asyncio.wait(pending, timeout=self.shutdown_grace)
        await self.prefs.aclose()
        await self.services.tasks.aclose()
        await super().close()

    async def on_command_error(self, context: commands.Context[Any], exception: commands.CommandError) -> None:
        """Prefix commands are owner tools only: a mention that is not one is ignored, not logged as an error."""
        if isinstance(exception, commands.CommandNotFound | commands.CheckFailure):
            return
        log.error("prefix command %s failed", context.command, exc_info=exception)


class PanicBot(PanicBotBase, commands.AutoShardedBot):
    """The bot, on `AutoShardedBot` (shard count and ids from the settings)."""
