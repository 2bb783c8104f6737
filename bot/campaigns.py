"""A guild's named campaigns and the places (channels, threads, categories) bound to them; plain async
functions over a session, no discord. Which campaign a channel uses is decided by the doors
(`bot/discord/campaigns.py`) from the `CampaignMap` the guild's prefs carry.

A guild that never makes a campaign has only its default one (`campaign_id` 0, no row here): nothing about it
changed when campaigns arrived.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import UserFacingError
from bot.guilds import ensure_guild
from bot.memory.scope import DEFAULT_CAMPAIGN
from db.dialect import insert_for
from db.models import Campaign, CampaignBinding

__all__ = [
    "DEFAULT_NAME",
    "MAX_CAMPAIGNS",
    "NAME_MAX",
    "CampaignInfo",
    "CampaignMap",
    "bind_place",
    "campaign_name",
    "create_campaign",
    "delete_campaign",
    "load_campaigns",
    "rename_campaign",
    "set_campaign_style",
]

NAME_MAX = 100
MAX_CAMPAIGNS = 25  # per guild: one autocomplete page of choices
DEFAULT_NAME = "default"  # how the GM names the guild's default campaign (it has no row)


@dataclass(frozen=True, slots=True)
class CampaignInfo:
    """A campaign as the doors show and use it; `None` settings fall back to the guild's."""

    campaign_id: int
    name: str
    game_system: str | None = None
    tone: str | None = None
    content_rating: str | None = None

    @property
    def is_default(self) -> bool:
        """True for the guild's default campaign."""
        return self.campaign_id == DEFAULT_CAMPAIGN


DEFAULT_INFO = CampaignInfo(DEFAULT_CAMPAIGN, DEFAULT_NAME)


@dataclass(frozen=True, slots=True)
class CampaignMap:
    """A guild's campaigns and the places bound to them (place id -> campaign id)."""

    campaigns: tuple[CampaignInfo, ...] = ()
    bindings: Mapping[int, int] = field(default_factory=dict)

    def resolve(self, places: Iterable[int]) -> CampaignInfo:
        """The campaign of the first bound place of `places` (most specific first: thread, channel, category),
        else the guild's default campaign."""
        by_id = {c.campaign_id: c for c in self.campaigns}
        for place in places:
            found = by_id.get(self.bindings.get(place, DEFAULT_CAMPAIGN))
            if found is not None:
                return found
        return DEFAULT_INFO

    def named(self, name: str) -> CampaignInfo | None:
        """The campaign of that name (without case; `default` is the guild's default campaign), or None."""
        key = " ".join(name.split()).casefold()
        if key == DEFAULT_NAME:
            return DEFAULT_INFO
        return next((c for c in self.campaigns if c.name.casefold() == key), None)

    def places_of(self, campaign_id: int) -> list[int]:
        """The places bound to a campaign."""
        return sorted(place for place, bound in self.bindings.items() if bound == campaign_id)


def campaign_name(name: str) -> str:
    """A campaign's name as kept: whitespace collapsed; empty, too long, markup or `default` refused."""
    name = " ".join(name.split())
    if not name or len(name) > NAME_MAX or any(ch in name for ch in "*_`|<>@#~"):
        raise UserFacingError(
            f"A campaign's name is 1 to {NAME_MAX} characters of plain text.", title="Can't use that name"
        )
    if name.casefold() == DEFAULT_NAME:
        raise UserFacingError(
            f"**{DEFAULT_NAME}** is the server's default campaign; pick another name.", title="Can't use that name"
        )
    return name


def _info(row: Campaign) -> CampaignInfo:
    return CampaignInfo(row.id, row.name, row.game_system, row.tone, row.content_rating)


async def load_campaigns(session: AsyncSession, guild_id: int) -> CampaignMap:
    """The guild's campaigns (by name) and bindings."""
    rows = (
        await session.execute(select(Campaign).where(Campaign.guild_id == guild_id).order_by(func.lower(Campaign.name)))
    ).scalars()
    bindings = await session.execute(
        select(CampaignBinding.place_id, CampaignBinding.campaign_id).where(CampaignBinding.guild_id == guild_id)
    )
    return CampaignMap(tuple(_info(r) for r in rows), {int(p): int(c) for p, c in bindings})


async def _row(session: AsyncSession, guild_id: int, name: str) -> Campaign:
    key = " ".join(name.split()).casefold()
    rows = (await session.execute(select(Campaign).where(Campaign.guild_id == guild_id))).scalars()
    found = next((r for r in rows if r.name.casefold() == key), None)
    if found is None:
        raise UserFacingError(f"This server has no campaign **{' '.join(name.split())}**.", title="No such campaign")
    return found


async def create_campaign(session: AsyncSession, guild_id: int, name: str, **style: str | None) -> CampaignInfo:
    """A new named campaign (`style`: game_system, tone, content_rating overriding the guild's)."""
    name = campaign_name(name)
    await ensure_guild(session, guild_id)
    existing = (await load_campaigns(session, guild_id)).campaigns
    if any(c.name.casefold() == name.casefold() for c in existing):
        raise UserFacingError(f"This server already has a campaign **{name}**.", title="Already there")
    if len(existing) >= MAX_CAMPAIGNS:
        raise UserFacingError(
            f"A server holds at most {MAX_CAMPAIGNS} campaigns; delete one first.", title="Too many campaigns"
        )
    row = Campaign(guild_id=guild_id, name=name, **_style(style))
    session.add(row)
    await session.flush()
    return _info(row)


async def rename_campaign(session: AsyncSession, guild_id: int, old: str, new: str) -> CampaignInfo:
    """Rename a campaign (its notes and bindings stay)."""
    row = await _row(session, guild_id, old)
    new = campaign_name(new)
    others = (await load_campaigns(session, guild_id)).campaigns
    if any(c.name.casefold() == new.casefold() and c.campaign_id != row.id for c in others):
        raise UserFacingError(f"This server already has a campaign **{new}**.", title="Already there")
    row.name = new
    await session.flush()
    return _info(row)


async def set_campaign_style(session: AsyncSession, guild_id: int, name: str, **style: str | None) -> CampaignInfo:
    """Change a campaign's own settings (a value of "" goes back to the guild's)."""
    row = await _row(session, guild_id, name)
    for key, value in _style(style).items():
        if key in style and style[key] is not None:
            setattr(row, key, value)
    await session.flush()
    return _info(row)


async def delete_campaign(session: AsyncSession, guild_id: int, campaign_id: int) -> CampaignInfo | None:
    """Delete a campaign's row and its bindings (its notes go through `CampaignMemory.delete_campaign` first);
    None when it is gone already."""
    row = await session.get(Campaign, campaign_id)
    if row is None or row.guild_id != guild_id:
        return None
    info = _info(row)
    await session.execute(delete(CampaignBinding).where(CampaignBinding.campaign_id == row.id))
    await session.delete(row)
    await session.flush()
    return info


async def bind_place(session: AsyncSession, guild_id: int, place_id: int, name: str) -> CampaignInfo:
    """Bind a channel, thread or category to a campaign (`default`: back to the guild's default campaign)."""
    await ensure_guild(session, guild_id)
    await session.execute(
        delete(CampaignBinding).where(CampaignBinding.guild_id == guild_id, CampaignBinding.place_id == place_id)
    )
    if " ".join(name.split()).casefold() == DEFAULT_NAME:
        return DEFAULT_INFO
    row = await _row(session, guild_id, name)
    insert = insert_for(session)
    await session.execute(
        insert(CampaignBinding)
        .values(guild_id=guild_id, place_id=place_id, campaign_id=row.id)
        .on_conflict_do_nothing()
    )
    return _info(row)


_STYLE_KEYS = ("game_system", "tone", "content_rating")


def _style(style: Mapping[str, str | None]) -> dict[str, str | None]:
    """The given settings, stripped ("" and None: the guild's own)."""
    unknown = set(style) - set(_STYLE_KEYS)
    if unknown:
        raise KeyError(sorted(unknown)[0])
    return {key: (value or "").strip() or None for key, value in style.items()}
