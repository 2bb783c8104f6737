"""A guild's panic preferences as the doors (Discord, CLI) use them: read from and written to its settings row
(`bot.guilds`) over a sessionmaker; no discord."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.campaigns import CampaignInfo, CampaignMap, load_campaigns
from bot.guilds import update_settings
from bot.improv.kinds import Kind, parse_kind
from bot.improv.prompts import Style
from db.models import GuildSettings

__all__ = [
    "DEFAULT_PREFS",
    "RATINGS",
    "TONES",
    "GuildPrefs",
    "change_prefs",
    "load_prefs",
    "prefs_from_row",
    "style_from_row",
]

DEFAULT_BUTTON_KIND: Kind = "npc"
TONES = ["balanced", "grim", "heroic", "whimsical", "horror", "noir", "comedic"]
RATINGS = ["g", "pg", "pg13", "r"]


@dataclass(frozen=True, slots=True)
class GuildPrefs:
    """A snapshot of a guild's panic settings."""

    gm_role_id: int | None
    players_may_panic: bool
    public_by_default: bool
    style: Style
    button_kind: Kind
    campaigns: CampaignMap = field(default_factory=CampaignMap)  # its named campaigns and their channels

    def style_for(self, campaign: CampaignInfo) -> Style:
        """The guild's style with the campaign's own settings (game system, tone, rating) over it."""
        return replace(
            self.style,
            game_system=campaign.game_system or self.style.game_system,
            tone=campaign.tone or self.style.tone,
            content_rating=campaign.content_rating or self.style.content_rating,
        )


DEFAULT_PREFS = GuildPrefs(
    gm_role_id=None, players_may_panic=False, public_by_default=False, style=Style(), button_kind=DEFAULT_BUTTON_KIND
)


def style_from_row(row: GuildSettings) -> Style:
    """The generation preferences held in a settings row."""
    return Style(tone=row.tone, content_rating=row.content_rating, game_system=row.game_system, max_words=row.max_words)


def prefs_from_row(row: GuildSettings, campaigns: CampaignMap | None = None) -> GuildPrefs:
    """A settings row as `GuildPrefs` (a button kind that is no longer a kind falls back to the default)."""
    try:
        button_kind = parse_kind(row.button_kind)
    except ValueError:
        button_kind = DEFAULT_BUTTON_KIND
    return GuildPrefs(
        gm_role_id=row.gm_role_id,
        players_may_panic=row.players_may_panic,
        public_by_default=row.public_by_default,
        style=style_from_row(row),
        button_kind=button_kind,
        campaigns=campaigns or CampaignMap(),
    )


async def load_prefs(sessionmaker: async_sessionmaker[AsyncSession], guild_id: int) -> GuildPrefs:
    """The guild's prefs (with its campaigns). Only reads: a guild without a settings row has the defaults (the row
    is made by its first change), so a first look never waits for SQLite's write lock behind other guilds' writes."""
    async with sessionmaker() as session:
        row = await session.get(GuildSettings, guild_id)
        campaigns = await load_campaigns(session, guild_id)
    return prefs_from_row(row, campaigns) if row is not None else replace(DEFAULT_PREFS, campaigns=campaigns)


async def change_prefs(sessionmaker: async_sessionmaker[AsyncSession], guild_id: int, **changes: Any) -> GuildPrefs:
    """Change some settings of a guild (`update_settings` keys) in one transaction; the prefs afterwards."""
    async with sessionmaker.begin() as session:
        row = await update_settings(session, guild_id, **changes)
        return prefs_from_row(row, await load_campaigns(session, guild_id))
