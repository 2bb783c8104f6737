"""All models, imported here so `Base.metadata` is complete for Alembic."""

from db.base import Base
from db.models.billing import BillingCheckout, BillingSubscription, BillingUsage, WebhookEvent
from db.models.campaign import (
    Campaign,
    CampaignBinding,
    CampaignChunk,
    CampaignDocument,
    CampaignMemoryRecord,
    CampaignPartyMember,
)
from db.models.guild import Guild, GuildSettings
from db.models.panic import Panic, SavedImprov

__all__ = [
    "Base",
    "BillingCheckout",
    "BillingSubscription",
    "BillingUsage",
    "Campaign",
    "CampaignBinding",
    "CampaignChunk",
    "CampaignDocument",
    "CampaignMemoryRecord",
    "CampaignPartyMember",
    "Guild",
    "GuildSettings",
    "Panic",
    "SavedImprov",
    "WebhookEvent",
]
