"""Plot twist: something suddenly true, how it comes out and what it changes."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from bot.improv.kinds.base import Improv, Kind, KindInfo, KindSpec
from bot.improv.kinds.common import Draw, Genre
from bot.improv.kinds.subject import short_phrase


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


#: (title, what is suddenly true with `{}` for who it is about, who it is about without canon)
_TWISTS: dict[Genre, list[tuple[str, str, str]]] = {
    "fantasy": [
        ("The Patron Lies", "{} caused the very problem the party was hired to fix", "the party's employer"),
        ("Wrong Body", "the villain they killed was a decoy; {} watched from the crowd", "the real one"),
        ("Old Friends", "{} is a PC's long-lost mentor", "the enemy leader"),
        ("The Map Is Wrong", "the place they are heading to was destroyed years ago, and {} knew", "their guide"),
        ("Double Agent", "{} has been reporting every move", "a trusted ally"),
        ("The Monster Was Guarding", "the beast they slew was protecting the town, and {} set them on it", "someone"),
        ("Inheritance", "a PC is the legal heir to everything {} owns", "the villain"),
        ("Time Slip", "the party has been gone far longer than they think; {} has aged ten years", "an old friend"),
        ("The Victim Planned It", "{} arranged their own abduction", "the kidnapped noble"),
        ("Borrowed Faces", "{} and someone else the party knows are the same person", "a familiar face"),
        ("The Debt Comes Due", "{} holds a PC's old debt and is calling it in tonight", "a stranger"),
        ("False Prophecy", "the prophecy was forged, and {} wrote it", "a court scribe"),
    ],
    "scifi": [
        ("Ghost Signal", "the distress call was sent by {}, years ago, and is still looping", "the party's own ship"),
        ("Clone Protocol", "{} is a clone, and the original is still alive", "a trusted crewmate"),
        ("Company Property", "{} has owned the party's ship all along", "the corporation"),
        ("Double Agent", "{} has been feeding the party's route to pirates", "a trusted ally"),
        ("The Quarantine Lie", "the quarantine is a cover; {} is hiding something alive", "station command"),
        ("Wrong Year", "the party's cryo-sleep ran decades long; {} is long dead", "their contact"),
        ("The AI Decided", "the ship's AI has been making choices for {}", "the captain"),
        ("Sabotage", "{} sabotaged the reactor to force this landing", "a crew member"),
    ],
    "modern": [
        ("It Was Never Gone", "{} has been living in the house the whole time", "the missing person"),
        ("The Witness Lied", "{} was the one at the scene that night", "the key witness"),
        ("Family Business", "{} is related to the killer", "a friendly local"),
        ("Double Agent", "{} has been passing everything to the people hunting the party", "a trusted contact"),
        ("The Date Repeats", "it happens every thirty years, and {} was there last time", "an old neighbour"),
        ("Dead Man Calling", "the voicemails come from {}, who died last spring", "someone"),
        ("Cover-up", "{} buried the original police report", "the sheriff"),
        ("Not the First", "{} hired other investigators before, and none came back", "the client"),
    ],
}  # fmt: skip

_REVEALS: dict[Genre, list[str]] = {
    "fantasy": [
        "a letter in the wrong handwriting", "an NPC slips and uses a name they shouldn't know",
        "a portrait in a locked room", "the villain laughs and simply tells them", "a dying henchman's last words",
        "a PC recognises a scar",
    ],
    "scifi": [
        "a timestamp that doesn't add up", "a deleted log, half recovered", "a DNA scan flags a mismatch",
        "a voice print on an old recording", "the AI answers a question it shouldn't",
    ],
    "modern": [
        "a photo in the wrong album", "a phone bill with one number on repeat", "a slip of the tongue at the funeral",
        "the dog knows them", "an old newspaper in the attic",
    ],
}  # fmt: skip

_CONSEQUENCES: dict[Genre, list[str]] = {
    "fantasy": [
        "their reward is now worthless", "the town turns against them", "an ally becomes an enemy overnight",
        "they have three days before it's too late", "the law is now hunting them", "they owe a very dangerous favour",
    ],
    "scifi": [
        "their docking rights are revoked", "the station locks down with them inside", "their contract is void",
        "a bounty goes out on the crew", "they have one jump's worth of fuel",
    ],
    "modern": [
        "the police now suspect them", "their client stops answering", "the story hits the news tonight",
        "someone knows where they live", "they have until the next full moon",
    ],
}  # fmt: skip

_FORESHADOW: dict[Genre, list[str]] = {
    "fantasy": [
        "mention the employer's nervous glance at the map", "have a beggar call a PC by the wrong name",
        "let a coin with the villain's crest change hands", "put a fresh grave where none should be",
        "describe the same stranger in two different towns", "have the bells ring at the wrong hour",
    ],
    "scifi": [
        "have a door open before anyone touches it", "let a crewmate know a detail they weren't told",
        "show the same face on two stations' security feeds", "have the clocks disagree by a few minutes",
    ],
    "modern": [
        "have the same car parked outside twice", "let a local know a PC's name before introductions",
        "put a fresh bouquet on an old grave", "have the radio play the same song at every scene",
    ],
}  # fmt: skip


def roll(d: Draw) -> Twist:
    """A twist from the tables, about the person or group the details name (else a canon person), titled with
    the scene."""
    s = d.subject
    title, template, anyone = d.pick(_TWISTS)
    who = s.name if s.category in ("person", "group") else ""
    if not who and (people := d.people()):
        who = d.rng.choice(people[:6])
    consequence = d.pick(_CONSEQUENCES)
    if tie := d.weave(group="and {} is the first to notice", place="and word reaches {} first"):
        consequence = f"{consequence}, {tie}"
    if context := s.name or short_phrase(d.details):
        title = f"{title}: {context}"
    twist = template.format(who or anyone)
    return Twist(
        name=title,
        twist=twist[:1].upper() + twist[1:] + ".",
        reveal=d.pick(_REVEALS),
        consequence=consequence,
        foreshadowing=d.pick(_FORESHADOW),
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
