"""Encounter: a fight or standoff ready to run."""

from __future__ import annotations

import re
from typing import ClassVar

from pydantic import Field

from bot.improv.kinds.base import Improv, Kind, KindInfo, KindSpec
from bot.improv.kinds.common import Draw, Genre
from bot.improv.kinds.subject import GROUP_WORDS, PLACE_WORDS, category_of, clean_name, sentences, short, short_phrase
from bot.memory.ranking import tokenize
from bot.memory.types import Passage


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
    gm_only: ClassVar[tuple[str, ...]] = ("tactics", "twist")  # the foes' plan and what changes halfway

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


_CLASHES: dict[Genre, list[str]] = {
    "fantasy": [
        "Ambush", "Standoff", "Showdown", "Skirmish", "Scuffle", "Brawl", "Clash", "Reckoning", "Run-in",
        "Face-off", "Bad Blood", "Parley Gone Wrong", "Chase", "Last Stand", "Toll Dispute", "Night Raid",
        "Hostage Trade", "Duel", "Blockade", "Siege in Miniature", "Knife-work", "Rout", "Collision", "Stampede",
    ],
    "scifi": [
        "Boarding Action", "Firefight", "Standoff", "Airlock Stand-off", "Ambush", "Corridor Fight", "Breach",
        "Lockdown", "Hijack", "Hostage Swap", "Chase", "Blackout Skirmish", "Showdown", "Sabotage Run",
        "Docking Dispute", "Drone Swarm", "Mutiny", "Raid", "Crossfire", "Last Stand", "Evacuation", "Shakedown",
    ],
    "modern": [
        "Stakeout Gone Wrong", "Standoff", "Ambush", "Chase", "Break-in", "Showdown", "Home Invasion", "Blackout",
        "Shakedown", "Hostage Call", "Car Chase", "Séance Gone Wrong", "Lockdown", "Scuffle", "Last Stand",
        "Confrontation", "Ritual Interrupted", "Night Watch", "Hunt", "Siege", "Manhunt", "Raid",
    ],
}  # fmt: skip

_WHERE: dict[Genre, list[str]] = {
    "fantasy": [
        "at the Ford", "on the Ridge", "in the Tunnels", "under the Bridge", "at the Crossroads", "in the Rain",
        "at the Old Mill", "by Torchlight", "on the King's Road", "in the Market", "at the Gallows", "in the Fog",
        "at the Ferry", "in the Orchard",
    ],
    "scifi": [
        "on Deck Nine", "in the Cargo Bay", "at the Airlock", "on the Hull", "in Hydroponics", "at the Docking Ring",
        "in Zero-G", "in the Reactor Crawlspace", "on the Mining Platform", "at the Relay Station",
        "in the Med-Bay", "on the Shuttle Pad",
    ],
    "modern": [
        "at the Motel", "in the Parking Garage", "on Route 9", "at the Diner", "in the Hospital Basement",
        "at the Gas Station", "in the Woods", "at the Church", "on the Pier", "in the Subway", "at the Farmhouse",
        "in the Morgue",
    ],
}  # fmt: skip

_SITUATIONS: dict[Genre, list[str]] = {
    "fantasy": [
        "A cart lies overturned across the road; someone is groaning under it.",
        "Torches appear on both sides of the path at once.", "A child runs past shouting that the bridge is guarded.",
        "The party's guide stops, sniffs the air and draws a knife.", "Bells ring the alarm in a village that looked empty.",
        "A well-dressed group blocks the door and asks for a word.", "Something heavy is dragging itself through the undergrowth.",
        "A horn sounds twice, then the road goes quiet.", "Someone has lit a signal fire where the party must pass.",
        "A rope bridge sways; the far end is already occupied.",
    ],
    "scifi": [
        "The corridor lights drop to emergency red and the bulkhead seals behind the party.",
        "A distress beacon pings from a crate that should be empty.", "The lift stops between decks; something knocks on the roof.",
        "Station security waves the party into a side bay, weapons drawn.", "Gravity flickers off for three seconds, then back.",
        "A shuttle docks without clearance and its ramp drops open.", "The comms channel fills with someone breathing.",
        "Cargo drones reroute themselves to block the exit.",
    ],
    "modern": [
        "Headlights sit in the rear-view mirror and don't pass.", "The power cuts out; somebody is already inside.",
        "A phone rings in an empty room, then another.", "Two men in a parked car watch the party's door.",
        "A dog barks itself hoarse, then stops all at once.", "The last bus leaves without the party; someone stayed too.",
        "Sirens pass, turn around, and come back slowly.", "Fresh footprints lead up to the house and none lead away.",
    ],
}  # fmt: skip

_FOES: dict[Genre, list[str]] = {
    "fantasy": [
        "4 bandits, one of them a terrified teenager", "2 hungry wolves and their scarred alpha",
        "a cultist and 3 thralls", "6 goblins with one stolen crossbow", "a restless skeleton knight",
        "3 mercenaries who want payment, not blood", "a giant spider guarding eggs", "5 cutpurses working as a team",
        "a troll with a toothache", "2 animated suits of armour", "a swarm of stirges",
        "an ogre and its clever goblin handler", "4 deserters in stolen livery", "a hedge mage and her hired thugs",
    ],
    "scifi": [
        "4 corporate security in riot foam armour", "2 combat drones with a targeting fault", "a rogue maintenance android",
        "5 pirates boarding through a cut hatch", "a bounty hunter and her tracking drone",
        "3 mutineers with stolen sidearms", "a swarm of repair nanites gone feral", "6 scavengers in patched vac-suits",
        "a xenoform grown too big for its tank", "2 bored mercenaries on contract", "a cult of station drifters",
    ],
    "modern": [
        "3 hired heavies with a van", "a cult leader and 4 devotees", "2 crooked deputies", "a thing that wears a neighbour's face",
        "4 gang members protecting a stash", "a private security team in unmarked cars", "a pack of feral dogs",
        "a hunter who thinks the party are the monsters", "5 townsfolk with shotguns and a grudge",
        "a possessed caretaker", "2 federal agents with no badges",
    ],
}  # fmt: skip

_TERRAIN: dict[Genre, list[str]] = {
    "fantasy": [
        "a rickety bridge over a fast river", "thick fog that halves vision", "a burning barn", "slick mud and fallen trees",
        "a narrow stair with murder holes", "a graveyard with open graves", "market stalls to topple and hide behind",
        "a frozen pond, cracking", "a collapsed wall to climb", "a mill race with a turning wheel",
    ],
    "scifi": [
        "a catwalk over a reactor shaft", "zero-g with drifting debris", "cargo containers stacked four high",
        "an airlock cycling on a timer", "flickering lights and coolant steam", "a hull breach pulling at loose gear",
        "a hydroponics jungle, waist-high", "a maglev track with trains every minute",
    ],
    "modern": [
        "a dark parking garage, engines ticking", "a cornfield at night", "a motel walkway with thin doors",
        "a half-flooded basement", "a railway crossing with the barrier down", "a diner with big windows",
        "a church with one way out", "a wooded slope in the rain",
    ],
}  # fmt: skip

_TACTICS: dict[Genre, list[str]] = {
    "fantasy": [
        "they try to split the party and rob the weakest", "they fight until half are down, then parley",
        "they go for the light sources first", "they want a hostage, not a kill", "they retreat toward a trap",
        "they protect something behind them", "they fight dirty: sand, nets, threats",
    ],
    "scifi": [
        "they cut the lights and use thermal optics", "they vent a section to force a retreat",
        "they want the cargo, not a firefight", "they hack the doors to split the party",
        "they fall back to a defensible junction", "they threaten to breach the hull",
    ],
    "modern": [
        "they wait for the party to split up", "they want the evidence, not bodies", "they cut the phones first",
        "they call in favours with the police", "they use the locals as cover", "they run, and lead the party into worse",
    ],
}  # fmt: skip

_TWISTS: dict[Genre, list[str]] = {
    "fantasy": [
        "reinforcements arrive, but for the other side", "the leader begs for help against a bigger threat",
        "a storm breaks and lightning strikes nearby", "one foe recognises a PC", "the ground gives way",
        "the loot they're guarding is a bound prisoner",
    ],
    "scifi": [
        "the station AI locks everyone in together", "the foes' ship starts to undock without them",
        "a second, bigger signal appears on sensors", "one foe is a PC's old crewmate", "gravity fails entirely",
    ],
    "modern": [
        "the police arrive and arrest the wrong people", "one foe is somebody the party interviewed",
        "the lights come back and someone is missing", "a phone buzzes with a photo of the party, taken now",
        "the thing they feared walks in",
    ],
}  # fmt: skip

_REWARDS: dict[Genre, list[str]] = {
    "fantasy": [
        "a map with a red circle on it", "a purse of 30 gp and a pawn ticket", "safe passage and an unlikely ally",
        "a name: who hired them", "a masterwork weapon with a family crest", "a key to a house in town",
    ],
    "scifi": [
        "a data slate with encrypted coordinates", "override codes for a restricted deck", "a favour owed by a captain",
        "a name: who paid for the job", "a crate of medical supplies", "a clean transponder",
    ],
    "modern": [
        "a burner phone full of numbers", "a motel key to room 12", "a name: who sent them", "a roll of cash and a photo",
        "a tape recorder, still running", "an ally on the inside",
    ],
}  # fmt: skip

_COUNT_WORDS = {
    "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
    "ten": "10", "twelve": "12", "a dozen": "12",
}  # fmt: skip
_COUNTED = re.compile(
    r"\b(?P<n>two|three|four|five|six|seven|eight|nine|ten|twelve|a dozen|\d+)\s+"
    r"(?P<what>[a-z][\w'’-]*(?:\s+[\w'’-]+){0,5}?)(?=\s*(?:[,.;:]|$)|\s+(?:and|who|that|which)\b)",
    re.IGNORECASE,
)
_NAMED = re.compile(r"\b(?P<name>[A-Z][\w'’-]+(?:\s+[A-Z][\w'’-]+){1,2})\b")


def members(d: Draw, text: str, group: str) -> list[str]:
    """A group's members as foes, in the notes' own words: its named people and its counted ranks."""
    found: list[str] = []
    for match in _COUNTED.finditer(text):
        count = _COUNT_WORDS.get(match["n"].lower(), match["n"])
        found.append(f"{count} {match['what']}")
    skip = {n.lower() for n in (*d.canon.places, *d.canon.groups, *d.canon.party, group)}
    for match in _NAMED.finditer(text):
        name = clean_name(match["name"])  # "Aldric Corvane's house" -> "Aldric Corvane"
        words = {w.lower() for w in name.split()}
        before = text[max(0, match.start() - 4) : match.start()].lower()
        if name.lower() in skip or words & (PLACE_WORDS | GROUP_WORDS) or before.endswith("the ") or name in found:
            continue
        if match.start() == 0 or name in d.canon.people or text[match.start() - 2] not in ".!?":
            found.append(name)
    if len(found) < 2:
        head = re.split(r"\s+(?:who|that|which)\s+|[,.;]", sentences(text)[0] if sentences(text) else "")[0]
        if 1 <= len(head.split()) <= 10:
            found.append(head)
    return list(dict.fromkeys(found))[:4]


def _ground(where: Passage, details: str) -> str:
    """The sentence of a place's passage that shares most words with the details, as the encounter's ground."""
    terms = set(tokenize(details))
    best = max(sentences(where.text), key=lambda s: len(terms & set(tokenize(s))), default="")
    leaf = where.heading.split("›")[-1].strip()
    return f"{leaf}: {short(best, 140)}" if best else leaf


def _title(d: Draw) -> str:
    s = d.subject
    clash = d.pick(_CLASHES)
    name = "t" + s.name[1:] if s.name.startswith("The ") else s.name  # "… with the Lantern Society"
    if s.category in ("group", "person") and name:
        return f"{clash} with {name}"
    if s.category in ("place", "tavern") and name:
        return f"{clash} at {name}"
    if phrase := short_phrase(d.details):
        return f"{clash}: {phrase}"
    return d.compose(lambda: f"{clash} {d.rng.choice(d.options(_WHERE))}")


def roll(d: Draw) -> Encounter:
    """An encounter from the tables; against a group the notes describe, its foes are that group's members, and
    a place the details name is the ground."""
    s = d.subject
    foes = d.sample(_FOES, 2)
    terrain = d.pick(_TERRAIN)
    tactics = d.pick(_TACTICS)
    if s.category == "group" and s.passage is not None:
        foes = members(d, s.text, s.name) or foes
        want = next((x for x in sentences(s.text) if re.search(r"\bwants?\b", x, re.IGNORECASE)), "")
        if want:
            tactics = f"they fight for what {s.name} wants: {short(re.sub(r'^They want ', '', want), 110)}"
    elif s.category == "person" and s.passage is not None:
        foes = [f"{s.name}, {s.role}" if s.role else s.name, foes[0]]
    elif s.category in ("place", "tavern") and s.passage is not None:
        terrain = _ground(s.passage, d.details)
    grounded = s.where is not None and category_of(s.where, d.canon) in ("place", "tavern")
    if s.where is not None and grounded and s.category not in ("place", "tavern"):
        terrain = _ground(s.where, d.details)
    reward = d.pick(_REWARDS)
    if lead := d.weave(person="it leads to {}", place="it leads to {}"):
        reward = f"{reward}; {lead}"
    return Encounter(
        name=_title(d),
        situation=d.pick(_SITUATIONS),
        foes=foes,
        terrain=terrain,
        tactics=tactics,
        twist=d.pick(_TWISTS),
        reward=reward,
    )


SPEC = KindSpec(
    kind="encounter",
    info=KindInfo(
        "Encounter",
        "A fight or standoff ready to run",
        "Where and against whom, e.g. bandits at the ford",
        "bandits at the ford",
    ),
    schema=Encounter,
    brief="an encounter ready to run right now",
    roll=roll,
)
