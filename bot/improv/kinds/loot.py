"""Loot: what is in the chest, the pockets or the hoard."""

from __future__ import annotations

import re
from typing import ClassVar

from pydantic import Field

from bot.improv.kinds.base import Improv, Item, Kind, KindInfo, KindSpec
from bot.improv.kinds.common import Draw, Genre
from bot.improv.kinds.subject import short_phrase


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


_LOOT_PLACES: dict[Genre, list[str]] = {
    "fantasy": [
        "The Bandit's Strongbox", "A Dead Courier's Satchel", "Under the Altar Stone", "The Collector's Shelf",
        "A Drowned Sailor's Pockets", "The Ogre's Hoard", "A Noble's Hidden Drawer", "Behind the Loose Brick",
        "A Smuggler's False-bottomed Crate", "The Abbot's Reliquary", "A Merchant's Money Belt", "The Old Well Bucket",
    ],
    "scifi": [
        "A Derelict's Locker", "The Smuggler's Hidden Panel", "A Dead Pilot's Flight Case", "The Quartermaster's Cage",
        "A Cryo-Pod Compartment", "The Captain's Safe", "A Scavenger's Backpack", "Behind the Vent Grille",
    ],
    "modern": [
        "A Safe-deposit Box", "The Glovebox", "Under the Floorboards", "A Dead Man's Briefcase", "The Attic Trunk",
        "A Locker at the Bus Station", "Behind the Bookcase", "The Pawn Shop's Back Room",
    ],
}  # fmt: skip

_LOOT_ITEMS: dict[Genre, list[tuple[str, str, str]]] = {
    "fantasy": [
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
    ],
    "scifi": [
        ("Encrypted Data Slate", "locked to a dead officer's thumbprint", "400 cr"),
        ("Military Stim Injector", "two doses left, label scratched off", "150 cr"),
        ("Spoofed ID Chip", "good for one more border scan", "600 cr"),
        ("Gravity Anchor", "sticks to any hull plate, holds a person", "220 cr"),
        ("Antique Pocket Watch", "from Earth, still ticking", "900 cr"),
        ("Drone Control Puck", "bonded to a drone nobody has found yet", "300 cr"),
        ("Sealed Sample Tube", "something in it moves when warmed", "?"),
        ("Credit Stick", "anonymous, half full", "250 cr"),
        ("Mag-Pistol", "compact, serial number filed off", "350 cr"),
        ("Star Chart Fragment", "marks a jump point that isn't on public maps", "800 cr"),
    ],
    "modern": [
        ("Roll of Old Bills", "rubber-banded, serial numbers in sequence", "$2,000"),
        ("Polaroid Photos", "the same house, once a year, for twenty years", "—"),
        ("Revolver", "an old .38, one round fired", "$300"),
        ("Key Ring", "five keys, one tagged 'DON'T'", "—"),
        ("Cassette Tape", "labelled with today's date, from 1987", "—"),
        ("Gold Locket", "with a lock of hair inside", "$400"),
        ("Burner Phone", "one saved number, three missed calls", "$20"),
        ("Pocket Bible", "underlined passages spell a name", "$5"),
        ("Deed to a Cabin", "in a county that doesn't exist", "?"),
        ("Police Badge", "from a department closed in the 70s", "$150"),
    ],
}  # fmt: skip

_CURIOSITIES: dict[Genre, list[str]] = {
    "fantasy": [
        "a doll with one of the PCs' faces stitched on", "a love letter signed by the villain", "a tooth in a silver locket",
        "a child's drawing of a door that isn't there", "a key made of ice that doesn't melt",
        "a list of names, two crossed out", "a wax seal from a temple that burned down",
        "a music box that plays a song a PC's mother sang",
    ],
    "scifi": [
        "a paper photograph of a PC, taken years ago", "a child's drawing of a ship that was never built",
        "a dog tag from a war that hasn't happened", "a seed packet from a dead world", "a ticket for a ship that exploded",
    ],
    "modern": [
        "a missing-person flyer with a PC's face", "a hotel key from a hotel that burned down",
        "a child's tooth in a matchbox", "a letter addressed to the party, postmarked last year",
        "a map with the party's home circled",
    ],
}  # fmt: skip

_SIGN = re.compile(r"\b[Ss]ign(?:al)?\s*:\s*(?P<sign>[^.;]{4,80})")


def roll(d: Draw) -> Loot:
    """Loot from the tables, titled with where the details say it is found; a group's sign from its notes."""
    s = d.subject
    items = [LootItem(name=n, description=desc, value=v) for n, desc, v in d.sample(_LOOT_ITEMS, 3)]
    curiosity = d.pick(_CURIOSITIES)
    sign = _SIGN.search(s.text) if s.category == "group" else None
    if sign is not None:
        curiosity = f"{curiosity}, marked with the sign of {s.name}: {sign['sign'].strip()}"
    elif tie := d.weave(
        person="marked with the seal of {}", group="marked with the sign of {}", place="stamped with the name of {}"
    ):
        curiosity = f"{curiosity}, {tie}"
    name = d.pick(_LOOT_PLACES)
    if phrase := short_phrase(d.details, 8):
        name = phrase[:1].upper() + phrase[1:]  # where the GM said it is found
    elif s.name:
        name = f"{name}: {s.name}"
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
