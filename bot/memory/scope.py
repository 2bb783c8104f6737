"""`CampaignScope`: which campaign of which guild a memory call acts on.

A guild holds any number of named campaigns (`db.models.campaign.Campaign`); a guild that never made one has
only its default campaign, `campaign_id == 0`, whose rows and vectors are those kept before campaigns existed
(no migration rewrote them). Everything of campaign memory — documents, chunks, vectors, the index record, the
roster and the party — belongs to exactly one scope, and no call reads or writes another scope's.
The guild stays the unit of billing, locking and the notes version.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_CAMPAIGN", "UNKNOWN_CAMPAIGN", "CampaignScope", "ScopeLike", "as_scope"]

DEFAULT_CAMPAIGN = 0  # `campaign_id` of a guild's default campaign
# a campaign that holds nothing: what a door uses when it cannot tell a channel's campaign (its guild's
# settings unreadable), so a panic there draws on no campaign's notes rather than on a guessed one's
UNKNOWN_CAMPAIGN = -1


@dataclass(frozen=True, slots=True, order=True)
class CampaignScope:
    """One campaign of one guild (`campaign_id` 0: the guild's default campaign)."""

    guild_id: int
    campaign_id: int = DEFAULT_CAMPAIGN

    @property
    def is_default(self) -> bool:
        """True for the guild's default campaign."""
        return self.campaign_id == DEFAULT_CAMPAIGN

    def __str__(self) -> str:
        return str(self.guild_id) if self.is_default else f"{self.guild_id}/campaign {self.campaign_id}"


ScopeLike = int | CampaignScope  # a bare guild id means that guild's default campaign


def as_scope(scope: ScopeLike) -> CampaignScope:
    """The scope itself, or a guild id's default campaign."""
    if isinstance(scope, CampaignScope):
        return scope
    return CampaignScope(int(scope))
