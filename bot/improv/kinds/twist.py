"""Plot twist: something suddenly true, how it comes out and what it changes."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import ClassVar

from pydantic import Field

from bot.improv.kinds.base import Improv, Kind, KindInfo, KindSpec
from bot.improv.kinds.common import Avoid, Focus, canon_or, title_context


class Twist(Improv):
    """A plot twist to drop into the current scene."""

    kind: ClassVar[Kind] = "twist"
    labels: ClassVar[dict[str, str]] = {
        "twist": "Twist",
        "reveal": "How it's revealed",
        "consequence": "Consequence",
        "foreshadowing": "Foreshadow earlier",
    }
    gm_only: ClassVar[tuple[str, ...]] = ("reveal", "foreshadowing")  # how it comes out; clues to plant

    name: str = Field(description="Short title of the twist")
    twist: str = Field(description="What is suddenly true")
    reveal: str = Field(description="How the players find out, at the table")
    consequence: str = Field(description="What it changes for the party")
    foreshadowing: str = Field(description="A clue to have planted or plant next")

    @property
    def title(self) -> str:
        return self.name


_TWISTS = [
    ("The Patron Lies", "the party's employer is the one who caused the problem they were hired to fix"),
    ("Wrong Body", "the villain they killed was a decoy; the real one watched from the crowd"),
    ("Old Friends", "the enemy leader is a PC's long-lost mentor"),
    ("The Map Is Wrong", "the place they are heading to was destroyed years ago"),
    ("Double Agent", "a trusted ally has been reporting every move"),
    ("The Monster Was Guarding", "the beast they slew was protecting the town from something worse"),
    ("Inheritance", "a PC is the legal heir to the villain's fortune"),
    ("Time Slip", "the party has been gone far longer than they think"),
    ("The Victim Planned It", "the kidnapped noble arranged their own abduction"),
    ("Borrowed Faces", "two NPCs the party knows are the same person"),
]

_REVEALS = [
    "a letter in the wrong handwriting",
    "an NPC slips and uses a name they shouldn't know",
    "a portrait in a locked room",
    "the villain laughs and simply tells them",
    "a dying henchman's last words",
    "a PC recognises a scar",
]

_CONSEQUENCES = [
    "their reward is now worthless",
    "the town turns against them",
    "an ally becomes an enemy overnight",
    "they have three days before it's too late",
    "the law is now hunting them",
    "they owe a very dangerous favour",
]

_FORESHADOW = [
    "mention the employer's nervous glance at the map",
    "have a beggar call a PC by the wrong name",
    "let a coin with the villain's crest change hands",
    "put a fresh grave where none should be",
    "describe the same stranger in two different towns",
    "have the bells ring at the wrong hour",
]


def roll(rng: random.Random, canon: Sequence[str], details: str, avoid: Avoid, focus: Focus | None) -> Twist:
    """A twist from the tables, titled with the scene the details describe."""
    title, twist = rng.choice(_TWISTS)
    consequence = rng.choice(_CONSEQUENCES)
    if canon:
        consequence = f"{consequence}, and {canon_or(rng, canon, '')} is the first to notice"
    if context := title_context(details, focus):
        title = f"{title}: {context}"
    return Twist(
        name=title,
        twist=twist[0].upper() + twist[1:] + ".",
        reveal=rng.choice(_REVEALS),
        consequence=consequence,
        foreshadowing=rng.choice(_FORESHADOW),
    )


SPEC = KindSpec(
    kind="twist",
    info=KindInfo(
        "Plot twist",
        "A plot twist for this scene",
        "The scene, e.g. the party just got paid",
        "the party just got paid",
    ),
    schema=Twist,
    brief="a plot twist to drop into the current scene",
    roll=roll,
)
