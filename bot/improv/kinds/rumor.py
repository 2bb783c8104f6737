"""Rumors: three rumors of mixed truth, and who tells them."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import ClassVar, Literal

from pydantic import Field

from bot.improv.kinds.base import Improv, Item, Kind, KindInfo, KindSpec
from bot.improv.kinds.common import Avoid, Focus, canon_or, title_context


class RumorEntry(Item):
    """One rumor and how true it is."""

    gm_only: ClassVar[tuple[str, ...]] = ("truth",)

    text: str = Field(description="The rumor as a patron would say it")
    truth: Literal["true", "false", "partly true"] = Field(description="How true it is (GM eyes only)")
    source: str = Field(description="Who tells it")

    def line(self) -> str:
        bits = [f"“{self.text}”" if self.text else "", f"— {self.source}" if self.source else ""]
        head = " ".join(b for b in bits if b)
        return f"{head} *({self.truth})*" if self.truth else head


class Rumor(Improv):
    """Rumors the party can hear."""

    kind: ClassVar[Kind] = "rumor"
    labels: ClassVar[dict[str, str]] = {"rumors": "Rumors"}

    name: str = Field(description="Where or about what the rumors are heard, as a short title")
    rumors: list[RumorEntry] = Field(description="Three rumors of mixed truth")

    @property
    def title(self) -> str:
        return self.name


_RUMOR_PLACES = [
    "Whispers at the Bar",
    "Market Gossip",
    "Talk on the Docks",
    "Heard in the Temple Queue",
    "Campfire Tales",
    "Servants' Chatter",
]

RUMORS = [
    "The old mill grinds at night, but nobody brings it grain.",
    "The new magistrate was seen buying poison.",
    "There's a dragon asleep under the hill, and it's waking.",
    "Someone's paying gold for black cats.",
    "The well water tastes sweet since the stranger came.",
    "The baron's heir died years ago; that one's a fake.",
    "Bandits on the east road only rob people who lie to them.",
    "The temple's relic was swapped for a copy.",
    "Wolves have been seen walking on two legs.",
    "A ship came in with no crew and a full hold.",
    "The guild master hasn't blinked in a week.",
    "Graves in the old yard have been dug up from below.",
    "A fortune-teller predicted the king's death, then vanished.",
    "The river changed course overnight.",
]

_SOURCES = [
    "a drunk sailor",
    "the baker's boy",
    "a travelling priest",
    "a guard, off duty",
    "the barmaid",
    "an old woman by the fire",
    "a nervous merchant",
    "a street urchin for a copper",
]

_TRUTHS: list[str] = ["true", "false", "partly true"]


def roll(rng: random.Random, canon: Sequence[str], details: str, avoid: Avoid, focus: Focus | None) -> Rumor:
    """Three rumors from the tables, one of them about canon."""
    texts = rng.sample(RUMORS, 3)
    if canon:
        texts[0] = f"{texts[0]} They say {canon_or(rng, canon, '')} knows more than they let on."
    rumors = [RumorEntry(text=t, truth=rng.choice(_TRUTHS), source=rng.choice(_SOURCES)) for t in texts]
    name = rng.choice(_RUMOR_PLACES)
    if context := title_context(details, focus):
        name = f"{name}: {context}"
    return Rumor(name=name, rumors=rumors)


SPEC = KindSpec(
    kind="rumor",
    info=KindInfo("Rumors", "Three rumors, true and false", "About what, e.g. the missing heir", "the missing heir"),
    schema=Rumor,
    brief="three rumors the party can overhear",
    roll=roll,
)
