"""Loot: what is in the chest, the pockets or the hoard."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import ClassVar

from pydantic import Field

from bot.improv.kinds.base import Improv, Item, Kind, KindInfo, KindSpec
from bot.improv.kinds.common import Avoid, Focus, canon_or, title_context


class LootItem(Item):
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


_LOOT_PLACES = [
    "The Bandit's Strongbox",
    "A Dead Courier's Satchel",
    "Under the Altar Stone",
    "The Collector's Shelf",
    "A Drowned Sailor's Pockets",
    "The Ogre's Hoard",
    "A Noble's Hidden Drawer",
    "Behind the Loose Brick",
]

_LOOT_ITEMS = [
    ("Whistle of the Lost Hound", "a bone whistle; any dog that hears it follows you for an hour", "25 gp"),
    ("Candle of Honest Flame", "burns blue when a lie is spoken near it", "60 gp"),
    ("Cartographer's Compass", "points toward the nearest unmapped place", "40 gp"),
    ("Silvered Dagger", "balanced, inscribed 'for the long night'", "15 gp"),
    ("Jar of Storm Salt", "thrown, it crackles with a small thunderclap", "20 gp"),
    ("Ring of the Second Face", "once a day, your reflection winks back and lies for you", "80 gp"),
    ("Pouch of Foreign Coins", "heavy, old, stamped with a crown nobody recognises", "12 gp"),
    ("Boots of Quiet Steps", "soft soles, muffling footfalls on stone", "50 gp"),
    ("Letter of Credit", "for a bank that closed a century ago", "1 gp"),
    ("Potion of Borrowed Courage", "fearless for a minute, shaky for an hour", "30 gp"),
    ("Clockwork Beetle", "wind it up and it finds the nearest keyhole", "35 gp"),
    ("Moth-Eaten Banner", "of a mercenary company thought destroyed", "5 gp"),
    ("Bag of Everburning Coals", "warm for a week, never lights anything", "10 gp"),
    ("Pearl of Small Breath", "hold it in your mouth to breathe underwater for a minute", "45 gp"),
]

_CURIOSITIES = [
    "a doll with one of the PCs' faces stitched on",
    "a love letter signed by the villain",
    "a tooth in a silver locket",
    "a child's drawing of a door that isn't there",
    "a key made of ice that doesn't melt",
    "a list of names, two crossed out",
    "a wax seal from a temple that burned down",
    "a music box that plays a song a PC's mother sang",
]


def roll(rng: random.Random, canon: Sequence[str], details: str, avoid: Avoid, focus: Focus | None) -> Loot:
    """Loot from the tables, titled with where the details say it is found."""
    items = [LootItem(name=n, description=d, value=v) for n, d, v in rng.sample(_LOOT_ITEMS, 3)]
    curiosity = rng.choice(_CURIOSITIES)
    if canon:
        curiosity = f"{curiosity}, marked with the sign of {canon_or(rng, canon, '')}"
    name = rng.choice(_LOOT_PLACES)
    if context := title_context(details, None):
        name = context  # where the GM said it is found
    return Loot(name=name, items=items, curiosity=curiosity)


SPEC = KindSpec(
    kind="loot",
    info=KindInfo(
        "Loot", "What is in the chest", "Whose or where, e.g. the smuggler's strongbox", "the smuggler's strongbox"
    ),
    schema=Loot,
    brief="loot the party finds",
    roll=roll,
)
