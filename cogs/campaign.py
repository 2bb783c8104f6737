"""`/campaign` commands (being built)."""

from __future__ import annotations

from discord.ext import commands

from bot.client import PanicBot


class Campaign(commands.Cog):
    """Placeholder cog until the campaign commands land."""


async def setup(bot: PanicBot) -> None:
    """Extension entry point."""
    await bot.add_cog(Campaign())
