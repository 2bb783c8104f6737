"""Location: a place the party just walked into."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import ClassVar

from pydantic import Field

from bot.improv.kinds.base import Improv, Kind, KindInfo, KindSpec
from bot.improv.kinds.common import Avoid, Focus, canon_or, title_context


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
    gm_only: ClassVar[tuple[str, ...]] = ("danger", "secret")  # a hidden threat and what is hidden

    name: str = Field(description="Name of the place")
    first_impression: str = Field(description="What the senses hit first")
    details: list[str] = Field(description="Two or three concrete details to describe or interact with")
    danger: str = Field(description="A threat or complication here")
    secret: str = Field(description="What is hidden here")
    hook: str = Field(description="Why the party should care")

    @property
    def title(self) -> str:
        return self.name


_PLACE_ADJ = [
    "Drowned",
    "Crooked",
    "Silent",
    "Gilded",
    "Broken",
    "Hollow",
    "Weeping",
    "Sunken",
    "Ashen",
    "Lantern-lit",
    "Forgotten",
    "Thorned",
    "Salt-crusted",
    "Moonlit",
    "Rusting",
    "Whispering",
    "Sleeping",
    "Burnt",
    "Painted",
]

_PLACE_NOUN = [
    "Mill",
    "Chapel",
    "Causeway",
    "Orchard",
    "Bell Tower",
    "Ferry Landing",
    "Quarry",
    "Market",
    "Bathhouse",
    "Watchtower",
    "Crossroads",
    "Cistern",
    "Library",
    "Smithy",
    "Granary",
    "Shrine",
    "Lighthouse",
    "Archive",
]

_IMPRESSIONS = [
    "Cold air that smells of wet stone and old smoke.",
    "Wind chimes made of bone clatter overhead.",
    "Everything is covered in a fine red dust.",
    "Candles burn in every window, but nobody answers.",
    "The floor slopes, as if the place is slowly sinking.",
    "Birdsong stops the moment you enter.",
    "Warm light, bread smell, and a guard dog that won't stop staring.",
    "A drowned bell rings somewhere below.",
    "Fresh flowers on a grave with no name.",
    "Chalk marks on every doorframe, counting something.",
    "Fog pools ankle-deep and flows uphill.",
    "The air tastes of copper and rain.",
]

_DETAILS = [
    "a cracked mosaic of a three-eyed saint",
    "a rope bridge with new knots in old rope",
    "a locked chest bolted to the ceiling",
    "a well that echoes a second too late",
    "muddy boot prints that end at a wall",
    "a statue with its face chiselled off",
    "an abandoned meal, still warm",
    "a ledger with the last page torn out",
    "a door painted over many times",
    "a shrine where coins are left face-down",
    "a collapsed stair with a hidden landing",
    "a cage, open, sized for a child",
    "a mural that changes when no one watches",
    "a tidy bedroll beside a fresh fire",
    "hooks hung with lanterns of green glass",
    "a pool of still water reflecting stars by day",
]

_DANGERS = [
    "rotten floorboards over a long drop",
    "a patient ambush waiting for the third visitor",
    "spores that cause vivid lies",
    "a swarm nesting in the rafters",
    "a guardian construct that only obeys passwords",
    "rising water at high tide",
    "a cursed object that whispers promises",
    "bandits using it as a toll point",
    "a sinkhole that opens at noise",
    "a hungry thing sealed in the cellar, almost free",
]

_LOC_SECRETS = [
    "a passage to the sewers behind the altar",
    "the owner died years ago and someone took their place",
    "a cache of forged coins under a loose stone",
    "the place is a prison for a minor spirit",
    "a smuggler's signal lamp in the highest window",
    "a map scratched into the underside of a table",
    "the dead here are not buried, only hidden",
    "a door that opens only for those who knock backwards",
]

_LOC_HOOKS = [
    "someone the party needs was last seen here",
    "a reward is posted for whatever lives below",
    "it is on the only road out",
    "a PC dreamed of this exact place",
    "the locals refuse to say why it's empty",
    "it holds the missing piece of an earlier clue",
]


def roll(rng: random.Random, canon: Sequence[str], details: str, avoid: Avoid, focus: Focus | None) -> Location:
    """A place from the tables; the canon place when the details point at its passage."""
    hook = rng.choice(_LOC_HOOKS)
    if canon:
        hook = f"{hook} — and {canon_or(rng, canon, '')} has an interest in it"
    name = f"The {rng.choice(_PLACE_ADJ)} {rng.choice(_PLACE_NOUN)}"
    if focus is not None and not focus.person:
        name = focus.leaf  # the canon place the details point at
    elif context := title_context(details, focus):
        name = f"{name} — {context}"
    return Location(
        name=name,
        first_impression=rng.choice(_IMPRESSIONS),
        details=rng.sample(_DETAILS, 3),
        danger=rng.choice(_DANGERS),
        secret=rng.choice(_LOC_SECRETS),
        hook=hook,
    )


SPEC = KindSpec(
    kind="location",
    info=KindInfo(
        "Location",
        "A place the party just walked into",
        "Where? e.g. a flooded crypt under the chapel",
        "a flooded crypt under the chapel",
    ),
    schema=Location,
    brief="a location the party just reached",
    roll=roll,
)
