"""Tavern: an inn with a keeper, patrons, something on the menu and a rumor."""

from __future__ import annotations

import re
from typing import ClassVar

from pydantic import Field

from bot.improv.kinds.base import Improv, Kind, KindInfo, KindSpec
from bot.improv.kinds.common import Draw, Genre
from bot.improv.kinds.rumor import rumor_line
from bot.improv.kinds.subject import sentences, short


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


_TAVERN_A: dict[Genre, list[str]] = {
    "fantasy": [
        "Gilded", "Drunken", "Laughing", "Three-Legged", "Wandering", "Rusty", "Sleeping", "Copper", "Blind", "Lucky",
        "Crooked", "Silver", "Singing", "Salted",
    ],
    "scifi": [
        "Broken", "Red", "Zero-G", "Orbital", "Last", "Blue", "Cold", "Neon", "Rusty", "Lucky", "Half-Life", "Dead",
    ],
    "modern": [
        "Blue", "Lonesome", "Golden", "Rusty", "Red", "Lucky", "Midnight", "Silver", "Black", "Crossroads", "Old",
    ],
}  # fmt: skip

_TAVERN_B: dict[Genre, list[str]] = {
    "fantasy": ["Goat", "Anchor", "Lantern", "Badger", "Kettle", "Wyvern", "Fiddle", "Crown", "Mermaid", "Boar", "Hound"],
    "scifi": ["Airlock", "Comet", "Thruster", "Docking Clamp", "Nebula", "Relay", "Cargo Bay", "Rocket", "Moon"],
    "modern": ["Diner", "Tap", "Lounge", "Saloon", "Moose", "Spur", "Owl", "Bar & Grill", "Room"],
}  # fmt: skip

_VIBES: dict[Genre, list[str]] = {
    "fantasy": [
        "Loud, smoky and friendly until someone mentions the war.", "Hushed, candlelit, every booth curtained.",
        "A dance floor of sticky planks and a band that never stops.", "Half tavern, half chapel; the priest pours.",
        "Sailors and dockhands, sea shanties, fights by midnight.", "Clean, quiet, expensive, and watched by the guard.",
        "Cramped and warm, with a hearth big enough to stand in.", "Gambling in the back, poetry readings in the front.",
    ],
    "scifi": [
        "Recycled air, synth-jazz and a view of the gas giant.", "Dockworkers in mag-boots, drinking standing up.",
        "Quiet booths with jammers built into the tables.", "A hologram band loops the same three songs.",
        "Everyone pays in scrip and nobody gives a real name.", "The gravity is set a little low, so fights go long.",
    ],
    "modern": [
        "Neon beer signs, a jukebox and a pool table with a lean.", "Too quiet: the regulars stop talking when you enter.",
        "Truckers, a TV on mute and coffee refills until dawn.", "Wood panelling, taxidermy and a karaoke machine.",
        "Dim, smoky, and the phone behind the bar keeps ringing.", "Bright, clean, and the booths face the door.",
    ],
}  # fmt: skip

_KEEPER_TRAITS: dict[Genre, list[str]] = {
    "fantasy": [
        "one-eyed and fond of terrible puns", "a retired adventurer who polishes the same mug all night",
        "tiny, fierce and knows every debt in town", "a half-deaf giant of a man with a gentle voice",
        "a widow who keeps her husband's sword over the bar", "a twitchy gnome obsessed with bookkeeping",
        "always eating, always listening", "sings when pouring, badly",
    ],
    "scifi": [
        "an ex-marine with a chrome jaw", "a patient android who remembers every tab", "a retired smuggler, still armed",
        "a cheerful medic who waters the drinks", "a station lifer who has never seen a planet",
    ],
    "modern": [
        "a widower who hasn't smiled since '98", "a former cop who still notices everything",
        "a chatty grandmother with a shotgun under the counter", "a biker who quotes poetry", "a tired owner selling up",
    ],
}  # fmt: skip

_PATRONS: dict[Genre, list[str]] = {
    "fantasy": [
        "a bard who only knows sad songs", "two guards off duty, betting on arm-wrestling",
        "a cloaked stranger paying in foreign silver", "a farmer celebrating an impossible harvest",
        "a priest drinking too much, alone", "a fortune-teller reading palms for ale",
        "a merchant complaining about bandits on the east road", "a very old dwarf asleep in the same chair for days",
        "a pair of lovers pretending not to know each other", "a young noble slumming it with bodyguards",
        "a ratcatcher with a sack that moves", "a card sharp with a sleeve full of aces",
    ],
    "scifi": [
        "a pilot drinking to a ship that didn't come back", "two miners arguing over a claim",
        "a corporate rep pretending to slum it", "a courier who won't put down her case",
        "an android nursing a drink it can't taste", "a gambler running a rigged dice app",
        "a medic off shift, still in scrubs", "three cadets on their first leave",
    ],
    "modern": [
        "a trucker who has seen the lights on the highway", "a couple arguing in whispers", "a deputy off duty, not drinking",
        "a college kid with a camera", "an old man who sits facing the door", "a woman waiting for someone who won't come",
        "two hunters comparing stories", "a preacher doing crosswords",
    ],
}  # fmt: skip

_MENU: dict[Genre, list[str]] = {
    "fantasy": [
        "eel pie and black ale, 4 cp", "honeyed goat stew, 5 cp", "spiced wine that glows faintly, 1 sp",
        "pickled eggs by the jar, 2 cp", "smoked river trout and rye bread, 6 cp", "mushroom pastry, questionable, 3 cp",
        "firewhisky, one glass per customer, 2 sp", "mutton and leek porridge, 3 cp", "cheese so old it has a name, 1 sp",
    ],
    "scifi": [
        "vat-grown noodles and recycled-water beer, 4 scrip", "real coffee, 30 scrip", "algae stew, 3 scrip",
        "engine-room moonshine, 10 scrip", "protein dumplings, spicy, 5 scrip",
    ],
    "modern": [
        "chili fries and a domestic beer, $8", "bottomless coffee and pie, $6", "the house burger, $11",
        "a shot of something local, $4", "pickled eggs from a jar, $2",
    ],
}  # fmt: skip

_KEEPER = re.compile(
    r"\b(?:[Oo]wner|[Kk]eeper|[Ll]andlord|[Ll]andlady|[Pp]roprietor|[Bb]artender|(?:run|kept|owned) by)[:,]?\s+"
    r"(?P<name>[A-Z][\w'’-]+(?:\s+[A-Z][\w'’-]+){0,2})(?:,\s*(?P<what>[^,.;()]{3,80}))?"
)
_SERVES = re.compile(r"\b(pours?|serves?|sells?|brews?|menu|special\w*|ale|beer|wine|stew)\b", re.IGNORECASE)
_CROWD = re.compile(r"\b(drink|drinks|rent|regulars?|patrons?|crowd|gather|meet|sit)\b", re.IGNORECASE)
_QUOTED = re.compile(r"[\"“](?P<dish>[^\"”]{2,40})[\"”]\s*(?P<note>\([^)]{2,60}\))?")


def _keeper(text: str) -> tuple[str, str]:
    """(name, what they are) of the keeper a tavern's passage names, or ("", "")."""
    found = _KEEPER.search(text)
    if found is None:
        return "", ""
    return found["name"], (found["what"] or "").strip()


def _menu(text: str) -> str:
    for sentence in sentences(text):
        if dish := _QUOTED.search(sentence):
            return f"{dish['dish']} {dish['note'] or ''}".strip()
        if _SERVES.search(sentence) and not _KEEPER.search(sentence):
            return short(sentence, 120)
    return ""


def _patrons(text: str) -> list[str]:
    found: list[str] = []
    for sentence in sentences(text):
        if _CROWD.search(sentence) and not _KEEPER.search(sentence):
            found.extend(part.strip(" .") for part in sentence.split(";") if part.strip(" ."))
    return found[:3]


def _overheard(d: Draw, name: str) -> str:
    """A sentence of another retrieved passage that mentions the tavern: what is said about it."""
    bare = name[4:] if name.startswith("The ") else name
    for passage in d.passages:
        if d.subject.passage is not None and passage.chunk_id == d.subject.passage.chunk_id:
            continue
        for sentence in sentences(passage.text):
            if bare in sentence:
                return short(sentence, 160)
    return ""


def roll(d: Draw) -> Tavern:
    """A tavern from the tables; the canon tavern the details name, its keeper, drink and crowd from its notes."""
    s = d.subject
    keeper_name = d.name()
    keeper = f"{keeper_name}, {d.pick(_KEEPER_TRAITS)}"
    rumor = rumor_line(d)
    if tie := d.weave(
        person="Someone swears {} is involved.", group="Someone swears {} is behind it.", place="It started at {}."
    ):
        rumor = f"{rumor} {tie}"
    vibe, patrons, menu = d.pick(_VIBES), d.sample(_PATRONS, 3), d.pick(_MENU)
    name = d.compose(lambda: f"The {d.rng.choice(d.options(_TAVERN_A))} {d.rng.choice(d.options(_TAVERN_B))}")
    if s.category in ("tavern", "place") and s.passage is not None:
        name = s.name  # the canon tavern the details name, in its notes' terms
        text = s.text
        first = sentences(text)[:1]
        vibe = first[0] if first else vibe
        found_name, what = _keeper(text)
        if found_name:
            keeper_name = found_name
            keeper = f"{found_name}, {what}" if what else found_name
        menu = _menu(text) or menu
        patrons = _patrons(text) + patrons[: max(0, 2 - len(_patrons(text)))]
        rumor = _overheard(d, name) or rumor
    elif s.given and s.category == "tavern":
        name = s.name
    return Tavern(name=name, vibe=vibe, keeper_name=keeper_name, keeper=keeper, patrons=patrons, menu=menu, rumor=rumor)


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
