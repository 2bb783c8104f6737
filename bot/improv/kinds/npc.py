"""NPC: a non-player character the GM can voice right now."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from typing import ClassVar

from pydantic import Field

from bot.improv.kinds.base import Improv, Kind, KindInfo, KindSpec
from bot.improv.kinds.common import Avoid, Focus, canon_or, make_name


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


_ROLES = [
    "nervous ferryman",
    "retired duelist",
    "itinerant tinker",
    "temple bookkeeper",
    "disgraced herald",
    "mushroom forager",
    "toll collector",
    "lamp-lighter",
    "debt collector",
    "wandering cartographer",
    "apprentice alchemist",
    "hedge witch",
    "veteran caravan guard",
    "gravedigger",
    "fishwife with ambitions",
    "minor noble in hiding",
    "street preacher",
    "beekeeper",
    "pawnbroker",
    "deserter from the city watch",
    "puppeteer",
    "rat-catcher",
    "midwife",
    "smuggler posing as a monk",
]

_LOOKS = [
    "ink-stained fingers and a borrowed coat",
    "a burn scar shaped like a key",
    "mismatched boots, one very new",
    "braided beard threaded with copper rings",
    "too many rings, none of them gold",
    "a hat with a live moth on it",
    "eyes that never quite settle",
    "freshly mended sleeve, badly",
    "a smile missing one tooth",
    "soot to the elbows",
    "perfumed like crushed mint",
    "a wooden hand carved with runes",
    "polished armour two sizes too big",
    "a falcon feather pinned to the collar",
    "bare feet, spotless",
    "a child's drawing tucked in the belt",
    "grey at the temples though young",
    "a cough they hide in a handkerchief",
    "sun-dark skin and pale palms",
    "spectacles held together with wire",
]

_VOICES = [
    "answers questions with questions",
    "whispers the important words",
    "hums between sentences",
    "counts on their fingers while talking",
    "laughs a beat too late",
    "speaks in proverbs that don't fit",
    "calls everyone 'cousin'",
    "over-enunciates every consonant",
    "taps the table twice before lying",
    "switches to a formal register when nervous",
    "never uses anyone's name",
    "swears by obscure saints",
    "trails off and waits for you to finish",
    "talks to an animal that isn't there",
    "very loud, very warm",
    "clipped military brevity",
    "apologises constantly",
    "narrates their own actions",
]

_WANTS = [
    "to get out of town before sunrise",
    "a letter delivered unopened",
    "their sibling's name cleared",
    "a rare herb that blooms only at night",
    "revenge on a former partner",
    "to be taken seriously by the guild",
    "someone to taste-test a dubious recipe",
    "their stolen tools back",
    "to sell a map they can't read",
    "to find out who has been following them",
    "an escort through the old road",
    "a debt forgiven",
    "proof that the ghost is real",
    "to buy back a family heirloom",
    "to win tonight's wager",
    "a new name and a new face",
]

_SECRETS = [
    "is paid to watch the party",
    "buried something under the well",
    "is the thief everyone is looking for",
    "owes money to very dangerous people",
    "is not who their papers say",
    "can hear the dead, faintly",
    "started the fire last winter",
    "is secretly royalty three times removed",
    "is working for both sides",
    "has a twin who does the dangerous jobs",
    "knows the real way into the vault",
    "was cursed and hides the mark",
    "poisoned the previous owner",
    "is a shapeshifter's favourite disguise",
    "is in love with the villain",
    "forged the treaty everyone relies on",
]

_HOOKS = [
    "asks the party to carry a sealed box",
    "mistakes one PC for someone they wronged",
    "offers a job too good to be true",
    "collapses at the party's feet with a warning",
    "recognises a PC's weapon",
    "sells them a clue by accident",
    "begs for help before the bells ring",
    "is arrested in front of them",
    "pays in coins from a sunken ship",
    "knows where the party's quarry slept last night",
]

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"“'])")

_VOICE_CUE = re.compile(
    r"\b(speaks?|speaking|voice|hums?|whispers?|mutters?|stammers?|says|talks?|laughs?|taps?|sings?|accent|drawl)\b",
    re.IGNORECASE,
)

_WANT_CUE = re.compile(r"\b(wants?|wishes|hopes?|longs?|seeks?|desires?|dreams? of|needs?)\b", re.IGNORECASE)

_SECRET_CUE = re.compile(
    r"\b(secret\w*|hid(?:es|den|ing)?|conceals?|fears?|nobody knows|no one knows|has not decided|blames?)\b",
    re.IGNORECASE,
)


def _sentences(text: str) -> list[str]:
    text = " ".join(text.replace("**", "").split())
    return [s.strip() for s in _SENTENCE.split(text) if len(s.strip()) > 3]


def _short(text: str, limit: int = 180) -> str:
    text = text.strip()
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",;") + "…"


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


def roll(rng: random.Random, canon: Sequence[str], details: str, avoid: Avoid, focus: Focus | None) -> NPC:
    """An NPC from the tables; the canon person themself when the details point at their passage."""
    hook = rng.choice(_HOOKS)
    role = rng.choice(_ROLES)
    look, voice, want, secret = rng.choice(_LOOKS), rng.choice(_VOICES), rng.choice(_WANTS), rng.choice(_SECRETS)
    if focus is not None and focus.person:
        # the details describe a canon person: that person, drawn from their passage where it says
        sentences = _sentences(focus.passage.text)
        used: set[int] = set()

        def take(cue: re.Pattern[str]) -> str:
            for i, sentence in enumerate(sentences):
                if i not in used and cue.search(sentence):
                    used.add(i)
                    return _short(sentence)
            return ""

        want = take(_WANT_CUE) or want
        secret = take(_SECRET_CUE) or secret
        described = next((i for i in range(len(sentences)) if i not in used), None)
        if described is not None:
            used.add(described)
            seen_look, seen_voice = _split_voice(sentences[described])
            look = _short(seen_look) if seen_look else look
            voice = _short(seen_voice) if seen_voice else (take(_VOICE_CUE) or voice)
        own = set(focus.person.split())
        strangers = [n for n in canon if not own & set(n.split())]  # "Tobin" is Tobin Marsh himself
        others = [n for n in strangers if n in focus.passage.text]
        tie = others[0] if others else canon_or(rng, strangers, "")
        return NPC(
            name=focus.person,
            role=focus.role or details.strip()[:60] or role,
            look=look,
            voice=voice,
            want=want,
            secret=secret,
            hook=f"{hook}; it ties back to {tie}" if tie else hook,
        )
    if focus is not None:
        hook = f"{hook}; it ties back to {focus.leaf}"
    elif canon:
        hook = f"{hook}; it ties back to {canon_or(rng, canon, '')}"
    return NPC(
        name=make_name(rng, avoid),
        role=details.strip()[:60] or role,
        look=look,
        voice=voice,
        want=want,
        secret=secret,
        hook=hook,
    )


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
