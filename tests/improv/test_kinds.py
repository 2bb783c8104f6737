"""The kind registry: every kind is complete in its own module (schema, info, brief, roller)."""

from __future__ import annotations

import random

import pytest

from bot.improv.kinds import KIND_INFO, KIND_SPECS, KINDS, Kind, KindSpec, parse_kind
from bot.improv.kinds.common import Draw
from bot.improv.prompts import Style, build_prompt
from bot.memory.types import Canon


def test_every_kind_is_registered_once() -> None:
    assert tuple(KIND_SPECS) == KINDS
    assert all(spec.kind == kind for kind, spec in KIND_SPECS.items())


@pytest.mark.parametrize("kind", KINDS)
def test_registered_kind_has_schema_brief_roller_and_a_short_description(kind: Kind) -> None:
    spec: KindSpec = KIND_SPECS[kind]
    assert spec.schema.kind == kind
    assert spec.brief.strip()
    assert spec.info is KIND_INFO[kind]
    assert spec.info.label.strip()
    assert spec.info.details_hint.strip()
    assert spec.info.example_details.strip()
    assert 1 <= len(spec.info.description) <= 100  # Discord's limit for a command description
    rolled = spec.roll(Draw(random.Random(11), Canon(places=("Emberfall",)), spec.info.example_details))
    assert isinstance(rolled, spec.schema)
    spec.schema.model_validate(rolled.model_dump())


@pytest.mark.parametrize("kind", KINDS)
def test_the_prompt_asks_for_the_kinds_brief(kind: Kind) -> None:
    prompt = build_prompt(kind, "", Style())
    assert KIND_SPECS[kind].brief in prompt.system


def test_parse_kind_accepts_every_registered_kind_and_refuses_others() -> None:
    assert [parse_kind(kind.upper()) for kind in KINDS] == list(KINDS)
    with pytest.raises(ValueError, match="unknown kind"):
        parse_kind("dragon")
