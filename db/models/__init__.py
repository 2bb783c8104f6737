"""All models, imported here so `Base.metadata` is complete for Alembic."""

from db.base import Base
from db.models.guild import Guild, GuildSettings

__all__ = ["Base", "Guild", "GuildSettings"]
