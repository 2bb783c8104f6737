"""Plain values that cross the campaign-memory boundary (the panic path and the cogs read these)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from bot.memory.scope import ScopeLike

__all__ = [
    "Canon",
    "DocumentInfo",
    "ImportProgress",
    "ImportReport",
    "MemoryLimit",
    "MemoryStatus",
    "Passage",
    "ProgressFn",
    "Retriever",
    "Upload",
    "UploadLimit",
    "memory_version_key",
]

UploadLimit = Callable[[int], Awaitable[int]]  # guild id -> largest file it may import (a plan's limit)
MemoryLimit = Callable[[int], Awaitable[int | None]]  # guild id -> bytes of notes it may keep (None: no cap)
ProgressFn = Callable[["ImportProgress"], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Passage:
    """One retrieved chunk of a guild's notes, with what is needed to cite it."""

    text: str
    file: str
    heading: str  # heading path joined with " › ", "" when the document has none
    page: int | None  # 1-based page for PDFs, else None
    score: float
    document_id: str
    chunk_id: str
    player_safe: bool = False

    def citation(self) -> str:
        """Short human citation: `file › heading` or `file p. 12`."""
        if self.heading:
            return f"{self.file} › {self.heading}"
        if self.page is not None:
            return f"{self.file} p. {self.page}"
        return self.file


@dataclass(frozen=True, slots=True)
class Canon:
    """A guild's canon names by what they name, as its notes describe them. Player characters (`party`) are never
    used as NPCs; `other` are names the notes give no sign of (items, gods, events…); `names()` is every canon
    name but the party's (what an answer may reuse and must not clash with)."""

    people: tuple[str, ...] = ()
    places: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    party: tuple[str, ...] = ()
    other: tuple[str, ...] = ()

    def names(self) -> list[str]:
        """People, places, groups and other names (not the party), in that order, without repeats."""
        return list(dict.fromkeys((*self.people, *self.places, *self.groups, *self.other)))


class Retriever(Protocol):
    """What the panic path needs from campaign memory."""

    async def search(
        self,
        scope: ScopeLike,
        query: str,
        k: int = 5,
        *,
        player_safe_only: bool = False,
        context: Sequence[str] = (),
    ) -> list[Passage]:
        """Best passages for `query` (steered a little by `context`) in this campaign's notes, best first; [] when it
        has none."""

    async def roster(self, scope: ScopeLike) -> list[str]:
        """Every canon name of this campaign but the party's: `canon(scope).names()`."""

    async def canon(self, scope: ScopeLike) -> Canon:
        """This campaign's canon names by category (people, places, groups, the party)."""


def memory_version_key(guild_id: int) -> str:
    """Key-value key bumped (with `kv.incr`) whenever a guild's notes change; pools key on its value."""
    return f"campaign:{guild_id}:version"


@dataclass(frozen=True, slots=True)
class Upload:
    """One file handed to `CampaignMemory.import_files`."""

    file_name: str
    content_type: str | None
    data: bytes


@dataclass(frozen=True, slots=True)
class ImportProgress:
    """Where an import stands; sent to the progress callback after parsing and after each embedded batch."""

    file_name: str
    file_number: int  # 1-based among the files of this import
    file_count: int
    stage: Literal["parsing", "embedding", "saving", "done"]
    pages_parsed: int = 0
    pages_total: int | None = None
    chunks_embedded: int = 0
    chunks_total: int = 0


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What one import did. `outcome`: imported (new file), replaced (new version of a file), unchanged (same
    bytes as the current version: no embedding), duplicate (same bytes already imported under another name)."""

    file_name: str
    document_id: str
    kind: str
    outcome: Literal["imported", "replaced", "unchanged", "duplicate"]
    chunks: int
    pages: int | None
    size_bytes: int
    embedded: int  # chunks embedded by this import (0 when nothing had to be)
    player_safe: bool
    seconds: float
    duplicate_of: str | None = None

    @property
    def embedding_skipped(self) -> bool:
        """True when the content was already known and no embedding call was made."""
        return self.outcome in ("unchanged", "duplicate")


@dataclass(frozen=True, slots=True)
class DocumentInfo:
    """A visible document of a guild, for `/campaign list`."""

    document_id: str
    file_name: str
    kind: str
    size_bytes: int
    pages: int | None
    chunk_count: int
    player_safe: bool
    imported_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class MemoryStatus:
    """Usage and configuration of a guild's memory, for `/campaign status`."""

    embedder: str
    dimension: int
    store: str
    location: str
    documents: int
    chunks: int
    bytes: int
    vectors: int
    reindex_needed: bool
    upload_limit_bytes: int
    indexed_with: str | None = None
