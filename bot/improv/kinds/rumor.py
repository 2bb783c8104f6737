"""Rumors: three rumors of mixed truth, and who tells them."""

from __future__ import annotations

import re
from typing import ClassVar, Literal

from pydantic import Field

from bot.improv.kinds.base import Improv, Item, Kind, KindInfo, KindSpec
from bot.improv.kinds.common import Draw, Genre
from bot.improv.kinds.subject import sentences, short, short_phrase


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


_RUMOR_PLACES: dict[Genre, list[str]] = {
    "fantasy": [
        "Whispers at the Bar", "Market Gossip", "Talk on the Docks", "Heard in the Temple Queue", "Campfire Tales",
        "Servants' Chatter", "Washday Talk", "Gossip at the Well",
    ],
    "scifi": [
        "Chatter on the Docking Ring", "Mess Hall Gossip", "Overheard on Comms", "Talk in the Cargo Bay",
        "Feeds and Forums", "Bunk-room Whispers",
    ],
    "modern": [
        "Diner Gossip", "Talk at the Gas Station", "Overheard at Church", "Local Forum Threads", "Barbershop Talk",
        "Whispers at the Bar",
    ],
}  # fmt: skip

_WHO: dict[Genre, list[str]] = {
    "fantasy": [
        "The miller", "The new magistrate", "The baron's heir", "A travelling priest", "The ferryman", "Old Mother Yew",
        "The guild master", "The blacksmith's apprentice", "A one-eyed sailor", "The temple's sexton",
        "The widow on Crow Lane", "A stranger in grey", "The night watchman", "The herbalist",
    ],
    "scifi": [
        "The station administrator", "A cargo pilot", "The chief engineer", "The new security chief", "The med-bay AI",
        "A courier from the inner worlds", "The union rep", "The quartermaster", "A drifter from the lower decks",
        "The captain's second", "The hydroponics lead", "A corporate auditor",
    ],
    "modern": [
        "The sheriff", "The new pastor", "Old Mrs. Dale", "The motel manager", "A trucker passing through",
        "The mayor's son", "The school janitor", "The coroner", "The woman who runs the diner", "A man in a grey sedan",
        "The last family on Elm Road", "The radio host",
    ],
}  # fmt: skip

_DID: dict[Genre, list[str]] = {
    "fantasy": [
        "was seen buying poison", "has been paying in old gold", "hasn't slept in a week", "buried a locked box",
        "meets someone masked every new moon", "keeps asking about the old war", "came back from the dead, they say",
        "is selling maps to places that don't exist", "has been digging at night", "keeps a wolf in the cellar",
        "talks to crows and they answer", "swapped the temple's relic for a copy", "owes the smugglers a fortune",
        "hasn't blinked in a week",
    ],
    "scifi": [
        "has been wiping the docking logs", "was seen with a pirate broker", "hasn't eaten in the mess for weeks",
        "is selling air-scrubber filters twice", "keeps a sealed crate in their quarters",
        "answered a distress call nobody else heard", "paid off the customs AI", "has two ID chips",
        "was declared dead on another station", "is rerouting power at night", "has been visiting the airlock alone",
        "is about to be bought out by the company",
    ],
    "modern": [
        "was seen burning papers", "has been paying cash for everything", "hasn't left the house since the fire",
        "drives out to the quarry every night", "knows who really owns the mill", "was at the crossroads at 3 a.m.",
        "has been buying rope and lime", "changed the locks twice this month", "got a letter with no stamp",
        "has a second family two towns over", "was questioned and let go without a charge", "keeps the radio on all night",
    ],
}  # fmt: skip

_WHERE: dict[Genre, list[str]] = {
    "fantasy": [
        "down by the river", "behind the chapel", "on the east road", "at the crossroads after midnight",
        "in the old mill", "under the bridge", "past the city walls", "in the graveyard", "at the harbour",
        "in the hills", "by the gallows", "in the cellar of the inn",
    ],
    "scifi": [
        "on the lower decks", "in the cargo bay", "near the reactor", "at the docking ring", "in the hydroponics bay",
        "on the mining platform", "by the old airlock", "in the derelict wing",
    ],
    "modern": [
        "out by the quarry", "behind the church", "on Route 9", "at the old drive-in", "in the hospital basement",
        "down at the pier", "by the railway bridge", "at the motel",
    ],
}  # fmt: skip

_SOURCES: dict[Genre, list[str]] = {
    "fantasy": [
        "a drunk sailor", "the baker's boy", "a travelling priest", "a guard, off duty", "the barmaid",
        "an old woman by the fire", "a nervous merchant", "a street urchin for a copper",
    ],
    "scifi": [
        "a dockworker on break", "a bored customs officer", "a pilot between runs", "the bartender android",
        "a kid who hacks the feeds", "a medic off shift",
    ],
    "modern": [
        "the waitress", "a regular at the bar", "a kid on a bike", "the gas station clerk", "a retired teacher",
        "a deputy, off the record",
    ],
}  # fmt: skip

Truth = Literal["true", "false", "partly true"]
_TRUTHS: list[Truth] = ["true", "false", "partly true"]


def rumor_line(d: Draw, who: str = "") -> str:
    """A rumor from the tables (about `who` when given) that no recent answer has told."""

    def make() -> str:
        subject = who or d.rng.choice(d.options(_WHO))
        return f"{subject} {d.rng.choice(d.options(_DID))} {d.rng.choice(d.options(_WHERE))}."

    return d.compose(make)


def _noted(d: Draw) -> list[str]:
    """Sentences of the subject's passage not yet told by a recent answer, secrets first (a true rumor)."""
    lines = [short(s, 160) for s in sentences(d.subject.text) if len(s.split()) >= 5]
    lines.sort(key=lambda s: not re.search(r"secret|hid|nobody|no one|knows|fear|blame|knock", s, re.IGNORECASE))
    return [s for s in lines if d.fresh(s)]


def roll(d: Draw) -> Rumor:
    """Three rumors from the tables, none told recently; about the subject the details name, one of them from
    its notes."""
    s = d.subject
    texts = [rumor_line(d) for _ in range(3)]
    truths = [d.rng.choice(_TRUTHS) for _ in range(3)]
    if s.name:
        noted = _noted(d)
        if noted:
            d.taken.add(noted[0])
            texts[0], truths[0] = noted[0], "true"
        texts[1] = rumor_line(d, s.name)
    elif tie := d.weave(
        person="They say {} knows more than they let on.",
        group="They say {} is behind it.",
        place="It started near {}.",
    ):
        texts[0] = f"{texts[0]} {tie}"
    rumors = [RumorEntry(text=t, truth=truth, source=d.pick(_SOURCES)) for t, truth in zip(texts, truths, strict=True)]
    name = d.pick(_RUMOR_PLACES)
    if context := s.name or short_phrase(d.details):
        name = f"{name}: {context}"
    return Rumor(name=name, rumors=rumors)


SPEC = KindSpec(
    kind="rumor",
    info=KindInfo("Rumors", "Three rumors, true and false", "About what, e.g. the missing heir", "the missing heir"),
    schema=Rumor,
    brief="three rumors the party can overhear",
    roll=roll,
)
