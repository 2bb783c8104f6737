"""What every kind shares: the `Kind` names, the `Improv` base schema with its uniform view (`title`,
`fields()`, `text()`, `names()`), what the doors show of a kind (`KindInfo`) and a kind's registry entry
(`KindSpec`).

Each schema is what the model must return (strict JSON schema: every field required, no extras) and what the
offline tables produce. Fields are ordered useful-first: a GM glancing at the embed reads the top lines.

Each schema also marks the fields for the GM's eyes only (`gm_only`, on an `Improv` or a nested `Item`): the
doors show the table `fields("table")` (`table_view()`), which never holds them, and the GM `fields("gm")`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Self, get_args

from pydantic import BaseModel, ConfigDict

from bot.improv.kinds.common import Draw

__all__ = ["Audience", "Improv", "Item", "Kind", "KindInfo", "KindSpec", "Roller", "display"]

#: every kind's name; a new kind adds its name here and its module to the registry in `bot.improv.kinds`
Kind = Literal["npc", "location", "tavern", "encounter", "loot", "rumor", "twist", "names"]
#: who reads an answer: the GM (every field) or the table (players, the channel: no GM-only field)
Audience = Literal["gm", "table"]
#: a GM-only value at least this long is also withheld where a table field repeats it word for word
ECHO_MIN_CHARS = 16


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

    #: this item's fields for the GM's eyes only (blank when the table sees the item)
    gm_only: ClassVar[tuple[str, ...]] = ()

    def line(self) -> str:
        """One bullet line for this item."""
        raise NotImplementedError

    def for_table(self) -> Self:
        """This item with its GM-only fields blank."""
        return self.model_copy(update=dict.fromkeys(self.gm_only, ""))

    def gm_values(self) -> list[str]:
        """The non-empty values of this item's GM-only fields."""
        return [v for v in (display(getattr(self, name, "")) for name in self.gm_only) if v]


class Improv(BaseModel):
    """Base of every kind: a title plus labelled fields, rendered the same way for all kinds."""

    model_config = ConfigDict(extra="forbid")

    kind: ClassVar[Kind]
    #: field name → label shown in the embed; fields not listed here are not shown as fields.
    labels: ClassVar[dict[str, str]]
    #: fields whose value is a proper name the result introduces (checked against the canon roster).
    name_fields: ClassVar[tuple[str, ...]] = ()
    #: fields for the GM's eyes only: never shown to a player or the channel (the kind decides, not the renderer).
    gm_only: ClassVar[tuple[str, ...]] = ()

    @property
    def title(self) -> str:
        """Headline of the result."""
        raise NotImplementedError

    def fields(self, audience: Audience = "gm") -> list[tuple[str, str]]:
        """(label, value) pairs in display order, empty values skipped; for the table, no GM-only field."""
        shown = self if audience == "gm" else self.table_view()
        out: list[tuple[str, str]] = []
        for name, label in shown.labels.items():
            value = display(getattr(shown, name, ""))
            if value:
                out.append((label, value))
        return out

    def table_view(self) -> Self:
        """A copy the table may see: GM-only fields blank, GM-only item fields blank, and any table field or item
        that repeats a GM-only value word for word left out."""
        secrets = [_norm(v) for v in self.gm_values() if len(v) >= ECHO_MIN_CHARS]

        def echoes(text: str) -> bool:
            return any(s in _norm(text) for s in secrets)

        update: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name, None)
            if name in self.gm_only:
                update[name] = [] if isinstance(value, list) else ""
            elif isinstance(value, list):
                items = [v.for_table() if isinstance(v, Item) else v for v in value]
                update[name] = [v for v in items if not echoes(v.line() if isinstance(v, Item) else str(v))]
            elif isinstance(value, str) and echoes(value):
                update[name] = ""
        return self.model_copy(update=update)

    def gm_fields(self) -> list[tuple[str, str]]:
        """The GM-only part as (label, value) pairs: each GM-only field, and each list whose items carry a
        GM-only value, in full."""
        out: list[tuple[str, str]] = []
        for name, label in self.labels.items():
            value = getattr(self, name, "")
            private = name in self.gm_only or (
                isinstance(value, list) and any(isinstance(v, Item) and v.gm_values() for v in value)
            )
            shown = display(value)
            if private and shown:
                out.append((label, shown))
        return out

    def gm_values(self) -> list[str]:
        """Every non-empty GM-only value of this answer (fields and item fields), as displayed."""
        values = [v for v in (display(getattr(self, name, "")) for name in self.gm_only) if v]
        for name in type(self).model_fields:
            value = getattr(self, name, None)
            if isinstance(value, list):
                values.extend(v for item in value if isinstance(item, Item) for v in item.gm_values())
        return values

    @classmethod
    def gm_only_paths(cls) -> list[str]:
        """The schema's GM-only fields as the model sees them (`secret`, `rumors[].truth`)."""
        paths = list(cls.gm_only)
        for name, info in cls.model_fields.items():
            inner = next(iter(get_args(info.annotation)), None)
            if isinstance(inner, type) and issubclass(inner, Item):
                paths.extend(f"{name}[].{field}" for field in inner.gm_only)
        return paths

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


def _norm(text: str) -> str:
    return " ".join(text.casefold().split())


def display(value: Any) -> str:
    """A field's value as shown: text stripped, a list as bullet lines."""
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
