"""Guilds (Discord servers) and their per-guild settings."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from db.base import Base, utcnow


class Guild(Base):
    """A Discord server the bot has seen; owner of all campaign data, panics and billing state."""

    __tablename__ = "guilds"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(100), default="")
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)
    left_at: Mapped[datetime | None] = mapped_column(default=None)

    settings: Mapped[GuildSettings] = relationship(
        back_populates="guild", lazy="joined", cascade="all, delete-orphan", uselist=False
    )


class GuildSettings(Base):
    """What a GM configures with `/panic settings`; one row per guild, created on first use."""

    __tablename__ = "guild_settings"

    guild_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("guilds.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    gm_role_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    players_may_panic: Mapped[bool] = mapped_column(Boolean, default=False)
    public_by_default: Mapped[bool] = mapped_column(Boolean, default=False)
    tone: Mapped[str] = mapped_column(String(32), default="balanced")
    content_rating: Mapped[str] = mapped_column(String(16), default="pg13")
    game_system: Mapped[str] = mapped_column(String(64), default="")
    max_words: Mapped[int] = mapped_column(Integer, default=120)
    button_kind: Mapped[str] = mapped_column(String(16), default="npc")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    guild: Mapped[Guild] = relationship(back_populates="settings")
