"""`/billing status|upgrade|manage`: the server's plan and usage, a checkout link, the customer portal (GM-only)."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.billing.service import SELF_HOSTED_MESSAGE, BillingService, BillingStatus
from bot.discord.checks import gm_only
from bot.discord.client import PanicBot
from bot.discord.render import EmbedField, fit_choice, fit_embed
from bot.errors import UserFacingError
from bot.sizes import format_bytes

Interaction = discord.Interaction[PanicBot]
COLOUR = discord.Colour.gold()


def _bytes(value: int | None) -> str:
    return "unlimited" if value is None else format_bytes(value)


def status_embed(status: BillingStatus) -> discord.Embed:
    """One embed describing the plan, its state and this period's usage."""
    plan = status.plan
    limit = "unlimited" if status.panics_limit is None else str(status.panics_limit)
    fields = [
        EmbedField("Status", plan.status.replace("_", " "), inline=True),
        EmbedField("Panics this period", f"{status.panics_used} / {limit}", inline=True),
    ]
    if plan.paid and plan.renews and plan.period_end is not None:
        fields.append(EmbedField("Renews", discord.utils.format_dt(plan.period_end, "D"), inline=True))
    elif plan.paid and plan.access_until is not None:
        label = "Grace period ends" if plan.status == "past_due" else "Ends"
        fields.append(EmbedField(label, discord.utils.format_dt(plan.access_until, "D"), inline=True))
    elif plan.period_end is not None:
        fields.append(EmbedField("Usage resets", discord.utils.format_dt(plan.period_end, "D"), inline=True))
    fields.append(EmbedField("Campaign notes", _bytes(plan.plan.memory_bytes), inline=True))
    fields.append(EmbedField("Largest upload", _bytes(plan.plan.upload_bytes), inline=True))
    past_due = "The last payment failed: update the payment method with /billing manage."
    return fit_embed(
        title=f"Plan: {plan.plan.name}",
        description=SELF_HOSTED_MESSAGE if plan.plan_key == "self-hosted" else "",
        fields=fields,
        footer=past_due if plan.status == "past_due" else "",
        colour=COLOUR,
    )


def link_view(label: str, url: str) -> discord.ui.View:
    """A view with one link button."""
    view = discord.ui.View(timeout=None)
    view.add_item(discord.ui.Button(style=discord.ButtonStyle.link, label=label, url=url))
    return view


@app_commands.guild_only()
@app_commands.allowed_installs(guilds=True, users=False)
class Billing(commands.GroupCog, group_name="billing", group_description="Your server's plan and usage"):
    """The billing commands; the logic lives in `bot.billing`."""

    def __init__(self, bot: PanicBot) -> None:
        self.bot = bot

    @property
    def billing(self) -> BillingService:
        return self.bot.services.billing

    @app_commands.command(name="status", description="Plan, renewal date and this period's usage")
    @gm_only()
    async def status(self, interaction: Interaction) -> None:
        """Show the plan and usage, privately."""
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        status = await self.billing.status(interaction.guild_id)
        await interaction.edit_original_response(embed=status_embed(status))

    @app_commands.command(name="upgrade", description="Get a checkout link for a paid plan")
    @app_commands.describe(plan="Which plan (when several are offered)")
    @gm_only()
    async def upgrade(self, interaction: Interaction, plan: str | None = None) -> None:
        """Create a checkout and answer with a link button."""
        assert interaction.guild_id is not None
        if not self.billing.enabled:
            raise UserFacingError(SELF_HOSTED_MESSAGE, title="Nothing to buy")
        offers = self.billing.offers()
        if not offers:
            raise UserFacingError("No paid plans are offered on this bot.", title="Nothing to buy")
        if plan is None:
            if len(offers) > 1:
                names = "\n".join(f"• **{p.name}** — {_describe(p.monthly_panics)} panics a month" for _, p in offers)
                raise UserFacingError(f"Pick a plan with the `plan` option:\n{names}", title="Which plan?")
            plan = offers[0][0]
        chosen = dict(offers).get(plan) or next((p for _, p in offers if p.name.lower() == plan.lower()), None)
        price_id = next((pid for pid, p in offers if p is chosen), None)
        if chosen is None or price_id is None:
            raise UserFacingError("That plan isn't offered here. Pick one from the list.", title="Unknown plan")
        await interaction.response.defer(ephemeral=True, thinking=True)
        url = await self.billing.start_checkout(interaction.guild_id, price_id, interaction.user.id)
        embed = fit_embed(
            title=f"Upgrade to {chosen.name}",
            description=(
                f"{_describe(chosen.monthly_panics)} panics a month, {_bytes(chosen.memory_bytes)} of campaign notes. "
                "The link opens Paddle's secure checkout; the plan switches on as soon as the payment clears."
            ),
            colour=COLOUR,
        )
        await interaction.edit_original_response(embed=embed, view=link_view("Open checkout", url))

    @upgrade.autocomplete("plan")
    async def _plan_choices(self, interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
        return [
            app_commands.Choice(name=fit_choice(p.name), value=pid)
            for pid, p in self.billing.offers()
            if current.lower() in p.name.lower()
        ][:25]

    @app_commands.command(name="manage", description="Update the payment method or cancel (Paddle's portal)")
    @gm_only()
    async def manage(self, interaction: Interaction) -> None:
        """Answer with a fresh customer-portal link."""
        assert interaction.guild_id is not None
        if not self.billing.enabled:
            raise UserFacingError(SELF_HOSTED_MESSAGE, title="Nothing to manage")
        await interaction.response.defer(ephemeral=True, thinking=True)
        url = await self.billing.portal_url(interaction.guild_id)
        await interaction.edit_original_response(
            content="Here is your subscription's management page (the link works for a short while).",
            view=link_view("Manage subscription", url),
        )


def _describe(limit: int | None) -> str:
    return "Unlimited" if limit is None else f"{limit:,}"


async def setup(bot: PanicBot) -> None:
    """Extension entry point."""
    await bot.add_cog(Billing(bot))
