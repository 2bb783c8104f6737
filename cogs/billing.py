"""`/billing` commands (being built)."""

from __future__ import annotations

from discord.ext import commands

from bot.client import PanicBot


class Billing(commands.Cog):
    """Placeholder cog until the billing commands land."""


async def setup(bot: PanicBot) -> None:
    """Extension entry point."""
    await bot.add_cog(Billing())
