"""Location: a place the party just walked into."""

from __future__ import annotations

import re
from typing import ClassVar

from pydantic import Field

from bot.improv.kinds.base import Improv, Kind, KindInfo, KindSpec
from bot.improv.kinds.common import Draw, Genre
from bot.improv.kinds.subject import sentences, short, short_phrase


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


_PLACE_ADJ: dict[Genre, list[str]] = {
    "fantasy": [
        "Drowned", "Crooked", "Silent", "Gilded", "Broken", "Hollow", "Weeping", "Sunken", "Ashen", "Lantern-lit",
        "Forgotten", "Thorned", "Salt-crusted", "Moonlit", "Rusting", "Whispering", "Sleeping", "Burnt", "Painted",
    ],
    "scifi": [
        "Derelict", "Flooded", "Sealed", "Humming", "Frozen", "Overgrown", "Quarantined", "Dark", "Decompressed",
        "Abandoned", "Flickering", "Irradiated", "Silent",
    ],
    "modern": [
        "Boarded-up", "Abandoned", "Flooded", "Condemned", "Burnt-out", "Empty", "Locked", "Forgotten", "Old",
        "Crooked", "Silent", "Half-built",
    ],
}  # fmt: skip

_PLACE_NOUN: dict[Genre, list[str]] = {
    "fantasy": [
        "Mill", "Chapel", "Causeway", "Orchard", "Bell Tower", "Ferry Landing", "Quarry", "Market", "Bathhouse",
        "Watchtower", "Crossroads", "Cistern", "Library", "Smithy", "Granary", "Shrine", "Lighthouse", "Archive",
    ],
    "scifi": [
        "Cargo Bay", "Hydroponics Deck", "Relay Station", "Med-Bay", "Reactor Annex", "Observation Dome",
        "Mining Platform", "Crew Quarters", "Shuttle Hangar", "Server Vault", "Airlock Junction", "Research Lab",
    ],
    "modern": [
        "Motel", "Hospital Wing", "Drive-in", "Farmhouse", "Church", "Gas Station", "Mill", "School", "Asylum",
        "Warehouse", "Lake House", "Radio Station",
    ],
}  # fmt: skip

_IMPRESSIONS: dict[Genre, list[str]] = {
    "fantasy": [
        "Cold air that smells of wet stone and old smoke.", "Wind chimes made of bone clatter overhead.",
        "Everything is covered in a fine red dust.", "Candles burn in every window, but nobody answers.",
        "The floor slopes, as if the place is slowly sinking.", "Birdsong stops the moment you enter.",
        "Warm light, bread smell, and a guard dog that won't stop staring.", "A drowned bell rings somewhere below.",
        "Fresh flowers on a grave with no name.", "Chalk marks on every doorframe, counting something.",
        "Fog pools ankle-deep and flows uphill.", "The air tastes of copper and rain.",
    ],
    "scifi": [
        "Recycled air that smells of ozone and burnt wiring.", "Emergency lighting paints everything red.",
        "Frost on the inside of the viewports.", "A maintenance drone circles, waiting for orders.",
        "The gravity is a little wrong here.", "Every screen shows the same frozen frame.",
        "Plants have grown through the floor grilles.", "A klaxon muted to a soft, endless chirp.",
    ],
    "modern": [
        "Dust sheets over everything and one chair uncovered.", "A radio playing softly in an empty room.",
        "The smell of bleach over something worse.", "Fresh tyre tracks in the mud outside.",
        "Every clock has stopped at 3:12.", "Fluorescent lights buzz and one flickers.",
        "Children's drawings taped to the windows, facing out.", "It is colder inside than out.",
    ],
}  # fmt: skip

_DETAILS: dict[Genre, list[str]] = {
    "fantasy": [
        "a cracked mosaic of a three-eyed saint", "a rope bridge with new knots in old rope",
        "a locked chest bolted to the ceiling", "a well that echoes a second too late", "muddy boot prints that end at a wall",
        "a statue with its face chiselled off", "an abandoned meal, still warm", "a ledger with the last page torn out",
        "a door painted over many times", "a shrine where coins are left face-down", "a collapsed stair with a hidden landing",
        "a cage, open, sized for a child", "a mural that changes when no one watches", "a tidy bedroll beside a fresh fire",
        "hooks hung with lanterns of green glass", "a pool of still water reflecting stars by day",
    ],
    "scifi": [
        "a terminal still logged in", "a crew roster with one name scratched out", "a pressure door welded shut",
        "a cryo-pod, open and warm", "boot prints in spilled coolant", "a child's toy floating in zero-g",
        "a cargo manifest that lists something alive", "a wall of personal lockers, all open",
        "a security camera that follows you", "an escape pod bay with one pod missing",
    ],
    "modern": [
        "a guest book with the last week torn out", "a locked basement door with new hinges",
        "muddy boots by the door, still wet", "a wall of newspaper clippings", "a phone off the hook",
        "a car in the garage with the engine warm", "a child's bedroom kept exactly as it was",
        "a freezer padlocked shut", "photographs with one face scratched out", "a calendar with a date circled in red",
    ],
}  # fmt: skip

_DANGERS: dict[Genre, list[str]] = {
    "fantasy": [
        "rotten floorboards over a long drop", "a patient ambush waiting for the third visitor",
        "spores that cause vivid lies", "a swarm nesting in the rafters", "a guardian construct that only obeys passwords",
        "rising water at high tide", "a cursed object that whispers promises", "bandits using it as a toll point",
        "a sinkhole that opens at noise", "a hungry thing sealed in the cellar, almost free",
    ],
    "scifi": [
        "a hull breach waiting to happen", "a security system still on lockdown protocol", "radiation in the lower level",
        "a scavenger crew that got here first", "a sealed lab with something still moving", "failing life support",
    ],
    "modern": [
        "a floor that won't hold much weight", "someone still living here", "a dog that hasn't been fed in days",
        "the police on their way", "gas leaking somewhere", "the thing in the walls",
    ],
}  # fmt: skip

_LOC_SECRETS: dict[Genre, list[str]] = {
    "fantasy": [
        "a passage to the sewers behind the altar", "the owner died years ago and someone took their place",
        "a cache of forged coins under a loose stone", "the place is a prison for a minor spirit",
        "a smuggler's signal lamp in the highest window", "a map scratched into the underside of a table",
        "the dead here are not buried, only hidden", "a door that opens only for those who knock backwards",
    ],
    "scifi": [
        "a hidden data core with the real logs", "a stowaway living in the ducts", "the quarantine was faked",
        "a second airlock not on any schematic", "the crew were moved, not lost",
    ],
    "modern": [
        "a room not on the floor plan", "the deed is in a dead man's name", "a tunnel to the house next door",
        "a box of tapes under the floorboards", "the last owner never left",
    ],
}  # fmt: skip

_LOC_HOOKS: dict[Genre, list[str]] = {
    "fantasy": [
        "someone the party needs was last seen here", "a reward is posted for whatever lives below",
        "it is on the only road out", "a PC dreamed of this exact place", "the locals refuse to say why it's empty",
        "it holds the missing piece of an earlier clue",
    ],
    "scifi": [
        "the signal the party is chasing comes from here", "it is the only way to the shuttle bay",
        "salvage rights go to whoever gets in first", "a PC's old unit was stationed here",
    ],
    "modern": [
        "the missing person's phone last pinged here", "it is for sale, cheap, again",
        "a PC remembers it from childhood", "the police report about it is missing",
    ],
}  # fmt: skip

_DANGER_CUE = re.compile(
    r"\b(collaps\w*|died|dead|danger\w*|knock\w*|guard\w*|trap\w*|threat\w*|fire|flood\w*|beast|monster|"
    r"nobody who|never came back|brittle|sealed)\b",
    re.IGNORECASE,
)
_SECRET_CUE = re.compile(r"\b(secret\w*|hid\w*|conceal\w*|nobody knows|no one knows|locked|to the right)\b", re.I)


def _from_notes(d: Draw, text: str) -> dict[str, object]:
    """First impression, details, danger and secret of a canon place, from its passage's sentences."""
    lines = [short(s, 150) for s in sentences(text)]
    if not lines:
        return {}
    found: dict[str, object] = {"first_impression": lines[0]}
    rest = lines[1:]
    if secret := next((s for s in rest if _SECRET_CUE.search(s)), ""):
        found["secret"] = secret
        rest.remove(secret)
    if danger := next((s for s in rest if _DANGER_CUE.search(s)), ""):
        found["danger"] = danger
        rest.remove(danger)
    if rest:
        found["details"] = rest[:3] + d.sample(_DETAILS, max(0, 2 - len(rest)))
    return found


def roll(d: Draw) -> Location:
    """A place from the tables; the canon place the details name, described from its notes."""
    s = d.subject
    values: dict[str, object] = {
        "first_impression": d.pick(_IMPRESSIONS),
        "details": d.sample(_DETAILS, 3),
        "danger": d.pick(_DANGERS),
        "secret": d.pick(_LOC_SECRETS),
    }
    hook = d.pick(_LOC_HOOKS)
    if tie := d.weave(person="{} has an interest in it", group="{} has an interest in it", place="it lies near {}"):
        hook = f"{hook} — and {tie}"
    name = d.compose(lambda: f"The {d.rng.choice(d.options(_PLACE_ADJ))} {d.rng.choice(d.options(_PLACE_NOUN))}")
    if s.within:
        name = s.name  # a part of the setting the notes file things under: who and what is found there
        values["details"] = [p.heading.split("›")[-1].strip() for p in s.within[:3]]
    elif s.category in ("place", "tavern", "group") and s.passage is not None:
        name = s.name  # the canon place the details name
        values.update(_from_notes(d, s.text))
    elif s.given:
        name = s.name
    elif phrase := short_phrase(d.details, 5):
        name = f"{name}: {phrase}"
    return Location.model_validate({"name": name, "hook": hook, **values})


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
