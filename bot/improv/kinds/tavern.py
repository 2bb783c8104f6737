"""Tavern: an inn with a keeper, patrons, something on the menu and a rumor."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from typing import ClassVar

from pydantic import Field

from bot.improv.kinds.base import Improv, Kind, KindInfo, KindSpec
from bot.improv.kinds.common import Avoid, Focus, canon_or, make_name, title_context
from bot.improv.kinds.rumor import RUMORS


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


_TAVERN_A = [
    "Gilded",
    "Drunken",
    "Laughing",
    "Three-Legged",
    "Wandering",
    "Rusty",
    "Sleeping",
    "Copper",
    "Blind",
    "Lucky",
]

_TAVERN_B = ["Goat", "Anchor", "Lantern", "Badger", "Kettle", "Wyvern", "Fiddle", "Crown", "Mermaid", "Boar", "Hound"]

_VIBES = [
    "Loud, smoky and friendly until someone mentions the war.",
    "Hushed, candlelit, every booth curtained.",
    "A dance floor of sticky planks and a band that never stops.",
    "Half tavern, half chapel; the priest pours.",
    "Sailors and dockhands, sea shanties, fights by midnight.",
    "Clean, quiet, expensive, and watched by the guard.",
    "Cramped and warm, with a hearth big enough to stand in.",
    "Gambling in the back, poetry readings in the front.",
]

_KEEPER_TRAITS = [
    "one-eyed and fond of terrible puns",
    "a retired adventurer who polishes the same mug all night",
    "tiny, fierce and knows every debt in town",
    "a half-deaf giant of a man with a gentle voice",
    "a widow who keeps her husband's sword over the bar",
    "a twitchy gnome obsessed with bookkeeping",
    "always eating, always listening",
    "sings when pouring, badly",
]

_PATRONS = [
    "a bard who only knows sad songs",
    "two guards off duty, betting on arm-wrestling",
    "a cloaked stranger paying in foreign silver",
    "a farmer celebrating an impossible harvest",
    "a priest drinking too much, alone",
    "a fortune-teller reading palms for ale",
    "a merchant complaining about bandits on the east road",
    "a very old dwarf asleep in the same chair for days",
    "a pair of lovers pretending not to know each other",
    "a young noble slumming it with bodyguards",
    "a ratcatcher with a sack that moves",
    "a card sharp with a sleeve full of aces",
]

_MENU = [
    "eel pie and black ale, 4 cp",
    "honeyed goat stew, 5 cp",
    "spiced wine that glows faintly, 1 sp",
    "pickled eggs by the jar, 2 cp",
    "smoked river trout and rye bread, 6 cp",
    "mushroom pastry, questionable, 3 cp",
    "firewhisky, one glass per customer, 2 sp",
    "mutton and leek porridge, 3 cp",
    "cheese so old it has a name, 1 sp",
]

_TAVERN_CUE = re.compile(r"\b(tavern|inn|alehouse|taproom|pub|saloon)\b", re.IGNORECASE)


def roll(rng: random.Random, canon: Sequence[str], details: str, avoid: Avoid, focus: Focus | None) -> Tavern:
    """A tavern from the tables; the canon tavern when the details point at its passage."""
    keeper_name = make_name(rng, avoid)
    rumor = rng.choice(RUMORS)
    if canon:
        rumor = f"{rumor} Someone swears {canon_or(rng, canon, '')} is involved."
    name = f"The {rng.choice(_TAVERN_A)} {rng.choice(_TAVERN_B)}"
    if focus is not None and not focus.person and _TAVERN_CUE.search(focus.passage.text):
        name = focus.leaf  # the canon tavern the details point at
    elif context := title_context(details, focus):
        name = f"{name} — {context}"
    return Tavern(
        name=name,
        vibe=rng.choice(_VIBES),
        keeper_name=keeper_name,
        keeper=f"{keeper_name}, {rng.choice(_KEEPER_TRAITS)}",
        patrons=rng.sample(_PATRONS, 3),
        menu=rng.choice(_MENU),
        rumor=rumor,
    )


SPEC = KindSpec(
    kind="tavern",
    info=KindInfo(
        "Tavern",
        "An inn with a keeper, patrons and a rumor",
        "Anything it must have, e.g. a dockside dive",
        "a dockside dive",
    ),
    schema=Tavern,
    brief="a tavern or inn with its keeper and patrons",
    roll=roll,
)
