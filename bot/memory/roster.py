"""Canon proper names of a campaign, read from its chunks: headings and recurring proper nouns.

Deterministic and fast (regular expressions over the chunk texts, no model). A capitalised word counts as
part of a name only where capitalisation is informative: not at the start of a sentence, line or list item,
and (for a single word) never seen written in lower case elsewhere in the notes.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from bot.memory.chunking import Chunk
from bot.memory.ranking import STOP_WORDS

__all__ = ["extract_canon_names"]

_CONNECTORS = frozenset({"of", "the", "de", "du", "da", "von", "van", "la", "le", "al", "and"})
_ARTICLES = frozenset({"the", "a", "an"})
_NAME_WORD = r"[A-Z][A-Za-z'’\-]*[A-Za-z]|[A-Z]"
_SEQUENCE = re.compile(
    rf"(?<![\w'’\-])(?:{_NAME_WORD})(?:[ \t]+(?:(?:of|the|de|du|da|von|van|la|le|al|and)[ \t]+)*(?:{_NAME_WORD}))*"
)
_LOWER_WORD = re.compile(r"(?<![\w'’\-])[a-z][a-z'’\-]*[a-z](?![\w'’\-])")
_SENTENCE_BREAK = frozenset('.!?:;"“”(—–-•|*#>')
# Capitalised words that are not names even where capitalisation looks informative.
_NOT_NAMES_TEXT = """i i'm i'd i'll i've ok okay yes no mr mrs ms dr sir lady lord gm gms npc npcs pc pcs dm hp ac dc xp cr
    monday tuesday wednesday thursday friday saturday sunday january february march april may june july august
    september october november december chapter page table section example note see"""
_NOT_NAMES = frozenset(_NOT_NAMES_TEXT.split())


def _sentence_initial(text: str, start: int) -> bool:
    """Whether position `start` begins a sentence, line, list item or quotation."""
    index = start - 1
    while index >= 0 and text[index] in " \t":
        index -= 1
    if index < 0 or text[index] == "\n":
        return True
    if text[index] in _SENTENCE_BREAK:
        return True
    return text[index].isdigit() and index + 1 < start and (index == 0 or not text[index - 1].isalnum())


def _trim(words: list[str]) -> list[str]:
    while words and words[0].lower() in _CONNECTORS | _ARTICLES:
        words = words[1:]
    while words and words[-1].lower() in _CONNECTORS:
        words = words[:-1]
    return words


def extract_canon_names(chunks: Sequence[Chunk], *, limit: int = 200) -> list[str]:
    """Proper names in `chunks`, most frequent first (ties in order of first appearance), at most `limit`."""
    lower_words: set[str] = set()
    mid: Counter[str] = Counter()
    anywhere: Counter[str] = Counter()
    first_seen: dict[str, int] = {}
    headings: list[str] = []
    seen_headings: set[str] = set()

    for chunk in chunks:
        text = chunk.text
        lower_words.update(w.replace("’", "'") for w in _LOWER_WORD.findall(text))
        for title in chunk.heading_path:
            if title not in seen_headings:
                seen_headings.add(title)
                headings.append(title)
        for match in _SEQUENCE.finditer(text):
            words = match.group(0).split()
            initial = _sentence_initial(text, match.start())
            if initial and len(words) > 1 and words[0].lower() in STOP_WORDS | _ARTICLES:
                words = words[1:]  # "The Flock …" / "When Sweeney …": the first word tells nothing
                initial = False if len(words) > 1 else initial
            words = _trim(words)
            if not words:
                continue
            name = " ".join(words)
            anywhere[name] += 1
            if not initial:
                mid[name] += 1
            first_seen.setdefault(name, len(first_seen))

    def plausible(name: str) -> bool:
        words = name.split()
        key = name.lower().replace("’", "'")
        if key in _NOT_NAMES or len(name) < 3 or any(ch.isdigit() for ch in name):
            return False
        if len(words) == 1:
            return (
                key not in STOP_WORDS
                and key not in lower_words
                and not name.isupper()
                and not key.endswith("'s")
                and not key.endswith("’s")
            )
        return not all(w.lower() in STOP_WORDS | _NOT_NAMES | _CONNECTORS for w in words)

    scores: Counter[str] = Counter()
    for name, count in anywhere.items():
        if count >= 2 and mid[name] >= 1 and plausible(name):
            scores[name] = count
    for title in headings:  # a heading is canon when the prose uses it as a proper noun too
        name = " ".join(_trim(title.split()))
        if name and mid[name] >= 1 and plausible(name):
            scores[name] = max(scores[name], anywhere[name]) + 1
            first_seen.setdefault(name, len(first_seen))

    # Drop a single word that only ever occurs inside one longer name ("Raven" inside "White Raven").
    multi = [n for n in scores if " " in n]
    for name in [n for n in scores if " " not in n]:
        containing = sum(scores[m] for m in multi if name in m.split())
        if containing and containing >= scores[name]:
            del scores[name]

    ordered = sorted(scores, key=lambda n: (-scores[n], first_seen.get(n, 0), n))
    return ordered[:limit]
