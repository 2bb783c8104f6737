"""Plain values of the panic path: what is asked, what comes back, and where it came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from bot.billing.types import QuotaDecision
from bot.improv.kinds import Improv, Kind
from bot.improv.prompts import Style
from bot.memory.scope import DEFAULT_CAMPAIGN, CampaignScope
from bot.memory.types import Passage

__all__ = ["Engine", "PanicRecord", "PanicRequest", "PanicResult", "Source", "StoredImprov"]

Engine = Literal["openai", "pool", "tables"]


@dataclass(frozen=True, slots=True)
class Source:
    """A cited note: file plus heading or page."""

    file: str
    heading: str = ""
    page: int | None = None

    @classmethod
    def from_passage(cls, passage: Passage) -> Source:
        """The citation of a retrieved passage."""
        return cls(file=passage.file, heading=passage.heading, page=passage.page)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Source:
        """Inverse of `as_dict`."""
        page = data.get("page")
        return cls(
            file=str(data.get("file", "")), heading=str(data.get("heading") or ""), page=int(page) if page else None
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (`file` and `heading` or `page`)."""
        out: dict[str, Any] = {"file": self.file}
        if self.heading:
            out["heading"] = self.heading
        if self.page is not None:
            out["page"] = self.page
        return out

    def label(self) -> str:
        """`file › heading`, `file p. 3` or just the file."""
        if self.heading:
            return f"{self.file} › {self.heading}"
        if self.page is not None:
            return f"{self.file} p. {self.page}"
        return self.file


def dedupe_sources(sources: list[Source]) -> list[Source]:
    """Sources in order, without repeats."""
    return list(dict.fromkeys(sources))


@dataclass(frozen=True, slots=True)
class PanicRequest:
    """One panic as the doors hand it to the engine."""

    guild_id: int
    user_id: int
    kind: Kind
    details: str = ""
    player_safe_only: bool = False
    style: Style = field(default_factory=Style)
    check_cooldown: bool = True
    campaign_id: int = DEFAULT_CAMPAIGN  # the campaign of the channel it came from (0: the guild's default)

    @property
    def scope(self) -> CampaignScope:
        """The campaign whose notes, roster and pool this panic uses."""
        return CampaignScope(self.guild_id, self.campaign_id)


@dataclass(frozen=True, slots=True)
class PanicResult:
    """The answer, with everything the renderers and the follow-up buttons need."""

    improv_id: int
    kind: Kind
    details: str
    improv: Improv
    engine: Engine
    sources: tuple[Source, ...] = ()
    fallback_reason: str | None = None
    quota: QuotaDecision | None = None
    model: str = ""
    latency_ms: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    pool_hit: bool = False
    player_safe_only: bool = False
    #: why the campaign notes were not consulted ("timeout", "unavailable", "warming", "busy"); None when they were
    #: searched (or the guild has no campaign memory)
    grounding_note: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The CLI's JSON object."""
        return {
            "id": self.improv_id,
            "kind": self.kind,
            "engine": self.engine,
            "fallback_reason": self.fallback_reason,
            "grounding_note": self.grounding_note,
            "model": self.model,
            "title": self.improv.title,
            "fields": [{"name": name, "value": value} for name, value in self.improv.fields()],
            "sources": [s.as_dict() for s in self.sources],
            "text": self.improv.text(),
            "latency_ms": self.latency_ms,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "pool_hit": self.pool_hit,
            "quota_remaining": self.quota.remaining if self.quota else None,
            "data": self.improv.model_dump(),
        }


@dataclass(frozen=True, slots=True)
class StoredImprov:
    """A stored answer as the follow-up buttons need it (reveal, reroll, save); `user_id` is its owner (who asked
    for it: only they or a GM may use its buttons)."""

    improv_id: int
    guild_id: int
    user_id: int
    kind: Kind
    details: str
    improv: Improv
    engine: Engine
    sources: tuple[Source, ...] = ()
    fallback_reason: str | None = None
    player_safe_only: bool = False
    saved_at: datetime | None = None  # when it was saved into campaign memory
    note_ref: str | None = None
    campaign_id: int = DEFAULT_CAMPAIGN  # the campaign it was made in (Save keeps it there)
    created_at: datetime | None = None
    revealed_at: datetime | None = None  # when it was first shown to the table (Reveal, or its secret)

    @property
    def scope(self) -> CampaignScope:
        """The campaign it was made in."""
        return CampaignScope(self.guild_id, self.campaign_id)

    @property
    def saved(self) -> bool:
        """Whether it was saved into campaign memory already."""
        return self.saved_at is not None

    def result(self) -> PanicResult:
        """The `PanicResult` to render it again (e.g. for Reveal)."""
        return PanicResult(
            improv_id=self.improv_id,
            kind=self.kind,
            details=self.details,
            improv=self.improv,
            engine=self.engine,
            sources=self.sources,
            fallback_reason=self.fallback_reason,
            player_safe_only=self.player_safe_only,
        )


@dataclass(frozen=True, slots=True)
class PanicRecord:
    """One recorded panic of a guild's history (what was asked, how it was answered, what it cost)."""

    id: int
    guild_id: int
    user_id: int
    kind: Kind
    details: str
    engine: Engine
    model: str
    latency_ms: int
    tokens_in: int
    tokens_out: int
    pool_hit: bool
    fallback_reason: str | None
    created_at: datetime
