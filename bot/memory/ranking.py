"""Store-agnostic re-ranking: fuse the vector store's dense scores with a lexical (BM25) score.

The store returns its top-N dense candidates with their texts; `rerank` scores them again with BM25
computed over those candidates (plus a bonus for query words in the heading path) and returns the best k.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

__all__ = [
    "STOP_WORDS",
    "BM25Index",
    "Candidate",
    "rerank",
    "tokenize",
]

_STOP_TEXT = """
a about above after again against all also am an and any are as at be because been before being below between both
but by can could did do does doing down during each few for from further had has have having he her here hers herself
him himself his how i if in into is it its itself just me might more most must my myself no nor not now of off on once
only or other our ours ourselves out over own same shall she should so some such than that the their theirs them
themselves then there these they this those through to too under until up upon us very was we were what when where
which while who whom whose why will with would you your yours yourself yourselves give tell list get got make makes
made use used using one two exactly happens happen
"""
STOP_WORDS = frozenset(_STOP_TEXT.split())

_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    """A deliberately light stemmer: possessives and plurals only (keeps proper names intact).

    Cached: a campaign's vocabulary is small and re-ranking stems every word of every candidate.
    """
    if word.endswith(("'s", "’s")):
        word = word[:-2]
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def tokenize(text: str, *, keep_stop_words: bool = False) -> list[str]:
    """Lower-cased, lightly stemmed word tokens; stop words dropped unless asked."""
    words = _WORD.findall(text.lower().replace("’", "'"))
    if keep_stop_words:
        return [_stem(w) for w in words]
    return [_stem(w) for w in words if w not in STOP_WORDS]


@lru_cache(maxsize=4096)
def _candidate_terms(text: str) -> tuple[str, ...]:
    """`tokenize(text)`, cached: a guild's searches keep re-ranking the same chunks."""
    return tuple(tokenize(text))


class BM25Index:
    """Okapi BM25 over a fixed list of token lists."""

    def __init__(self, documents: Iterable[Sequence[str]], *, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        self._freqs: list[Counter[str]] = [Counter(doc) for doc in documents]
        self._lengths = [sum(f.values()) for f in self._freqs]
        self._avg = (sum(self._lengths) / len(self._lengths)) if self._lengths else 0.0
        df: Counter[str] = Counter()
        for freqs in self._freqs:
            df.update(freqs.keys())
        n = len(self._freqs)
        self._idf = {term: math.log(1.0 + (n - count + 0.5) / (count + 0.5)) for term, count in df.items()}
        self._postings: dict[str, list[int]] = {}
        for index, freqs in enumerate(self._freqs):
            for term in freqs:
                self._postings.setdefault(term, []).append(index)

    def __len__(self) -> int:
        return len(self._freqs)

    def idf(self, term: str) -> float:
        """Inverse document frequency of `term` (0 when unseen)."""
        return self._idf.get(term, 0.0)

    def scores(self, query: Sequence[str]) -> list[float]:
        """BM25 score of every document for the query tokens."""
        out = [0.0] * len(self._freqs)
        for term in set(query):
            idf = self._idf.get(term)
            if idf is None:
                continue
            for index in self._postings[term]:
                tf = self._freqs[index][term]
                norm = self.k1 * (1.0 - self.b + self.b * self._lengths[index] / (self._avg or 1.0))
                out[index] += idf * tf * (self.k1 + 1.0) / (tf + norm)
        return out

    def top(self, query: Sequence[str], k: int) -> list[tuple[int, float]]:
        """The k best (index, score) pairs, best first; documents scoring 0 are left out."""
        scored = [(i, s) for i, s in enumerate(self.scores(query)) if s > 0]
        scored.sort(key=lambda pair: (-pair[1], pair[0]))
        return scored[:k]


@dataclass(frozen=True)
class Candidate:
    """One dense-retrieval candidate as the store returns it; `payload` carries the store's own record."""

    text: str
    heading_path: tuple[str, ...]
    score: float  # dense cosine similarity from the store
    chunk_id: str = ""
    payload: Any = field(default=None, compare=False)
    lexical: float = 0.0  # filled in by rerank: normalised BM25 score
    fused: float = 0.0  # filled in by rerank: the score the final order uses


# Fusion weights, tuned on bench/retrieval.py (see docs/benchmarks.md).
DENSE_WEIGHT = 1.0
LEXICAL_WEIGHT = 0.35
HEADING_WEIGHT = 0.1
MIN_SPREAD = 0.15


def rerank(query: str, candidates: Sequence[Candidate], k: int) -> list[Candidate]:
    """The k best candidates by fused dense + lexical score, best first (stable on ties)."""
    if not candidates or k <= 0:
        return []
    query_terms = tokenize(query)
    bodies = [_candidate_terms(c.text) for c in candidates]
    heads = [set(_candidate_terms(" ".join(c.heading_path))) for c in candidates]
    index = BM25Index([(*body, *head) for body, head in zip(bodies, heads, strict=True)])
    lexical = index.scores(query_terms)
    top_lexical = max(lexical) or 1.0
    dense = [c.score for c in candidates]
    best_dense = max(dense)
    spread = max(best_dense - min(dense), MIN_SPREAD)  # a near-tie stays a near-tie
    weights = sum(index.idf(t) for t in set(query_terms)) or 1.0
    fused: list[Candidate] = []
    for position, candidate in enumerate(candidates):
        lex = lexical[position] / top_lexical
        head = sum(index.idf(t) for t in set(query_terms) if t in heads[position]) / weights
        score = DENSE_WEIGHT * (candidate.score - best_dense) / spread + LEXICAL_WEIGHT * lex + HEADING_WEIGHT * head
        fused.append(replace(candidate, lexical=lex, fused=score))
    order = sorted(range(len(fused)), key=lambda i: (-fused[i].fused, i))
    return [fused[i] for i in order[:k]]
