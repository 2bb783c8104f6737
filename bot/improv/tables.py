"""Offline random tables: an answer for every kind with no model, no network and no waiting.

Used when there is no API key, on a timeout, error, invalid output, an open circuit or an exhausted quota.
Where the guild has notes, canon names are woven in (a hook that points at a canon character or place), so
even the offline answer feels like the GM's campaign. When the GM's details point at a retrieved passage (they
share words with its heading), the answer is about that canon: an NPC request for a canon person gets that
person (name and role from the heading, look, voice, want and secret from the passage's sentences where simple
keyword matching finds them), and other kinds carry the passage's heading or the details in their title.
Everything is deterministic under a seeded `random.Random`. All table content is original to this project.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.improv.kinds import (
    NPC,
    Encounter,
    Improv,
    Kind,
    Location,
    Loot,
    LootItem,
    NameEntry,
    Names,
    Rumor,
    RumorEntry,
    Tavern,
    Twist,
)
from bot.memory.ranking import tokenize
from bot.memory.types import Passage

__all__ = ["Focus", "find_focus", "make_name", "roll"]

# --- names -------------------------------------------------------------------------------------------------
_FIRST_A = ["Al", "Bra", "Cor", "Da", "El", "Fen", "Gar", "Hal", "Is", "Jor", "Ka", "Lor", "Mar", "Ner", "Or"]
_FIRST_B = ["Pel", "Quin", "Ros", "Sel", "Tam", "Ul", "Vey", "Wen", "Yor", "Zan", "Ash", "Bel", "Cael", "Dov"]
_FIRST_END = ["a", "ric", "wyn", "dra", "mon", "eth", "is", "o", "ara", "ick", "elle", "an", "ys", "orn", "ette"]
_LAST_A = ["Ash", "Black", "Copper", "Dun", "Elder", "Frost", "Gold", "Hollow", "Iron", "Moss", "Oak", "Quill"]
_LAST_B = ["Raven", "Salt", "Thorn", "Under", "Vine", "Wick", "Amber", "Brindle", "Cinder", "Dapple", "Fallow"]
_LAST_END = ["wood", "field", "brook", "more", "ford", "hand", "well", "mantle", "stone", "ley", "barrow", "croft"]

_PLACE_ADJ = [
    "Drowned",
    "Crooked",
    "Silent",
    "Gilded",
    "Broken",
    "Hollow",
    "Weeping",
    "Sunken",
    "Ashen",
    "Lantern-lit",
    "Forgotten",
    "Thorned",
    "Salt-crusted",
    "Moonlit",
    "Rusting",
    "Whispering",
    "Sleeping",
    "Burnt",
    "Painted",
]
_PLACE_NOUN = [
    "Mill",
    "Chapel",
    "Causeway",
    "Orchard",
    "Bell Tower",
    "Ferry Landing",
    "Quarry",
    "Market",
    "Bathhouse",
    "Watchtower",
    "Crossroads",
    "Cistern",
    "Library",
    "Smithy",
    "Granary",
    "Shrine",
    "Lighthouse",
    "Archive",
]

# --- NPCs --------------------------------------------------------------------------------------------------
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

# --- locations ---------------------------------------------------------------------------------------------
_IMPRESSIONS = [
    "Cold air that smells of wet stone and old smoke.",
    "Wind chimes made of bone clatter overhead.",
    "Everything is covered in a fine red dust.",
    "Candles burn in every window, but nobody answers.",
    "The floor slopes, as if the place is slowly sinking.",
    "Birdsong stops the moment you enter.",
    "Warm light, bread smell, and a guard dog that won't stop staring.",
    "A drowned bell rings somewhere below.",
    "Fresh flowers on a grave with no name.",
    "Chalk marks on every doorframe, counting something.",
    "Fog pools ankle-deep and flows uphill.",
    "The air tastes of copper and rain.",
]
_DETAILS = [
    "a cracked mosaic of a three-eyed saint",
    "a rope bridge with new knots in old rope",
    "a locked chest bolted to the ceiling",
    "a well that echoes a second too late",
    "muddy boot prints that end at a wall",
    "a statue with its face chiselled off",
    "an abandoned meal, still warm",
    "a ledger with the last page torn out",
    "a door painted over many times",
    "a shrine where coins are left face-down",
    "a collapsed stair with a hidden landing",
    "a cage, open, sized for a child",
    "a mural that changes when no one watches",
    "a tidy bedroll beside a fresh fire",
    "hooks hung with lanterns of green glass",
    "a pool of still water reflecting stars by day",
]
_DANGERS = [
    "rotten floorboards over a long drop",
    "a patient ambush waiting for the third visitor",
    "spores that cause vivid lies",
    "a swarm nesting in the rafters",
    "a guardian construct that only obeys passwords",
    "rising water at high tide",
    "a cursed object that whispers promises",
    "bandits using it as a toll point",
    "a sinkhole that opens at noise",
    "a hungry thing sealed in the cellar, almost free",
]
_LOC_SECRETS = [
    "a passage to the sewers behind the altar",
    "the owner died years ago and someone took their place",
    "a cache of forged coins under a loose stone",
    "the place is a prison for a minor spirit",
    "a smuggler's signal lamp in the highest window",
    "a map scratched into the underside of a table",
    "the dead here are not buried, only hidden",
    "a door that opens only for those who knock backwards",
]
_LOC_HOOKS = [
    "someone the party needs was last seen here",
    "a reward is posted for whatever lives below",
    "it is on the only road out",
    "a PC dreamed of this exact place",
    "the locals refuse to say why it's empty",
    "it holds the missing piece of an earlier clue",
]

# --- taverns -----------------------------------------------------------------------------------------------
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

# --- encounters --------------------------------------------------------------------------------------------
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

# --- loot --------------------------------------------------------------------------------------------------
_LOOT_PLACES = [
    "The Bandit's Strongbox",
    "A Dead Courier's Satchel",
    "Under the Altar Stone",
    "The Collector's Shelf",
    "A Drowned Sailor's Pockets",
    "The Ogre's Hoard",
    "A Noble's Hidden Drawer",
    "Behind the Loose Brick",
]
_LOOT_ITEMS = [
    ("Whistle of the Lost Hound", "a bone whistle; any dog that hears it follows you for an hour", "25 gp"),
    ("Candle of Honest Flame", "burns blue when a lie is spoken near it", "60 gp"),
    ("Cartographer's Compass", "points toward the nearest unmapped place", "40 gp"),
    ("Silvered Dagger", "balanced, inscribed 'for the long night'", "15 gp"),
    ("Jar of Storm Salt", "thrown, it crackles with a small thunderclap", "20 gp"),
    ("Ring of the Second Face", "once a day, your reflection winks back and lies for you", "80 gp"),
    ("Pouch of Foreign Coins", "heavy, old, stamped with a crown nobody recognises", "12 gp"),
    ("Boots of Quiet Steps", "soft soles, muffling footfalls on stone", "50 gp"),
    ("Letter of Credit", "for a bank that closed a century ago", "1 gp"),
    ("Potion of Borrowed Courage", "fearless for a minute, shaky for an hour", "30 gp"),
    ("Clockwork Beetle", "wind it up and it finds the nearest keyhole", "35 gp"),
    ("Moth-Eaten Banner", "of a mercenary company thought destroyed", "5 gp"),
    ("Bag of Everburning Coals", "warm for a week, never lights anything", "10 gp"),
    ("Pearl of Small Breath", "hold it in your mouth to breathe underwater for a minute", "45 gp"),
]
_CURIOSITIES = [
    "a doll with one of the PCs' faces stitched on",
    "a love letter signed by the villain",
    "a tooth in a silver locket",
    "a child's drawing of a door that isn't there",
    "a key made of ice that doesn't melt",
    "a list of names, two crossed out",
    "a wax seal from a temple that burned down",
    "a music box that plays a song a PC's mother sang",
]

# --- rumors ------------------------------------------------------------------------------------------------
_RUMOR_PLACES = [
    "Whispers at the Bar",
    "Market Gossip",
    "Talk on the Docks",
    "Heard in the Temple Queue",
    "Campfire Tales",
    "Servants' Chatter",
]
_RUMORS = [
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

# --- twists ------------------------------------------------------------------------------------------------
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

_NAME_NOTES = [
    "a tavern keeper",
    "a retired soldier",
    "a young noble",
    "a smuggler",
    "a priest",
    "a scholar",
    "a farmer's daughter",
    "a guard captain",
    "a fence",
    "a travelling minstrel",
    "a hedge witch",
    "a ferryman",
]


# --- focus: the canon passage the details point at ---------------------------------------------------------
_PERSON_HEADING = re.compile(r"^(?P<name>[A-Z][\w'’-]+(?: [A-Z][\w'’-]+){0,3}),\s*(?P<role>[^,]{2,60})$")
_PLACE_TEXT = (
    "mine quarter market hall keep tower street road gate river hills hill town city inn tavern house temple "
    "society guild district square bridge lane forest wood woods lake sea bay harbour harbor port castle fort "
    "village valley pass isle island crypt tomb cave caves ruins shrine chapel church manor estate mill"
)
_PLACE_WORDS = frozenset(_PLACE_TEXT.split())
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
_TAVERN_CUE = re.compile(r"\b(tavern|inn|alehouse|taproom|pub|saloon)\b", re.IGNORECASE)
_ROLE_SPLIT = re.compile(r"\s+(?:of|in|from|at|for|near|under|around|on|by|with)\s+", re.IGNORECASE)
_ARTICLES = ("the ", "a ", "an ", "some ", "few ", "several ", "many ")
_NAME_TRAITS = [
    "new in town",
    "quick with a joke",
    "owes everyone money",
    "the eldest of the lot",
    "sharp-eyed and quiet",
    "a local favourite",
    "nursing an old grudge",
    "the one who keeps the count",
    "always singing",
    "recently widowed",
]


@dataclass(frozen=True, slots=True)
class Focus:
    """The passage the GM's details point at; `person` when its heading names a person (`Name, role`)."""

    passage: Passage
    leaf: str  # the last heading of the passage's heading path
    person: str = ""
    role: str = ""


def _leaf(heading: str) -> str:
    return heading.split("›")[-1].strip()


def _person(leaf: str, canon: Sequence[str]) -> tuple[str, str]:
    """(name, role) when a heading names a person: `Name, role`, or exactly a multi-word canon name."""
    found = _PERSON_HEADING.match(leaf)
    if found and not found["name"].startswith("The "):
        return found["name"], found["role"].strip()
    words = leaf.split()
    if (
        leaf in canon
        and len(words) >= 2
        and words[0] != "The"
        and words[-1].lower() not in _PLACE_WORDS
        and all(w[:1].isupper() for w in words)
    ):
        return leaf, ""
    return "", ""


def find_focus(details: str, passages: Sequence[Passage], canon: Sequence[str] = ()) -> Focus | None:
    """The retrieved passage the details point at: most shared words with its heading (the last heading counts
    double), ties to the better-ranked passage; None without details or without any shared word."""
    terms = set(tokenize(details))
    if not terms:
        return None
    best: tuple[int, int] | None = None
    for rank, passage in enumerate(passages):
        if not passage.heading:
            continue
        leaf = _leaf(passage.heading)
        score = 2 * len(terms & set(tokenize(leaf))) + len(terms & set(tokenize(passage.heading)))
        if score > 0 and (best is None or score > best[0]):
            best = (score, rank)
    if best is None:
        return None
    passage = passages[best[1]]
    leaf = _leaf(passage.heading)
    person, role = _person(leaf, canon)
    return Focus(passage=passage, leaf=leaf, person=person, role=role)


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


def _title_context(details: str, focus: Focus | None) -> str:
    """What the answer is about, for its title: the focused heading (a place or thing), else the details."""
    if focus is not None and not focus.person:
        return focus.leaf
    text = " ".join(details.split())[:60].strip()
    return text[:1].upper() + text[1:] if text else ""


def _role_from_details(details: str, canon_words: set[str]) -> str:
    """The role a names request asks for ("miners of Emberfall" -> "miner"), or "" when none is named."""
    head = _ROLE_SPLIT.split(" ".join(details.split()).lower(), maxsplit=1)[0].strip(" ,.")
    for article in _ARTICLES:
        if head.startswith(article):
            head = head[len(article) :]
    words = [w for w in re.findall(r"[a-z][a-z'’-]*", head) if w not in canon_words]
    if not words or len(words) > 4:
        return ""
    last = words[-1]
    if last.endswith("ies") and len(last) > 4:
        last = last[:-3] + "y"
    elif last.endswith("ves") and len(last) > 4:
        last = last[:-3] + "f"
    elif last.endswith("men"):
        last = last[:-3] + "man"
    elif last.endswith("s") and not last.endswith(("ss", "us", "is")) and len(last) > 3:
        last = last[:-1]
    words[-1] = last
    return " ".join(words)


def make_name(rng: random.Random, avoid: Callable[[str], bool] | None = None) -> str:
    """A fresh two-part name; rerolled (a few times) while `avoid(name)` says it clashes."""
    name = ""
    for _ in range(12):
        first = rng.choice(_FIRST_A + _FIRST_B) + rng.choice(_FIRST_END)
        last = rng.choice(_LAST_A + _LAST_B) + rng.choice(_LAST_END)
        name = f"{first} {last}"
        if avoid is None or not avoid(name):
            return name
    return name


def _canon_or(rng: random.Random, canon: Sequence[str], fallback: str) -> str:
    return rng.choice(list(canon)) if canon else fallback


Avoid = Callable[[str], bool] | None


def _npc(rng: random.Random, canon: Sequence[str], details: str, avoid: Avoid, focus: Focus | None) -> NPC:
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
        tie = others[0] if others else _canon_or(rng, strangers, "")
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
        hook = f"{hook}; it ties back to {_canon_or(rng, canon, '')}"
    return NPC(
        name=make_name(rng, avoid),
        role=details.strip()[:60] or role,
        look=look,
        voice=voice,
        want=want,
        secret=secret,
        hook=hook,
    )


def _location(rng: random.Random, canon: Sequence[str], details: str, avoid: Avoid, focus: Focus | None) -> Location:
    hook = rng.choice(_LOC_HOOKS)
    if canon:
        hook = f"{hook} — and {_canon_or(rng, canon, '')} has an interest in it"
    name = f"The {rng.choice(_PLACE_ADJ)} {rng.choice(_PLACE_NOUN)}"
    if focus is not None and not focus.person:
        name = focus.leaf  # the canon place the details point at
    elif context := _title_context(details, focus):
        name = f"{name} — {context}"
    return Location(
        name=name,
        first_impression=rng.choice(_IMPRESSIONS),
        details=rng.sample(_DETAILS, 3),
        danger=rng.choice(_DANGERS),
        secret=rng.choice(_LOC_SECRETS),
        hook=hook,
    )


def _tavern(rng: random.Random, canon: Sequence[str], details: str, avoid: Avoid, focus: Focus | None) -> Tavern:
    keeper_name = make_name(rng, avoid)
    rumor = rng.choice(_RUMORS)
    if canon:
        rumor = f"{rumor} Someone swears {_canon_or(rng, canon, '')} is involved."
    name = f"The {rng.choice(_TAVERN_A)} {rng.choice(_TAVERN_B)}"
    if focus is not None and not focus.person and _TAVERN_CUE.search(focus.passage.text):
        name = focus.leaf  # the canon tavern the details point at
    elif context := _title_context(details, focus):
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


def _encounter(rng: random.Random, canon: Sequence[str], details: str, avoid: Avoid, focus: Focus | None) -> Encounter:
    reward = rng.choice(_REWARDS)
    if canon:
        reward = f"{reward}; it leads to {_canon_or(rng, canon, '')}"
    name = rng.choice(_ENC_TITLES)
    if context := _title_context(details, focus):
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


def _loot(rng: random.Random, canon: Sequence[str], details: str, avoid: Avoid, focus: Focus | None) -> Loot:
    items = [LootItem(name=n, description=d, value=v) for n, d, v in rng.sample(_LOOT_ITEMS, 3)]
    curiosity = rng.choice(_CURIOSITIES)
    if canon:
        curiosity = f"{curiosity}, marked with the sign of {_canon_or(rng, canon, '')}"
    name = rng.choice(_LOOT_PLACES)
    if context := _title_context(details, None):
        name = context  # where the GM said it is found
    return Loot(name=name, items=items, curiosity=curiosity)


def _rumor(rng: random.Random, canon: Sequence[str], details: str, avoid: Avoid, focus: Focus | None) -> Rumor:
    texts = rng.sample(_RUMORS, 3)
    if canon:
        texts[0] = f"{texts[0]} They say {_canon_or(rng, canon, '')} knows more than they let on."
    rumors = [RumorEntry(text=t, truth=rng.choice(_TRUTHS), source=rng.choice(_SOURCES)) for t in texts]
    name = rng.choice(_RUMOR_PLACES)
    if context := _title_context(details, focus):
        name = f"{name}: {context}"
    return Rumor(name=name, rumors=rumors)


def _twist(rng: random.Random, canon: Sequence[str], details: str, avoid: Avoid, focus: Focus | None) -> Twist:
    title, twist = rng.choice(_TWISTS)
    consequence = rng.choice(_CONSEQUENCES)
    if canon:
        consequence = f"{consequence}, and {_canon_or(rng, canon, '')} is the first to notice"
    if context := _title_context(details, focus):
        title = f"{title}: {context}"
    return Twist(
        name=title,
        twist=twist[0].upper() + twist[1:] + ".",
        reveal=rng.choice(_REVEALS),
        consequence=consequence,
        foreshadowing=rng.choice(_FORESHADOW),
    )


def _names(rng: random.Random, canon: Sequence[str], details: str, avoid: Avoid, focus: Focus | None) -> Names:
    seen: set[str] = set()
    entries: list[NameEntry] = []
    canon_words = {w.lower() for n in canon for w in n.split()}
    if focus is not None:
        canon_words |= {w.lower() for w in focus.leaf.split()}
    role = _role_from_details(details, canon_words)
    traits = rng.sample(_NAME_TRAITS, 6)
    while len(entries) < 6:
        name = make_name(rng, avoid)
        if name in seen:
            continue
        seen.add(name)
        # the role the details ask for (miners stay miners), else a table role
        note = f"{_article(role)} {role}, {traits[len(entries)]}" if role else rng.choice(_NAME_NOTES)
        entries.append(NameEntry(name=name, note=note))
    if canon:
        first = entries[0]
        entries[0] = NameEntry(name=first.name, note=f"{first.note}, kin to {_canon_or(rng, canon, '')}")
    title = f"Names: {details.strip()[:80]}" if details.strip() else "Names for the moment"
    return Names(name=title, entries=entries)


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


_ROLLERS: dict[Kind, Callable[[random.Random, Sequence[str], str, Avoid, Focus | None], Improv]] = {
    "npc": _npc,
    "location": _location,
    "tavern": _tavern,
    "encounter": _encounter,
    "loot": _loot,
    "rumor": _rumor,
    "twist": _twist,
    "names": _names,
}


def roll(
    kind: Kind,
    *,
    rng: random.Random | None = None,
    canon: Sequence[str] = (),
    details: str = "",
    avoid: Callable[[str], bool] | None = None,
    passages: Sequence[Passage] = (),
) -> Improv:
    """A random result of `kind` from the offline tables.

    `canon` names (from the guild's retrieved notes) are woven into hooks; `avoid(name)` rejects generated names
    that would clash with canon; `passages` (retrieved for the details, best first) let the answer be about the
    canon the details point at (see `find_focus`).
    """
    focus = find_focus(details, passages, canon) if passages else None
    return _ROLLERS[kind](rng or random.Random(), canon, details, avoid, focus)
