"""The eight kinds of improvisation and their structured-output schemas.

Each schema is what the model must return (strict JSON schema: every field required, no extras) and what the
offline tables produce. One uniform view (`title`, `fields()`, `text()`, `names()`) lets one renderer show any
kind. Fields are ordered useful-first: a GM glancing at the embed reads the top lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "KINDS",
    "KIND_INFO",
    "KIND_LABELS",
    "NPC",
    "Encounter",
    "Improv",
    "Kind",
    "KindInfo",
    "Location",
    "Loot",
    "LootItem",
    "NameEntry",
    "Names",
    "Rumor",
    "RumorEntry",
    "Tavern",
    "Twist",
    "parse_kind",
    "partial_improv",
    "schema_for",
]

Kind = Literal["npc", "location", "tavern", "encounter", "loot", "rumor", "twist", "names"]
KINDS: tuple[Kind, ...] = get_args(Kind)


@dataclass(frozen=True, slots=True)
class KindInfo:
    """What the doors show of a kind: its label, the slash command's description, the `details` option's hint and
    an example request (for help texts and docs)."""

    label: str
    description: str
    details_hint: str
    example_details: str


KIND_INFO: dict[Kind, KindInfo] = {
    "npc": KindInfo(
        "NPC",
        "A character you can voice right now",
        "Who? e.g. the blacksmith in Emberfall",
        "the blacksmith in Emberfall",
    ),
    "location": KindInfo(
        "Location",
        "A place the party just walked into",
        "Where? e.g. a flooded crypt under the chapel",
        "a flooded crypt under the chapel",
    ),
    "tavern": KindInfo(
        "Tavern",
        "An inn with a keeper, patrons and a rumor",
        "Anything it must have, e.g. a dockside dive",
        "a dockside dive",
    ),
    "encounter": KindInfo(
        "Encounter",
        "A fight or standoff ready to run",
        "Where and against whom, e.g. bandits at the ford",
        "bandits at the ford",
    ),
    "loot": KindInfo(
        "Loot", "What is in the chest", "Whose or where, e.g. the smuggler's strongbox", "the smuggler's strongbox"
    ),
    "rumor": KindInfo(
        "Rumors", "Three rumors, true and false", "About what, e.g. the missing heir", "the missing heir"
    ),
    "twist": KindInfo(
        "Plot twist",
        "A plot twist for this scene",
        "The scene, e.g. the party just got paid",
        "the party just got paid",
    ),
    "names": KindInfo("Names", "Six names that fit", "For whom, e.g. dwarven miners", "dwarven miners"),
}
KIND_LABELS: dict[Kind, str] = {kind: info.label for kind, info in KIND_INFO.items()}


class _Item(BaseModel):
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
            value = _display(getattr(self, name, ""))
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


def _display(value: Any) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list):
        lines = [item.line() if isinstance(item, _Item) else str(item).strip() for item in value]
        return "\n".join(f"• {line}" for line in lines if line)
    return "" if value is None else str(value)


class NPC(Improv):
    """A non-player character the GM can voice right now."""

    kind: ClassVar[Kind] = "npc"
    labels: ClassVar[dict[str, str]] = {
        "look": "Look",
        "voice": "Voice",
        "want": "Wants",
        "secret": "Secret",
        "hook": "Hook",
    }
    name_fields: ClassVar[tuple[str, ...]] = ("name",)

    name: str = Field(description="Full name, reusing a canon name only if this IS that canon character")
    role: str = Field(description="Occupation or role in 2-5 words")
    look: str = Field(description="One vivid visual detail")
    voice: str = Field(description="Voice or mannerism the GM can perform")
    want: str = Field(description="What they want right now")
    secret: str = Field(description="Something they hide")
    hook: str = Field(description="How they pull the party into the campaign")

    @property
    def title(self) -> str:
        return f"{self.name} — {self.role}" if self.name and self.role else self.name or self.role


class Location(Improv):
    """A place the party just walked into."""

    kind: ClassVar[Kind] = "location"
    labels: ClassVar[dict[str, str]] = {
        "first_impression": "First impression",
        "details": "Details",
        "danger": "Danger",
        "secret": "Secret",
        "hook": "Hook",
    }
    name_fields: ClassVar[tuple[str, ...]] = ("name",)

    name: str = Field(description="Name of the place")
    first_impression: str = Field(description="What the senses hit first")
    details: list[str] = Field(description="Two or three concrete details to describe or interact with")
    danger: str = Field(description="A threat or complication here")
    secret: str = Field(description="What is hidden here")
    hook: str = Field(description="Why the party should care")

    @property
    def title(self) -> str:
        return self.name


class Tavern(Improv):
    """An inn or tavern with a keeper, regulars and something on the menu."""

    kind: ClassVar[Kind] = "tavern"
    labels: ClassVar[dict[str, str]] = {
        "vibe": "Vibe",
        "keeper": "Keeper",
        "patrons": "Patrons",
        "menu": "On the menu",
        "rumor": "Overheard",
    }
    name_fields: ClassVar[tuple[str, ...]] = ("name", "keeper_name")

    name: str = Field(description="Name of the tavern")
    vibe: str = Field(description="Atmosphere in one sentence")
    keeper_name: str = Field(description="The keeper's name")
    keeper: str = Field(description="The keeper: name, look and manner in one sentence")
    patrons: list[str] = Field(description="Two or three notable patrons, one line each")
    menu: str = Field(description="House specialty and its price")
    rumor: str = Field(description="A rumor overheard at the bar")

    @property
    def title(self) -> str:
        return self.name


class Encounter(Improv):
    """A scene of conflict ready to run."""

    kind: ClassVar[Kind] = "encounter"
    labels: ClassVar[dict[str, str]] = {
        "situation": "Situation",
        "foes": "Foes",
        "terrain": "Terrain",
        "tactics": "Tactics",
        "twist": "Twist",
        "reward": "Reward",
    }

    name: str = Field(description="Short evocative title of the encounter")
    situation: str = Field(description="What the party sees as it starts")
    foes: list[str] = Field(description="Opponents with number and one trait each")
    terrain: str = Field(description="A terrain feature that matters")
    tactics: str = Field(description="How the foes fight or what they want")
    twist: str = Field(description="What changes halfway through")
    reward: str = Field(description="What winning or talking earns")

    @property
    def title(self) -> str:
        return self.name


class LootItem(_Item):
    """One found item."""

    name: str = Field(description="Item name")
    description: str = Field(description="What it looks like or does, one sentence")
    value: str = Field(description="Rough worth in the game's currency")

    def line(self) -> str:
        parts = [f"**{self.name}**" if self.name else "", self.description, f"({self.value})" if self.value else ""]
        return " ".join(p for p in parts if p)


class Loot(Improv):
    """What is in the chest, the pockets or the hoard."""

    kind: ClassVar[Kind] = "loot"
    labels: ClassVar[dict[str, str]] = {"items": "Items", "curiosity": "Curiosity"}

    name: str = Field(description="Where the loot is found, as a short title")
    items: list[LootItem] = Field(description="Two to four items, most interesting first")
    curiosity: str = Field(description="One odd object that hints at a story")

    @property
    def title(self) -> str:
        return self.name


class RumorEntry(_Item):
    """One rumor and how true it is."""

    text: str = Field(description="The rumor as a patron would say it")
    truth: Literal["true", "false", "partly true"] = Field(description="How true it is (GM eyes only)")
    source: str = Field(description="Who tells it")

    def line(self) -> str:
        bits = [f"“{self.text}”" if self.text else "", f"— {self.source}" if self.source else ""]
        head = " ".join(b for b in bits if b)
        return f"{head} *({self.truth})*" if self.truth else head


class Rumor(Improv):
    """Rumors the party can hear."""

    kind: ClassVar[Kind] = "rumor"
    labels: ClassVar[dict[str, str]] = {"rumors": "Rumors"}

    name: str = Field(description="Where or about what the rumors are heard, as a short title")
    rumors: list[RumorEntry] = Field(description="Three rumors of mixed truth")

    @property
    def title(self) -> str:
        return self.name


class Twist(Improv):
    """A plot twist to drop into the current scene."""

    kind: ClassVar[Kind] = "twist"
    labels: ClassVar[dict[str, str]] = {
        "twist": "Twist",
        "reveal": "How it's revealed",
        "consequence": "Consequence",
        "foreshadowing": "Foreshadow earlier",
    }

    name: str = Field(description="Short title of the twist")
    twist: str = Field(description="What is suddenly true")
    reveal: str = Field(description="How the players find out, at the table")
    consequence: str = Field(description="What it changes for the party")
    foreshadowing: str = Field(description="A clue to have planted or plant next")

    @property
    def title(self) -> str:
        return self.name


class NameEntry(_Item):
    """One name with a note."""

    name: str = Field(description="The name")
    note: str = Field(description="Who or what might bear it, a few words")

    def line(self) -> str:
        return f"**{self.name}** — {self.note}" if self.note else self.name


class Names(Improv):
    """A handful of names that fit the setting."""

    kind: ClassVar[Kind] = "names"
    labels: ClassVar[dict[str, str]] = {"entries": "Names"}

    name: str = Field(description="What the names are for, as a short title")
    entries: list[NameEntry] = Field(description="Six fitting names, none equal to a canon name")

    @property
    def title(self) -> str:
        return self.name

    def names(self) -> list[str]:
        return [e.name.strip() for e in self.entries if e.name.strip()]


_SCHEMAS: dict[Kind, type[Improv]] = {
    cls.kind: cls for cls in (NPC, Location, Tavern, Encounter, Loot, Rumor, Twist, Names)
}


def schema_for(kind: Kind) -> type[Improv]:
    """The pydantic schema of `kind`."""
    return _SCHEMAS[kind]


def parse_kind(value: str) -> Kind:
    """`value` as a kind, case-insensitive; `ValueError` naming the kinds otherwise."""
    text = value.strip().lower()
    if text == "rumors":
        text = "rumor"
    for kind in KINDS:
        if kind == text:
            return kind
    raise ValueError(f"unknown kind {value!r}; choose one of {', '.join(KINDS)}")


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _partial_value(annotation: Any, value: Any) -> Any:
    """A lenient copy of a partially streamed value."""
    if isinstance(value, list):
        args = get_args(annotation)
        inner = args[0] if args else str
        if isinstance(inner, type) and issubclass(inner, _Item):
            return [
                inner.model_construct(None, **{k: _text(item.get(k)) for k in inner.model_fields})
                for item in value
                if isinstance(item, dict)
            ]
        return [str(v) for v in value if isinstance(v, str | int | float)]
    if isinstance(value, str):
        return value
    return None


def partial_improv(kind: Kind, data: dict[str, Any]) -> Improv:
    """An unvalidated `Improv` from a partially streamed JSON object (missing fields empty), for display only."""
    schema = _SCHEMAS[kind]
    values: dict[str, Any] = {}
    for name, info in schema.model_fields.items():
        raw = _partial_value(info.annotation, data.get(name))
        if raw is None:
            origin_is_list = "list" in str(info.annotation)
            raw = [] if origin_is_list else ""
        values[name] = raw
    return schema.model_construct(**values)
