"""`/campaign recap [since]`: tonight's improvisations of the channel's campaign (what the GM revealed or saved
this session), with "Save all to canon" and a menu to drop single items (bot/improv/tonight.py). Mounted on
the `/campaign` group with the other campaign commands (bot/discord/campaigns.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import discord
from discord import app_commands

from bot.discord.campaigns import channel_scope
from bot.discord.checks import ensure_gm, gm_only
from bot.discord.client import PanicBot
from bot.discord.render import fit_choice, fit_embed
from bot.discord.streaming import NO_MENTIONS
from bot.discord.views import PanicView, PersistentItem
from bot.errors import UserFacingError
from bot.improv.kinds import KIND_INFO
from bot.improv.tonight import note_text
from bot.improv.types import StoredImprov
from bot.memory.scope import CampaignScope

__all__ = ["RECAP_ITEMS", "note_reveal", "recap_commands", "save_to_canon"]

Interaction = discord.Interaction[PanicBot]

COLOUR = discord.Colour.dark_teal()
_SINCE = re.compile(r"^\s*(\d{1,4})\s*(m|min|mins|minutes?|h|hours?|d|days?)\s*$", re.IGNORECASE)


async def save_to_canon(interaction: Interaction, stored: StoredImprov) -> str:
    """Keep an answer as a note of the campaign it was made in (its GM-only fields too); the note's file name.
    Later panics and searches find it, and its names join the roster."""
    memory = getattr(interaction.client.services, "memory", None)
    if memory is None:
        raise UserFacingError("Campaign memory is not available on this bot, so there is nowhere to save.")
    report = await memory.save_note(stored.scope, stored.improv.title, note_text(stored.improv), player_safe=False)
    note = str(getattr(report, "file_name", "") or stored.improv.title)
    await interaction.client.services.improv.mark_saved(stored.improv_id, note)
    return note


def note_reveal(interaction: Interaction, improv_id: int) -> None:
    """The table saw this answer: it joins tonight's improvisations (in the background, never delaying a reply)."""
    services = interaction.client.services
    services.tasks.spawn(services.improv.mark_revealed(improv_id), name=f"reveal-{improv_id}")


def parse_since(text: str, now: datetime) -> datetime:
    """`3h`, `90m`, `2d` back from `now`; a friendly `UserFacingError` for anything else."""
    found = _SINCE.match(text)
    if found is None:
        raise UserFacingError("Say how far back to look, like `3h`, `90m` or `2d`.", title="Can't read that time")
    amount, unit = int(found.group(1)), found.group(2).lower()[0]
    return now - {"m": timedelta(minutes=amount), "h": timedelta(hours=amount), "d": timedelta(days=amount)}[unit]


def _stamp(moment: datetime | None) -> str:
    return f"<t:{int(moment.timestamp())}:t>" if moment is not None else ""


def _recap_message(
    scope: CampaignScope, since: datetime, items: list[StoredImprov]
) -> tuple[discord.Embed, PanicView | None]:
    """The recap's embed and, when it lists anything, its "Save all to canon" button and drop menu."""
    lines = []
    for number, item in enumerate(items, start=1):
        state = "saved" if item.saved else "revealed"
        label = KIND_INFO[item.kind].label
        lines.append(f"{number}. **{item.improv.title or label}** · {label} · {_stamp(item.created_at)} · {state}")
    if not lines:
        lines = [
            "Nothing revealed or saved yet this session. Reveal an answer to the table, or save it, and it "
            "shows up here."
        ]
    unsaved = sum(not item.saved for item in items)
    footer = (
        f"{unsaved} not in your notes yet: Save all to canon keeps them; later panics will cite them."
        if unsaved
        else "Everything here is in your notes already."
    )
    embed = fit_embed(
        title="Tonight's improvisations",
        description=f"Since {_stamp(since)} (<t:{int(since.timestamp())}:R>)\n\n" + "\n".join(lines),
        footer=footer,
        colour=COLOUR,
    )
    if not items:
        return embed, None
    view = PanicView()
    since_key = int(since.timestamp())
    if unsaved:
        view.add_item(SaveAllButton(str(scope.campaign_id), str(since_key)))
    view.add_item(DropPicker(str(scope.campaign_id), str(since_key), items))
    return embed, view


def _scope(interaction: Interaction, campaign_id: str) -> CampaignScope:
    assert interaction.guild_id is not None
    return CampaignScope(interaction.guild_id, int(campaign_id))


def _since(key: str) -> datetime:
    return datetime.fromtimestamp(int(key), UTC)


class SaveAllButton(
    PersistentItem[discord.ui.Button[Any]], template=r"campaign:recap:save:(?P<campaign_id>\d+):(?P<since>\d+)"
):
    """Save every listed improvisation not in the notes yet as a note of its campaign."""

    def __init__(self, campaign_id: str, since: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Save all to canon",
                style=discord.ButtonStyle.success,
                custom_id=f"campaign:recap:save:{int(campaign_id)}:{int(since)}",
            )
        )
        self.campaign_id, self.since = campaign_id, since

    async def run(self, interaction: Interaction) -> None:
        await ensure_gm(interaction)
        await interaction.response.defer()
        scope, improv = _scope(interaction, self.campaign_id), interaction.client.services.improv
        since, items = await improv.tonight(scope, _since(self.since))
        saved = [item for item in items if not item.saved]
        for item in saved:
            await save_to_canon(interaction, item)
        _, items = await improv.tonight(scope, since)
        embed, view = _recap_message(scope, since, items)
        await interaction.edit_original_response(embed=embed, view=view, allowed_mentions=NO_MENTIONS)
        names = ", ".join(f"**{item.improv.title}**" for item in saved) or "nothing new"
        await interaction.followup.send(
            f"Saved {names} to your campaign notes; later panics will cite them.",
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )


class DropPicker(
    PersistentItem[discord.ui.Select[Any]], template=r"campaign:recap:drop:(?P<campaign_id>\d+):(?P<since>\d+)"
):
    """Leave single improvisations out of the recap (and so out of "Save all to canon")."""

    def __init__(self, campaign_id: str, since: str, items: list[StoredImprov] | None = None) -> None:
        options = [
            discord.SelectOption(label=fit_choice(f"{n}. {item.improv.title or item.kind}"), value=str(item.improv_id))
            for n, item in enumerate(items or [], start=1)
        ] or [discord.SelectOption(label="(nothing)", value="0")]
        super().__init__(
            discord.ui.Select(
                custom_id=f"campaign:recap:drop:{int(campaign_id)}:{int(since)}",
                placeholder="Drop from tonight's list…",
                options=options,
                min_values=1,
                max_values=len(options),
            )
        )
        self.campaign_id, self.since = campaign_id, since

    async def run(self, interaction: Interaction) -> None:
        await ensure_gm(interaction)
        await interaction.response.defer()
        scope, improv = _scope(interaction, self.campaign_id), interaction.client.services.improv
        since, items = await improv.tonight(scope, _since(self.since))
        listed = {str(item.improv_id): item for item in items}
        data: dict[str, Any] = dict(interaction.data or {})
        values = [str(v) for v in data.get("values") or []]
        for value in values:
            if value in listed:  # only this campaign's listed answers can be dropped from here
                await improv.mark_dropped(listed[value].improv_id)
        _, items = await improv.tonight(scope, since)
        embed, view = _recap_message(scope, since, items)
        await interaction.edit_original_response(embed=embed, view=view, allowed_mentions=NO_MENTIONS)


RECAP_ITEMS: tuple[type[PersistentItem[Any]], ...] = (SaveAllButton, DropPicker)


def recap_commands() -> list[app_commands.Command[Any, ..., None]]:
    """A fresh `/campaign recap` for one cog instance."""

    @app_commands.command(name="recap", description="Tonight's improvisations: what you revealed or saved")
    @app_commands.describe(since="How far back, like 3h, 90m or 2d (default: since the last six hours without a panic)")
    @gm_only()
    async def recap(interaction: Interaction, since: app_commands.Range[str, 1, 20] | None = None) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        scope = await channel_scope(interaction)
        start = parse_since(since, datetime.now(UTC)) if since else None
        start, items = await interaction.client.services.improv.tonight(scope, start)
        embed, view = _recap_message(scope, start, items)
        extra: dict[str, Any] = {"view": view} if view is not None else {}
        await interaction.edit_original_response(embed=embed, allowed_mentions=NO_MENTIONS, **extra)

    return [recap]
