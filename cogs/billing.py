"""`/billing status|upgrade|manage`: the server's plan and usage, a checkout link or a confirmed change of the
existing subscription's plan, and the customer portal (its payer or a server manager only)."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.billing.plans import Plan
from bot.billing.service import SELF_HOSTED_MESSAGE, BillingService, BillingStatus, PlanChange, price_tag
from bot.discord.checks import ensure_gm, gm_only
from bot.discord.client import PanicBot
from bot.discord.render import EmbedField, fit_choice, fit_embed
from bot.discord.views import PersistentItem
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
    if plan.next_plan is not None and plan.next_plan_at is not None:
        when = discord.utils.format_dt(plan.next_plan_at, "D")
        fields.append(EmbedField("Changes to", f"{plan.next_plan.name} on {when}", inline=True))
    elif plan.paid and plan.renews and plan.period_end is not None:
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

    @app_commands.command(name="upgrade", description="Get a paid plan, or change the plan you pay for")
    @app_commands.describe(plan="Which plan (when several are offered)")
    @gm_only()
    async def upgrade(self, interaction: Interaction, plan: str | None = None) -> None:
        """A checkout link, or (on a live subscription) what the change costs with a button to confirm it."""
        assert interaction.guild_id is not None
        price_id, chosen = self._chosen(plan)
        await interaction.response.defer(ephemeral=True, thinking=True)
        change = await self.billing.plan_change(
            interaction.guild_id,
            price_id,
            user_id=interaction.user.id,
            user_name=interaction.user.display_name,
            can_manage_server=_manages(interaction),
        )
        if change.kind == "checkout" and change.url is not None:
            embed = fit_embed(
                title=f"Upgrade to {chosen.name}",
                description=(
                    f"{_offer(chosen)}. The link opens Paddle's secure checkout; the plan switches on as soon as "
                    "Paddle confirms the payment (`/billing status` shows it)."
                ),
                colour=COLOUR,
            )
            await interaction.edit_original_response(embed=embed, view=link_view("Open checkout", change.url))
            return
        await interaction.edit_original_response(
            embed=change_embed(change, chosen, self.billing.plans.paid.get(change.from_price_id or "")),
            view=confirm_view(change),
        )

    def _chosen(self, plan: str | None) -> tuple[str, Plan]:
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
        return price_id, chosen

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
        """A fresh customer-portal link, for the GM who pays or a member with Manage Server only."""
        assert interaction.guild_id is not None
        if not self.billing.enabled:
            raise UserFacingError(SELF_HOSTED_MESSAGE, title="Nothing to manage")
        await interaction.response.defer(ephemeral=True, thinking=True)
        url = await self.billing.portal_url(
            interaction.guild_id, user_id=interaction.user.id, can_manage_server=_manages(interaction)
        )
        await interaction.edit_original_response(
            content="Here is your subscription's management page (the link works for a short while).",
            view=link_view("Manage subscription", url),
        )


class ConfirmChange(
    PersistentItem[discord.ui.Button[Any]],
    template=r"billing:change:(?P<subscription_id>sub_[a-z0-9]{1,40}):(?P<from_tag>[0-9a-f]{10}):(?P<to_tag>[0-9a-f]{10})",
):
    """Confirms a previewed plan change; the custom id names the subscription and both prices (as tags)."""

    def __init__(self, subscription_id: str, from_tag: str, to_tag: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Confirm change",
                style=discord.ButtonStyle.success,
                custom_id=f"billing:change:{subscription_id}:{from_tag}:{to_tag}",
            )
        )
        self.subscription_id, self.from_tag, self.to_tag = subscription_id, from_tag, to_tag

    async def run(self, interaction: Interaction) -> None:
        await ensure_gm(interaction)
        assert interaction.guild_id is not None
        await interaction.response.defer()
        billing = interaction.client.services.billing
        price_id = await billing.confirm_change(
            interaction.guild_id,
            self.subscription_id,
            self.from_tag,
            self.to_tag,
            user_id=interaction.user.id,
            can_manage_server=_manages(interaction),
        )
        embed = fit_embed(
            title=f"Changing to {billing.plans.paid[price_id].name}",
            description="Paddle is changing the plan of this server's subscription. It shows in `/billing status` as "
            "soon as Paddle confirms (usually within a minute).",
            colour=COLOUR,
        )
        await interaction.edit_original_response(embed=embed, view=None)


def change_embed(change: PlanChange, chosen: Plan, current: Plan | None) -> discord.Embed:
    """What a plan change does and costs (Paddle's preview), before it is confirmed."""
    assert change.preview is not None
    when = (
        "The new limits apply once the current period ends; you keep "
        + (f"**{current.name}**" if current else "the current plan")
        + " until then, and nothing is refunded."
        if change.downgrade
        else "The new limits apply as soon as Paddle confirms the change."
    )
    return fit_embed(
        title=f"Change to {chosen.name}?",
        description=f"{_offer(chosen)}.\n\n{change.preview.describe()}\n{when}\n\nThe saved payment method of this "
        "server's subscription is used. Nothing changes until you confirm.",
        colour=COLOUR,
    )


def confirm_view(change: PlanChange) -> discord.ui.View:
    """The Confirm button of a previewed change."""
    assert change.subscription_id is not None
    view = discord.ui.View(timeout=None)
    view.add_item(
        ConfirmChange(change.subscription_id, price_tag(change.from_price_id or ""), price_tag(change.price_id))
    )
    return view


def _manages(interaction: Interaction) -> bool:
    perms = interaction.permissions
    return perms.manage_guild or perms.administrator


def _offer(plan: Plan) -> str:
    return f"{_describe(plan.monthly_panics)} panics a month, {_bytes(plan.memory_bytes)} of campaign notes"


def _describe(limit: int | None) -> str:
    return "Unlimited" if limit is None else f"{limit:,}"


async def setup(bot: PanicBot) -> None:
    """Extension entry point."""
    bot.add_dynamic_items(ConfirmChange)
    await bot.add_cog(Billing(bot))
