"""What every kind shares: the `Kind` names, the `Improv` base schema with its uniform view (`title`,
`fields()`, `text()`, `names()`), what the doors show of a kind (`KindInfo`) and a kind's registry entry
(`KindSpec`).

Each schema is what the model must return (strict JSON schema: every field required, no extras) and what the
offline tables produce. Fields are ordered useful-first: a GM glancing at the embed reads the top lines.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from bot.improv.kinds.common import Draw

__all__ = ["Improv", "Item", "Kind", "KindInfo", "KindSpec", "Roller", "display"]

#: every kind's name; a new kind adds its name here and its module to the registry in `bot.improv.kinds`
Kind = Literal["npc", "location", "tavern", "encounter", "loot", "rumor", "twist", "names"]


@dataclass(frozen=True, slots=True)
class KindInfo:
    """What the doors show of a kind: its label, the slash command's description, the `details` option's hint and
    an example request (for help texts and docs)."""

    label: str
    description: str
    details_hint: str
    example_details: str


class Item(BaseModel):
    """A nested list item; strict like its parent."""

    model_config = ConfigDict(extra="forbid")

    def line(self) -> str:
        """One bullet line for this item."""
        raise NotImplementedError


class Improv(BaseModel):
    """Base of every kind: a title plus labelled fields, rendered the same way for all kinds."""

    model_config = ConfigDict(extra="forbid")

    kind: ClassVar[Kind]
    #: field name → label shown in the embed; fields not listed here are not shown as fields.
    labels: ClassVar[dict[str, str]]
    #: fields whose value is a proper name the result introduces (checked against the canon roster).
    name_fields: ClassVar[tuple[str, ...]] = ()

    @property
    def title(self) -> str:
        """Headline of the result."""
        raise NotImplementedError

    def fields(self) -> list[tuple[str, str]]:
        """(label, value) pairs in display order, empty values skipped."""
        out: list[tuple[str, str]] = []
        for name, label in self.labels.items():
            value = display(getattr(self, name, ""))
            if value:
                out.append((label, value))
        return out

    def text(self) -> str:
        """All body text: the title then one `label: value` line per field."""
        lines = [self.title] if self.title else []
        lines.extend(f"{label}: {value}" for label, value in self.fields())
        return "\n".join(lines)

    def names(self) -> list[str]:
        """Proper names this result introduces in its name fields."""
        found: list[str] = []
        for name in self.name_fields:
            value = getattr(self, name, "")
            if isinstance(value, str) and value.strip():
                found.append(value.strip())
        return found

    def word_count(self) -> int:
        """Words of body text (the length setting counts these)."""
        return len(self.text().split())


def display(value: Any) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list):
        lines = [item.line() if isinstance(item, Item) else str(item).strip() for item in value]
        return "\n".join(f"• {line}" for line in lines if line)
    return "" if value is None else str(value)


#: an offline-table roller: one `Draw` (rng, typed canon, details, subject, table set, recent answers) -> answer
Roller = Callable[[Draw], Improv]


@dataclass(frozen=True, slots=True)
class KindSpec:
    """One kind, everything about it in one place: what the doors show (`info`), the structured-output `schema`,
    the prompt's `brief` (what the GM needs, completing "You help a game master who needs …") and the offline
    table roller (`roll`)."""

    kind: Kind
    info: KindInfo
    schema: type[Improv]
    brief: str
    roll: Roller
