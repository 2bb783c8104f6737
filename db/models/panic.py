"""Panic history (what was asked, how fast, which engine) and the results behind the follow-up buttons."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from db.base import Base, utcnow

__all__ = ["Panic", "SavedImprov"]


class Panic(Base):
    """One panic: every request is recorded, whichever engine answered."""

    __tablename__ = "panics"
    __table_args__ = (Index("ix_panics_guild_created", "guild_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    guild_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("guilds.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    details: Mapped[str] = mapped_column(String(400), default="")
    latency_ms: Mapped[int] = mapped_column(Integer)
    tokens_in: Mapped[int] = mapped_column(Integer, default=0)
    tokens_out: Mapped[int] = mapped_column(Integer, default=0)
    engine: Mapped[str] = mapped_column(String(16))  # openai | pool | tables
    model: Mapped[str] = mapped_column(String(64), default="")
    pool_hit: Mapped[bool] = mapped_column(Boolean, default=False)
    fallback_reason: Mapped[str | None] = mapped_column(String(32), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SavedImprov(Base):
    """The result of a panic, kept so Reveal, Reroll and Save work by id, also after a restart.

    `saved_at`/`note_ref` are set when the GM saves it into campaign memory.
    """

    __tablename__ = "saved_improvs"
    # a guild's recent answers of one kind, newest first (bot/improv/recent.py reads them once per process)
    __table_args__ = (
        Index("ix_saved_improvs_guild_kind_id", "guild_id", "kind", "id"),
        # a campaign's session, in time order (bot/improv/tonight.py)
        Index("ix_saved_improvs_guild_campaign_created", "guild_id", "campaign_id", "created_at"),
    )

    # made by the application (`bot.improv.recorder.new_improv_id`), so the answer need not wait for the insert
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    panic_id: Mapped[int | None] = mapped_column(ForeignKey("panics.id", ondelete="SET NULL"), default=None)
    guild_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("guilds.id", ondelete="CASCADE"), index=True)
    campaign_id: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # 0: the default campaign
    user_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    details: Mapped[str] = mapped_column(String(400), default="")
    player_safe_only: Mapped[bool] = mapped_column(Boolean, default=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    sources: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    engine: Mapped[str] = mapped_column(String(16))
    fallback_reason: Mapped[str | None] = mapped_column(String(32), default=None)
    title: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    saved_at: Mapped[datetime | None] = mapped_column(default=None)
    note_ref: Mapped[str | None] = mapped_column(String(200), default=None)
    revealed_at: Mapped[datetime | None] = mapped_column(default=None)  # first shown to the table
    dropped_at: Mapped[datetime | None] = mapped_column(default=None)  # left out of `/campaign recap` by the GM

    panic: Mapped[Panic | None] = relationship(lazy="raise")
