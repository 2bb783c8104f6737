"""The kinds of improvisation: the registry of every kind's spec (`KIND_SPECS`) and the views the rest of the
code reads (`KINDS`, `KIND_INFO`, `KIND_LABELS`, `schema_for`, `parse_kind`, `partial_improv`).

Each kind lives in its own module (schema, `KindInfo`, prompt brief, offline tables and roller). Adding a kind:
write its module, add its name to `Kind` (`bot.improv.kinds.base`) and its `SPEC` to `KIND_SPECS` below.
"""

from __future__ import annotations

from typing import Any, get_args

from bot.improv.kinds import encounter, location, loot, names, npc, rumor, tavern, twist
from bot.improv.kinds.base import Improv, Item, Kind, KindInfo, KindSpec
from bot.improv.kinds.encounter import Encounter
from bot.improv.kinds.location import Location
from bot.improv.kinds.loot import Loot, LootItem
from bot.improv.kinds.names import NameEntry, Names
from bot.improv.kinds.npc import NPC
from bot.improv.kinds.rumor import Rumor, RumorEntry
from bot.improv.kinds.tavern import Tavern
from bot.improv.kinds.twist import Twist

__all__ = [
    "KINDS",
    "KIND_INFO",
    "KIND_LABELS",
    "KIND_SPECS",
    "NPC",
    "Encounter",
    "Improv",
    "Kind",
    "KindInfo",
    "KindSpec",
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

KINDS: tuple[Kind, ...] = get_args(Kind)
KIND_SPECS: dict[Kind, KindSpec] = {
    spec.kind: spec
    for spec in (npc.SPEC, location.SPEC, tavern.SPEC, encounter.SPEC, loot.SPEC, rumor.SPEC, twist.SPEC, names.SPEC)
}
KIND_INFO: dict[Kind, KindInfo] = {kind: KIND_SPECS[kind].info for kind in KINDS}
KIND_LABELS: dict[Kind, str] = {kind: info.label for kind, info in KIND_INFO.items()}


def schema_for(kind: Kind) -> type[Improv]:
    """The pydantic schema of `kind`."""
    return KIND_SPECS[kind].schema


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
        if isinstance(inner, type) and issubclass(inner, Item):
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
    schema = KIND_SPECS[kind].schema
    values: dict[str, Any] = {}
    for name, info in schema.model_fields.items():
        raw = _partial_value(info.annotation, data.get(name))
        if raw is None:
            origin_is_list = "list" in str(info.annotation)
            raw = [] if origin_is_list else ""
        values[name] = raw
    return schema.model_construct(**values)
