"""`/panic`: the GM's panic button (kinds, the persistent button, settings) and `/panic help`."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import PanicBot

Interaction = discord.Interaction[PanicBot]

HELP_TEXT = (
    "**Caught off guard?** `/panic npc` (or location, tavern, encounter, loot, rumor, twist, names) answers in a "
    "second or two with something table-ready, grounded in your own campaign notes and citing them.\n\n"
    "• `/campaign import` — upload your notes (Markdown, text, PDF, DOCX)\n"
    "• `/panic button` — post the big red button in this channel\n"
    "• `/panic settings` — GM role, tone, length, who may panic\n"
    "• `/billing status` — your plan and this month's usage\n\n"
    "Answers are shown only to you until you press **Reveal to table**."
)


class Panic(commands.GroupCog, group_name="panic", group_description="Instant improvisation for the GM"):
    """The panic commands."""

    def __init__(self, bot: PanicBot) -> None:
        self.bot = bot

    @app_commands.command(name="help", description="What the panic button does and how to use it")
    async def help(self, interaction: Interaction) -> None:
        """Explain the bot, privately."""
        embed = discord.Embed(title="Improv Panic Button", description=HELP_TEXT, colour=discord.Colour.red())
        await interaction.response.send_message(embed=embed, ephemeral=True)


async def setup(bot: PanicBot) -> None:
    """Extension entry point."""
    await bot.add_cog(Panic(bot))
