"""NPC: a non-player character the GM can voice right now."""

from __future__ import annotations

import re
from typing import ClassVar

from pydantic import Field

from bot.improv.kinds.base import Improv, Kind, KindInfo, KindSpec
from bot.improv.kinds.common import Draw, Genre
from bot.improv.kinds.subject import category_of, role_phrase, sentences, short


class NPC(Improv):
    """A non-player character the GM can voice right now."""

    kind: ClassVar[Kind] = "npc"
    labels: ClassVar[dict[str, str]] = {
        "look": "Look",
        "voice": "Voice",
        "want": "Wants",
        "secret": "Secret",
        "hook": "Hook",
    }
    name_fields: ClassVar[tuple[str, ...]] = ("name",)
    gm_only: ClassVar[tuple[str, ...]] = ("secret",)

    name: str = Field(description="Full name, reusing a canon name only if this IS that canon character")
    role: str = Field(description="Occupation or role in 2-5 words")
    look: str = Field(description="One vivid visual detail")
    voice: str = Field(description="Voice or mannerism the GM can perform")
    want: str = Field(description="What they want right now")
    secret: str = Field(description="Something they hide")
    hook: str = Field(description="How they pull the party into the campaign")

    @property
    def title(self) -> str:
        return f"{self.name} — {self.role}" if self.name and self.role else self.name or self.role


_ROLES: dict[Genre, list[str]] = {
    "fantasy": [
        "nervous ferryman", "retired duelist", "itinerant tinker", "temple bookkeeper", "disgraced herald",
        "mushroom forager", "toll collector", "lamp-lighter", "debt collector", "wandering cartographer",
        "apprentice alchemist", "hedge witch", "veteran caravan guard", "gravedigger", "fishwife with ambitions",
        "minor noble in hiding", "street preacher", "beekeeper", "pawnbroker", "deserter from the city watch",
        "puppeteer", "rat-catcher", "midwife", "smuggler posing as a monk",
    ],
    "scifi": [
        "dock-ring customs officer", "burned-out hull welder", "freelance data courier", "station chaplain",
        "hydroponics tech", "ex-navy pilot", "corporate auditor", "salvage broker", "med-bay orderly",
        "union organiser", "cargo-hauler captain", "xenobiologist on leave", "security contractor",
        "black-market surgeon", "comms relay operator", "colony administrator", "drone wrangler", "AI therapist",
    ],
    "modern": [
        "night-shift nurse", "retired detective", "small-town sheriff's deputy", "motel clerk", "local historian",
        "tow-truck driver", "parish priest", "true-crime podcaster", "pawn shop owner", "hospice volunteer",
        "county records clerk", "diner cook", "insurance investigator", "funeral home director", "radio DJ",
        "antique dealer", "groundskeeper", "substitute teacher",
    ],
}  # fmt: skip

_LOOKS: dict[Genre, list[str]] = {
    "fantasy": [
        "ink-stained fingers and a borrowed coat", "a burn scar shaped like a key", "mismatched boots, one very new",
        "braided beard threaded with copper rings", "too many rings, none of them gold", "a hat with a live moth on it",
        "eyes that never quite settle", "freshly mended sleeve, badly", "a smile missing one tooth",
        "soot to the elbows", "perfumed like crushed mint", "a wooden hand carved with runes",
        "polished armour two sizes too big", "a falcon feather pinned to the collar", "bare feet, spotless",
        "a child's drawing tucked in the belt", "grey at the temples though young",
        "a cough they hide in a handkerchief", "sun-dark skin and pale palms", "spectacles held together with wire",
    ],
    "scifi": [
        "a cracked retinal implant that flickers amber", "vacuum-burn freckles across the nose",
        "a flight jacket with the patches torn off", "magnetic boots that click on every step",
        "a prosthetic arm painted with koi", "hair shaved around an old neural port", "a pressure-suit tan line",
        "a company lanyard worn like a noose", "fingers stained blue from coolant", "a medal pinned upside down",
        "tattooed star charts on both wrists", "a respirator hanging loose at the neck",
        "a spotless uniform on a very tired body", "mismatched eyes, one of them synthetic",
    ],
    "modern": [
        "a raincoat too thin for the weather", "reading glasses pushed up into grey hair", "nicotine-yellow fingers",
        "a hospital bracelet they never took off", "a wedding ring on a chain", "a cardigan buttoned wrong",
        "mud on expensive shoes", "a bandaged hand they keep out of sight", "a faded band T-shirt under a blazer",
        "dark circles and a fresh haircut", "a rosary wound around one wrist", "a name tag with the name scratched out",
        "a car key on a rabbit's-foot ring", "a dog-eared notebook in the breast pocket",
    ],
}  # fmt: skip

_VOICES: dict[Genre, list[str]] = {
    "fantasy": [
        "answers questions with questions", "whispers the important words", "hums between sentences",
        "counts on their fingers while talking", "laughs a beat too late", "speaks in proverbs that don't fit",
        "calls everyone 'cousin'", "over-enunciates every consonant", "taps the table twice before lying",
        "switches to a formal register when nervous", "never uses anyone's name", "swears by obscure saints",
        "trails off and waits for you to finish", "talks to an animal that isn't there", "very loud, very warm",
        "clipped military brevity", "apologises constantly", "narrates their own actions",
    ],
    "scifi": [
        "reads out timestamps nobody asked for", "speaks in clipped radio protocol", "laughs at their own error codes",
        "calls everyone by rank, wrongly", "pauses as if waiting for a translation", "quotes safety regulations",
        "whispers as if the walls record everything", "swears in three station dialects",
        "talks to their ship like a spouse", "ends every sentence with 'copy?'", "over-explains the physics",
        "very calm, far too calm",
    ],
    "modern": [
        "answers every question with 'who's asking?'", "talks fast and checks the window", "hums old gospel songs",
        "calls everyone 'hon'", "won't say the town's name out loud", "laughs too loudly at nothing",
        "speaks softly, as if someone is sleeping", "keeps saying 'I shouldn't be telling you this'",
        "quotes the weather report", "long silences, then everything at once", "polite, precise, rehearsed",
        "interrupts to correct small details",
    ],
}  # fmt: skip

_WANTS: dict[Genre, list[str]] = {
    "fantasy": [
        "to get out of town before sunrise", "a letter delivered unopened", "their sibling's name cleared",
        "a rare herb that blooms only at night", "revenge on a former partner", "to be taken seriously by the guild",
        "someone to taste-test a dubious recipe", "their stolen tools back", "to sell a map they can't read",
        "to find out who has been following them", "an escort through the old road", "a debt forgiven",
        "proof that the ghost is real", "to buy back a family heirloom", "to win tonight's wager",
        "a new name and a new face",
    ],
    "scifi": [
        "a berth on the next outbound hauler", "their debt to the company wiped", "a clean ID chip",
        "to find out what the captain deleted", "a spare air scrubber, no questions asked",
        "their crewmate's body brought home", "to sell a derelict's coordinates", "off this rock before the audit",
        "proof the colony was abandoned on purpose", "their ship back from impound", "a message sent off-grid",
        "someone to vouch for them at the airlock",
    ],
    "modern": [
        "their missing daughter found", "to leave town and never come back", "the tape nobody else has heard",
        "their name kept out of the papers", "to know what's in the basement", "the insurance money, quietly",
        "someone to believe them", "to sell the house before the anniversary", "the old case reopened",
        "their brother to stop calling at 3 a.m.", "a ride out of the county tonight", "the truth about the fire",
    ],
}  # fmt: skip

_SECRETS: dict[Genre, list[str]] = {
    "fantasy": [
        "is paid to watch the party", "buried something under the well", "is the thief everyone is looking for",
        "owes money to very dangerous people", "is not who their papers say", "can hear the dead, faintly",
        "started the fire last winter", "is secretly royalty three times removed", "is working for both sides",
        "has a twin who does the dangerous jobs", "knows the real way into the vault", "was cursed and hides the mark",
        "poisoned the previous owner", "is a shapeshifter's favourite disguise", "is in love with the villain",
        "forged the treaty everyone relies on",
    ],
    "scifi": [
        "sold the crew's route to pirates", "is a clone of someone the party met", "falsified the reactor logs",
        "smuggles embryos in a coolant tank", "is reporting everything to corporate", "caused the hull breach",
        "has an unregistered AI in their earpiece", "knows the distress call is a trap",
        "is wanted under another name on three stations", "hid a survivor from the quarantine",
    ],
    "modern": [
        "was there the night it happened", "has been forging the county's records", "still writes to the dead man",
        "is being blackmailed by someone in town", "sleepwalks to the same spot in the woods",
        "kept the victim's diary", "lied to the police and got away with it", "is not the person on their licence",
        "hears the same song whenever someone dies", "owes money to the people the party is after",
    ],
}  # fmt: skip

_HOOKS: dict[Genre, list[str]] = {
    "fantasy": [
        "asks the party to carry a sealed box", "mistakes one PC for someone they wronged",
        "offers a job too good to be true", "collapses at the party's feet with a warning",
        "recognises a PC's weapon", "sells them a clue by accident", "begs for help before the bells ring",
        "is arrested in front of them", "pays in coins from a sunken ship",
        "knows where the party's quarry slept last night", "wants a witness for a duel at dawn",
        "has the party's names on a list",
    ],
    "scifi": [
        "asks the party to smuggle a sealed cryo-case", "mistakes a PC for a bounty target",
        "offers docking codes too good to be true", "collapses in the corridor with a data chip",
        "recognises a PC's ship from an old war", "is hauled off by station security in front of them",
        "pays in scrip from a bankrupt colony", "knows where the party's quarry docked last",
    ],
    "modern": [
        "asks the party to keep a box for one night", "mistakes a PC for someone who died",
        "slips them a key and walks off fast", "calls one of them by a childhood nickname",
        "is arrested in front of them", "leaves a voicemail that ends in static",
        "knows where the missing person was last seen", "offers cash to stop asking questions",
    ],
}  # fmt: skip

_VOICE_CUE = re.compile(
    r"\b(speaks?|speaking|voice|hums?|whispers?|mutters?|stammers?|says|talks?|laughs?|taps?|sings?|accent|drawl)\b",
    re.IGNORECASE,
)

_WANT_CUE = re.compile(r"\b(wants?|wishes|hopes?|longs?|seeks?|desires?|dreams? of|needs?)\b", re.IGNORECASE)

_SECRET_CUE = re.compile(
    r"\b(secret\w*|hid(?:es|den|ing)?|conceals?|fears?|nobody knows|no one knows|has not decided|blames?)\b",
    re.IGNORECASE,
)

_THEY_WANT = re.compile(r"^(?:they|he|she|it|we)\s+wants?\s+", re.IGNORECASE)


def _split_voice(sentence: str) -> tuple[str, str]:
    """A describing sentence split into (look, voice) at the clause where a mannerism starts, if any."""
    cue = _VOICE_CUE.search(sentence)
    if cue is None:
        return sentence, ""
    cut = max(sentence.rfind(" who ", 0, cue.start()), sentence.rfind(", ", 0, cue.start()))
    if cut <= 0:
        return "", sentence
    look = sentence[:cut].strip(" ,")
    voice = sentence[cut:].strip(" ,")
    voice = voice[4:] if voice.startswith("who ") else voice
    return look, voice[:1].upper() + voice[1:]


def _from_notes(d: Draw, person: str, text: str, whole: bool) -> dict[str, str]:
    """Look, voice, want and secret from a canon person's passage (`whole`: the passage is about them; else only
    the sentences that name them count)."""
    found: dict[str, str] = {}
    lines = sentences(text)
    if not whole:
        first = person.split()[0]
        lines = [s for s in lines if first in s]
        if seen := _appositive_look(person, " ".join(lines)):
            found["look"] = seen
    used: set[int] = set()

    def take(cue: re.Pattern[str]) -> str:
        for i, sentence in enumerate(lines):
            if i not in used and cue.search(sentence):
                used.add(i)
                return short(sentence, 180)
        return ""

    if want := take(_WANT_CUE):
        found["want"] = want if whole else _THEY_WANT.sub("", want)
    if secret := take(_SECRET_CUE):
        found["secret"] = secret
    described = next((i for i in range(len(lines)) if i not in used), None) if whole else None
    if described is not None:
        used.add(described)
        look, voice = _split_voice(lines[described])
        if look:
            found["look"] = short(look, 180)
        if voice:
            found["voice"] = short(voice, 180)
    if "voice" not in found and (voice := take(_VOICE_CUE)):
        found["voice"] = voice
    return found


def _appositive_look(person: str, text: str) -> str:
    found = re.search(re.escape(person) + r",\s*(?P<what>(?:an?|the)\s+[^,.;()]{3,80})", text)
    return found["what"].strip() if found else ""


def _group_want(text: str) -> str:
    """What a group wants, from its passage ("They want X" -> "X")."""
    for sentence in sentences(text):
        if _WANT_CUE.search(sentence):
            return short(_THEY_WANT.sub("", sentence), 160)
    return ""


def roll(d: Draw) -> NPC:
    """An NPC from the tables: the canon person when the details name one, the name the details give, and
    otherwise a fresh name; canon woven in by type (people never get a place's or a group's name)."""
    s = d.subject
    hook = d.pick(_HOOKS)
    values = {"look": d.pick(_LOOKS), "voice": d.pick(_VOICES), "want": d.pick(_WANTS), "secret": d.pick(_SECRETS)}
    role = s.role or role_phrase(d.details)
    if s.category == "person" and s.passage is not None:
        # the details name a canon person: that person, drawn from their passage where it says
        leaf = s.passage.heading.split("›")[-1].strip()
        kind = category_of(s.passage, d.canon)
        # the passage is about them: their own heading, or a place bearing their name ("Widow Pell's apothecary")
        whole = not s.given or (kind != "group" and any(len(w) > 2 and w in leaf for w in s.name.split()))
        values.update(_from_notes(d, s.name, s.text, whole))
        if not role and kind in ("group", "place", "tavern"):
            role = f"of {leaf[:1].lower() + leaf[1:] if leaf.startswith('The ') else leaf}"
        tie = d.weave(person="it ties back to {}", group="it ties back to {}", place="it ties back to {}")
        return NPC(name=s.name, role=role or d.pick(_ROLES), hook=f"{hook}; {tie}" if tie else hook, **values)
    if s.category in ("group", "place", "tavern") and s.passage is not None:
        # someone of that group or from that place, in its terms
        if s.category == "group" and (want := _group_want(s.text)):
            values["want"] = want
        hook = f"{hook}; it ties back to {s.name}"
    elif s.given and s.where is not None:
        hook = f"{hook}; it ties back to {s.where.heading.split('›')[-1].strip()}"
    elif tie := d.weave(person="it ties back to {}", group="it ties back to {}", place="it ties back to {}"):
        hook = f"{hook}; {tie}"
    name = s.name if s.category == "person" and s.given else d.name()
    return NPC(name=name, role=role or d.pick(_ROLES), hook=hook, **values)


SPEC = KindSpec(
    kind="npc",
    info=KindInfo(
        "NPC",
        "A character you can voice right now",
        "Who? e.g. the blacksmith in Emberfall",
        "the blacksmith in Emberfall",
    ),
    schema=NPC,
    brief="a non-player character the GM can voice immediately",
    roll=roll,
)
