"""Encounter: a fight or standoff ready to run."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import ClassVar

from pydantic import Field

from bot.improv.kinds.base import Improv, Kind, KindInfo, KindSpec
from bot.improv.kinds.common import Avoid, Focus, canon_or, title_context


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


_ENC_TITLES = [
    "Ambush at the Ford",
    "The Toll Nobody Set",
    "Hunters Become Hunted",
    "Smoke on the Ridge",
    "The Wrong Funeral",
    "Night Market Brawl",
    "Collapse in the Tunnels",
    "The Polite Bandits",
]

_SITUATIONS = [
    "A cart lies overturned across the road; someone is groaning under it.",
    "Torches appear on both sides of the path at once.",
    "A child runs past shouting that the bridge is guarded.",
    "The party's guide stops, sniffs the air and draws a knife.",
    "Bells ring the alarm in a village that looked empty.",
    "A well-dressed group blocks the door and asks for a word.",
    "Something heavy is dragging itself through the undergrowth.",
]

_FOES = [
    "4 bandits, one of them a terrified teenager",
    "2 hungry wolves and their scarred alpha",
    "a cultist and 3 thralls",
    "6 goblins with one stolen crossbow",
    "a restless skeleton knight",
    "3 mercenaries who want payment, not blood",
    "a giant spider guarding eggs",
    "5 cutpurses working as a team",
    "a troll with a toothache",
    "2 animated suits of armour",
    "a swarm of stirges",
    "an ogre and its clever goblin handler",
]

_TERRAIN = [
    "a rickety bridge over a fast river",
    "thick fog that halves vision",
    "a burning barn",
    "slick mud and fallen trees",
    "a narrow stair with murder holes",
    "a graveyard with open graves",
    "market stalls to topple and hide behind",
    "a frozen pond, cracking",
]

_TACTICS = [
    "they try to split the party and rob the weakest",
    "they fight until half are down, then parley",
    "they go for the light sources first",
    "they want a hostage, not a kill",
    "they retreat toward a trap",
    "they protect something behind them",
    "they fight dirty: sand, nets, threats",
]

_ENC_TWISTS = [
    "reinforcements arrive, but for the other side",
    "the leader begs for help against a bigger threat",
    "a storm breaks and lightning strikes nearby",
    "one foe recognises a PC",
    "the ground gives way",
    "the loot they're guarding is a bound prisoner",
]

_REWARDS = [
    "a map with a red circle on it",
    "a purse of 30 gp and a pawn ticket",
    "safe passage and an unlikely ally",
    "a name: who hired them",
    "a masterwork weapon with a family crest",
    "a key to a house in town",
]


def roll(rng: random.Random, canon: Sequence[str], details: str, avoid: Avoid, focus: Focus | None) -> Encounter:
    """An encounter from the tables, titled with what the details are about."""
    reward = rng.choice(_REWARDS)
    if canon:
        reward = f"{reward}; it leads to {canon_or(rng, canon, '')}"
    name = rng.choice(_ENC_TITLES)
    if context := title_context(details, focus):
        name = f"{name}: {context}"
    return Encounter(
        name=name,
        situation=rng.choice(_SITUATIONS),
        foes=rng.sample(_FOES, 2),
        terrain=rng.choice(_TERRAIN),
        tactics=rng.choice(_TACTICS),
        twist=rng.choice(_ENC_TWISTS),
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
