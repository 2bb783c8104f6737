"""Which campaign a channel uses, and the `/campaign new|use|rename|configure|delete|here` commands that manage them
(mounted on the `/campaign` group by cogs/campaign.py).

A channel's campaign: the thread's own binding, else its channel's, else the category's, else the server's
default campaign. The bindings travel with the guild's prefs (`GuildPrefs.campaigns`, cached per process within
the GM check's deadline), so choosing the campaign adds no wait to a panic.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import discord
from discord import app_commands

from bot import campaigns
from bot.campaigns import CampaignInfo
from bot.discord.checks import SettingsUnavailable, gm_only
from bot.discord.client import PanicBot
from bot.discord.render import fit_choice, fit_embed
from bot.discord.streaming import NO_MENTIONS
from bot.discord.views import ConfirmButton, PanicView, PersistentItem
from bot.errors import UserFacingError
from bot.memory.scope import UNKNOWN_CAMPAIGN, CampaignScope
from bot.prefs import RATINGS, TONES, GuildPrefs, load_prefs

__all__ = [
    "CAMPAIGN_ITEMS",
    "DeleteCampaignButton",
    "campaign_commands",
    "campaign_of",
    "channel_places",
    "channel_scope",
]

log = logging.getLogger(__name__)

Interaction = discord.Interaction[PanicBot]

COLOUR = discord.Colour.dark_teal()


def channel_places(interaction: discord.Interaction[Any]) -> tuple[int, ...]:
    """The places whose binding decides the channel's campaign, most specific first: the channel (or thread),
    the thread's parent channel, the category."""
    channel = interaction.channel
    places: list[int | None] = [interaction.channel_id]
    if isinstance(channel, discord.Thread):
        places.append(channel.parent_id)
    with contextlib.suppress(discord.ClientException):  # a thread whose parent is not cached: no category
        places.append(getattr(channel, "category_id", None))
    return tuple(dict.fromkeys(p for p in places if p))


def campaign_of(interaction: discord.Interaction[Any], prefs: GuildPrefs) -> CampaignInfo:
    """The campaign of the interaction's channel under the guild's `prefs`."""
    return prefs.campaigns.resolve(channel_places(interaction))


def scope_of(interaction: discord.Interaction[Any], prefs: GuildPrefs | None) -> CampaignScope:
    """The scope of the interaction's channel; with the guild's prefs unread (database down, never read in this
    process) a campaign that holds nothing, so no campaign's notes can reach the wrong table."""
    assert interaction.guild_id is not None
    if prefs is None:
        return CampaignScope(interaction.guild_id, UNKNOWN_CAMPAIGN)
    return CampaignScope(interaction.guild_id, campaign_of(interaction, prefs).campaign_id)


async def channel_scope(interaction: Interaction) -> CampaignScope:
    """The scope `/campaign` commands act on: the channel's campaign (`SettingsUnavailable` when the guild's
    campaigns cannot be read: acting on a guessed campaign could touch the wrong table's notes)."""
    if interaction.guild_id is None:
        raise UserFacingError("Campaigns only work inside a server.")
    prefs = await interaction.client.prefs.lookup(interaction.guild_id)
    if prefs is None:
        raise SettingsUnavailable()
    return scope_of(interaction, prefs)


async def _refresh(interaction: Interaction) -> GuildPrefs:
    """Read the guild's prefs again after a change to its campaigns and cache them for the next panic."""
    assert interaction.guild_id is not None
    prefs = await load_prefs(interaction.client.services.sessionmaker, interaction.guild_id)
    interaction.client.prefs.put(interaction.guild_id, prefs)
    return prefs


def _describe(info: CampaignInfo) -> str:
    if info.is_default:
        return "the server's **default** campaign"
    return f"**{info.name}**"


def _style_line(info: CampaignInfo) -> str:
    parts = [
        f"{label}: {value}"
        for label, value in (("system", info.game_system), ("tone", info.tone), ("rating", info.content_rating))
        if value
    ]
    return f" ({', '.join(parts)})" if parts else ""


async def _reply(interaction: Interaction, title: str, description: str) -> None:
    embed = fit_embed(title=title, description=description, colour=COLOUR)
    await interaction.edit_original_response(embed=embed, allowed_mentions=NO_MENTIONS)


class DeleteCampaignButton(ConfirmButton, template=r"campaign:delete:(?P<campaign_id>\d+):(?P<action>yes|no)"):
    """Confirm (or cancel) deleting a campaign with all its notes; the state is in the custom id."""

    confirm_label = "Delete the campaign and its notes"
    cancelled = ("Nothing deleted", "The campaign is untouched.")

    def __init__(self, campaign_id: str, action: str) -> None:
        super().__init__(f"campaign:delete:{int(campaign_id)}:{action}", action)
        self.campaign_id = int(campaign_id)

    async def confirmed(self, interaction: Interaction) -> None:
        assert interaction.guild_id is not None
        services = interaction.client.services
        known = {c.campaign_id: c for c in (await _refresh(interaction)).campaigns.campaigns}
        info = known.get(self.campaign_id)
        if info is None:
            raise UserFacingError("That campaign is already gone.", title="Nothing to delete")
        # the notes first: should that fail, the campaign stays and the GM can try again
        count = await services.memory.delete_campaign(CampaignScope(interaction.guild_id, info.campaign_id))
        async with services.sessionmaker.begin() as session:
            await campaigns.delete_campaign(session, interaction.guild_id, info.campaign_id)
        await _refresh(interaction)
        embed = fit_embed(
            title="Campaign deleted",
            description=f"**{info.name}** is gone with its {count} document{'s' if count != 1 else ''}. "
            "Its channels use the server's default campaign again.",
            colour=COLOUR,
        )
        await interaction.edit_original_response(embed=embed, view=None, allowed_mentions=NO_MENTIONS)


CAMPAIGN_ITEMS: tuple[type[PersistentItem[Any]], ...] = (DeleteCampaignButton,)

_TONE_CHOICES = [app_commands.Choice(name=t, value=t) for t in TONES]
_RATING_CHOICES = [app_commands.Choice(name=r.upper(), value=r) for r in RATINGS]


async def _name_choices(interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
    """The guild's campaigns whose name contains what was typed (none when its prefs cannot be read in time)."""
    if interaction.guild_id is None:
        return []
    prefs = await interaction.client.prefs.lookup(interaction.guild_id)
    names = [c.name for c in prefs.campaigns.campaigns] if prefs is not None else []
    typed = current.casefold()
    return [app_commands.Choice(name=fit_choice(n), value=n) for n in names if typed in n.casefold()][:25]


def campaign_commands() -> list[app_commands.Command[Any, ..., None]]:
    """Fresh `/campaign` subcommands for one cog instance (a command belongs to one group)."""

    @app_commands.command(name="new", description="Start a new campaign with its own notes")
    @app_commands.describe(
        name="The campaign's name",
        game_system="Its game system (default: the server's)",
        tone="Its tone (default: the server's)",
        content_rating="Its rating (default: the server's)",
    )
    @app_commands.choices(tone=_TONE_CHOICES, content_rating=_RATING_CHOICES)
    @gm_only()
    async def new(
        interaction: Interaction,
        name: app_commands.Range[str, 1, 100],
        game_system: app_commands.Range[str, 0, 64] | None = None,
        tone: app_commands.Choice[str] | None = None,
        content_rating: app_commands.Choice[str] | None = None,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        assert interaction.guild_id is not None
        async with interaction.client.services.sessionmaker.begin() as session:
            info = await campaigns.create_campaign(
                session,
                interaction.guild_id,
                name,
                game_system=game_system,
                tone=tone.value if tone else None,
                content_rating=content_rating.value if content_rating else None,
            )
        await _refresh(interaction)
        await _reply(
            interaction,
            "Campaign created",
            f"**{info.name}**{_style_line(info)} is ready. Bind a channel to it with `/campaign use`, then import "
            "its notes there: panics in its channels only ever draw on them.",
        )

    @app_commands.command(name="use", description="Bind this channel (or its category) to a campaign")
    @app_commands.describe(
        name="The campaign (`default`: the server's default campaign)",
        whole_category="Bind the channel's whole category instead of this channel",
    )
    @app_commands.autocomplete(name=_name_choices)
    @gm_only()
    async def use(
        interaction: Interaction, name: app_commands.Range[str, 1, 100], whole_category: bool = False
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        assert interaction.guild_id is not None
        assert interaction.channel_id is not None
        place = interaction.channel_id
        if whole_category:
            category = next(iter(channel_places(interaction)[1:]), None)
            if category is None or isinstance(interaction.channel, discord.Thread):
                raise UserFacingError("This channel isn't in a category.", title="No category")
            place = category
        async with interaction.client.services.sessionmaker.begin() as session:
            info = await campaigns.bind_place(session, interaction.guild_id, place, name)
        prefs = await _refresh(interaction)
        where = "This category" if whole_category else "This channel"
        now = campaign_of(interaction, prefs)
        note = "" if now.campaign_id == info.campaign_id else f" (this channel's own binding keeps {_describe(now)})"
        await _reply(interaction, "Campaign chosen", f"{where} now uses {_describe(info)}{_style_line(info)}.{note}")

    @app_commands.command(name="rename", description="Rename a campaign")
    @app_commands.describe(name="The campaign", new_name="Its new name")
    @app_commands.autocomplete(name=_name_choices)
    @gm_only()
    async def rename(
        interaction: Interaction, name: app_commands.Range[str, 1, 100], new_name: app_commands.Range[str, 1, 100]
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        assert interaction.guild_id is not None
        async with interaction.client.services.sessionmaker.begin() as session:
            info = await campaigns.rename_campaign(session, interaction.guild_id, name, new_name)
        await _refresh(interaction)
        await _reply(interaction, "Campaign renamed", f"It's called **{info.name}** now; its notes stay.")

    @app_commands.command(name="configure", description="Change a campaign's own game system, tone or rating")
    @app_commands.describe(
        name="The campaign",
        game_system="Its game system (empty: the server's)",
        tone="Its tone",
        content_rating="Its rating",
        server_defaults="Drop all three, so the server's settings apply again",
    )
    @app_commands.choices(tone=_TONE_CHOICES, content_rating=_RATING_CHOICES)
    @app_commands.autocomplete(name=_name_choices)
    @gm_only()
    async def configure(
        interaction: Interaction,
        name: app_commands.Range[str, 1, 100],
        game_system: app_commands.Range[str, 0, 64] | None = None,
        tone: app_commands.Choice[str] | None = None,
        content_rating: app_commands.Choice[str] | None = None,
        server_defaults: bool = False,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        assert interaction.guild_id is not None
        changes = {
            "game_system": "" if server_defaults else game_system,
            "tone": "" if server_defaults else (tone.value if tone else None),
            "content_rating": "" if server_defaults else (content_rating.value if content_rating else None),
        }
        async with interaction.client.services.sessionmaker.begin() as session:
            info = await campaigns.set_campaign_style(session, interaction.guild_id, name, **changes)
        await _refresh(interaction)
        own = _style_line(info) or " (the server's settings)"
        await _reply(interaction, "Campaign settings", f"**{info.name}**{own}.")

    @app_commands.command(name="delete", description="Delete a campaign and all of its notes")
    @app_commands.describe(name="The campaign")
    @app_commands.autocomplete(name=_name_choices)
    @gm_only()
    async def delete(interaction: Interaction, name: app_commands.Range[str, 1, 100]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        assert interaction.guild_id is not None
        info = (await _refresh(interaction)).campaigns.named(name)
        if info is None or info.is_default:
            what = "The default campaign can't be deleted" if info else f"This server has no campaign **{name}**"
            raise UserFacingError(f"{what}.", title="Nothing to delete")
        view = PanicView()
        view.add_item(DeleteCampaignButton(str(info.campaign_id), "yes"))
        view.add_item(DeleteCampaignButton(str(info.campaign_id), "no"))
        embed = fit_embed(
            title=f"Delete {info.name}?",
            description=f"This deletes **{info.name}** with every note imported into it and its party. "
            "It can't be undone.",
            colour=discord.Colour.red(),
        )
        await interaction.edit_original_response(embed=embed, view=view, allowed_mentions=NO_MENTIONS)

    @app_commands.command(name="here", description="Which campaign this channel uses, and the server's campaigns")
    @gm_only()
    async def here(interaction: Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        prefs = await _refresh(interaction)
        current = campaign_of(interaction, prefs)
        lines = [f"This channel uses {_describe(current)}{_style_line(current)}.", ""]
        for info in prefs.campaigns.campaigns:
            bound = ", ".join(f"<#{p}>" for p in prefs.campaigns.places_of(info.campaign_id)) or "no channel yet"
            lines.append(f"• **{info.name}**{_style_line(info)}: {bound}")
        if not prefs.campaigns.campaigns:
            lines.append("This server has only its default campaign. Start another with `/campaign new`.")
        await _reply(interaction, "Campaigns", "\n".join(lines))

    return [new, use, rename, configure, delete, here]
