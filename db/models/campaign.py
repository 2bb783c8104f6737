"""Campaign memory: imported documents, their chunks (text and citation metadata) and the per-guild index record.

The chunk rows are the source of truth for text under either vector store: search joins the store's hits back
to them (so only the visible version of a document can ever be returned), the roster is built from them and a
switch of embedder re-embeds from them without re-parsing any file.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, utcnow

__all__ = [
    "Campaign",
    "CampaignBinding",
    "CampaignChunk",
    "CampaignDocument",
    "CampaignMemoryRecord",
    "CampaignPartyMember",
    "DocumentStatus",
]

# `campaign_id` of every row below: 0 is the guild's default campaign (bot/memory/scope.py), else a Campaign's id


def _campaign_column() -> Mapped[int]:
    return mapped_column(Integer, default=0, server_default="0")


class DocumentStatus:
    """Values of `CampaignDocument.status`."""

    READY = "ready"  # the row's `document_id` version is the visible one
    IMPORTING = "importing"  # first import of this file still running: nothing visible yet


class CampaignDocument(Base):
    """One imported file (or saved note) of a guild. Re-importing the same file name replaces it atomically."""

    __tablename__ = "campaign_documents"
    __table_args__ = (UniqueConstraint("guild_id", "campaign_id", "file_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    guild_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("guilds.id", ondelete="CASCADE"), index=True)
    campaign_id: Mapped[int] = _campaign_column()
    document_id: Mapped[str] = mapped_column(String(64))  # content hash of the visible version
    # content hash of a version being imported over this one; set while its vectors are written, cleared by
    # the swap (or by the clean-up of a failed or interrupted import, which deletes that version's vectors)
    pending_document_id: Mapped[str | None] = mapped_column(String(64), default=None)
    file_name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))  # markdown | text | pdf | docx | note
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    pages: Mapped[int | None] = mapped_column(Integer, default=None)
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    player_safe: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default=DocumentStatus.IMPORTING)
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CampaignChunk(Base):
    """One chunk's text and citation. Rows of a version being imported coexist with the visible version's
    rows (they differ in `document_id`) until the swap deletes the old ones in the same transaction."""

    __tablename__ = "campaign_chunks"
    __table_args__ = (
        UniqueConstraint("guild_id", "campaign_id", "chunk_id"),
        Index("ix_campaign_chunks_guild_id_document_id", "guild_id", "document_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    guild_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("guilds.id", ondelete="CASCADE"))
    campaign_id: Mapped[int] = _campaign_column()
    document_row_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("campaign_documents.id", ondelete="CASCADE"), index=True
    )
    document_id: Mapped[str] = mapped_column(String(64))
    chunk_id: Mapped[str] = mapped_column(String(160))
    index: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    heading: Mapped[str] = mapped_column(Text, default="")
    page: Mapped[int | None] = mapped_column(Integer, default=None)
    # a GM-only passage (an Obsidian secret callout): hidden from players even in a player-safe document
    gm_only: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class CampaignMemoryRecord(Base):
    """Per-campaign index record: which embedder and where the vectors live; a mismatch means re-embed."""

    __tablename__ = "campaign_memories"

    guild_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("guilds.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    campaign_id: Mapped[int] = mapped_column(
        Integer, primary_key=True, autoincrement=False, default=0, server_default="0"
    )
    embedder_id: Mapped[str] = mapped_column(String(128))
    dimension: Mapped[int] = mapped_column(Integer)
    store_location: Mapped[str] = mapped_column(String(255))
    canon_names: Mapped[list[Any]] = mapped_column(JSON, default=list)  # every canon name but the party's
    # the roster by category: {"people": [...], "places": [...], "groups": [...], "party": [...], "other": [...]};
    # None on a record built before categories (its names then count as "other")
    canon: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CampaignPartyMember(Base):
    """A player character the GM named with `/campaign party add`: never used as an NPC. Kept when the notes
    are forgotten (the party is not part of them); gone with the guild."""

    __tablename__ = "campaign_party"
    __table_args__ = (UniqueConstraint("guild_id", "campaign_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    guild_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("guilds.id", ondelete="CASCADE"), index=True)
    campaign_id: Mapped[int] = _campaign_column()
    name: Mapped[str] = mapped_column(String(100))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class Campaign(Base):
    """A named campaign of a guild (`/campaign new`); its settings, when set, override the guild's."""

    __tablename__ = "campaigns"
    __table_args__ = (UniqueConstraint("guild_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    guild_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("guilds.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    game_system: Mapped[str | None] = mapped_column(String(64), default=None)
    tone: Mapped[str | None] = mapped_column(String(32), default=None)
    content_rating: Mapped[str | None] = mapped_column(String(16), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CampaignBinding(Base):
    """A channel, thread or category bound to a campaign with `/campaign use` (one campaign per place)."""

    __tablename__ = "campaign_bindings"

    guild_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("guilds.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    place_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)  # channel or category
    campaign_id: Mapped[int] = mapped_column(Integer, ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
