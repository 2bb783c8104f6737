"""Plain values that cross the campaign-memory boundary (the panic path and the cogs read these)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Passage", "Retriever", "memory_version_key"]


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


class Retriever(Protocol):
    """What the panic path needs from campaign memory."""

    async def search(
        self,
        guild_id: int,
        query: str,
        k: int = 5,
        *,
        player_safe_only: bool = False,
        context: Sequence[str] = (),
    ) -> list[Passage]:
        """Best passages for `query` (steered a little by `context`) in this guild's notes, best first; [] when it
        has none."""

    async def roster(self, guild_id: int) -> list[str]:
        """Canon proper names of this guild's campaign (headings and recurring proper nouns)."""


def memory_version_key(guild_id: int) -> str:
    """Key-value key bumped (with `kv.incr`) whenever a guild's notes change; pools key on its value."""
    return f"campaign:{guild_id}:version"
