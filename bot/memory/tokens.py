"""Token counts as OpenAI's embedding models see them (`cl100k_base`, the encoding of text-embedding-3-*), offline.

The vocabulary ships inside the `bpe-openai` package (MIT; GitHub's `bpe` Rust crate with a Python wrapper; its
`cl100k_base` file has the sha256 tiktoken checks), so nothing is downloaded at run time: tiktoken itself fetches
the file on first use and fails offline. Counts matched tiktoken's on every text compared (six scripts, English,
emoji, special-token text, long runs of one letter).
"""

from __future__ import annotations

import functools
import re
import threading
import warnings
from typing import Any

__all__ = ["ENCODING", "count_tokens", "split_by_tokens"]

ENCODING = "cl100k_base"
# splitting looks at most this many characters ahead for the next piece (a piece may end up shorter than the limit
# allows, never longer), so cutting a long text costs a few counts of 40,000 characters per piece
_WINDOW = 40_000
_lock = threading.Lock()
_BREAKS = (re.compile(r"\n\s*\n"), re.compile(r"\n"), re.compile(r"[.!?…。！？]\s"), re.compile(r"\s"))


@functools.cache
def _tokenizer() -> Any:
    """bpe-openai's Rust tokenizer itself: it counts without building token lists (and without the Python
    wrapper's rank tables, about 60 MB less)."""
    with _lock, warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # bpe-openai 0.1.4 reads its data with open_binary
        from bpe_openai import _bindings

        return _bindings.tokenizer_for_encoding(ENCODING)


def count_tokens(text: str) -> int:
    """Tokens of `text` in `cl100k_base` (special-token text such as `<|endoftext|>` counts as plain text, as the
    embeddings API reads it)."""
    return int(_tokenizer().count(text))


def _fits(text: str, limit: int) -> bool:
    return count_tokens(text) <= limit


def _last_break(text: str, limit: int) -> int | None:
    """End of the last paragraph, line, sentence or word break in the second half of `text` (the strongest kind
    found), if the prefix up to it is within `limit` tokens."""
    for pattern in _BREAKS:
        ends = [m.end() for m in pattern.finditer(text, len(text) // 2)]
        if ends and ends[-1] < len(text) and _fits(text[: ends[-1]], limit):
            return ends[-1]
    return None


def _cut(window: str, limit: int) -> int:
    """Where the next piece ends: the longest prefix of `window` within `limit` tokens (bisection, every candidate
    counted), moved back to a break in its second half when there is one."""
    lo, hi = 1, len(window)  # one character is at most 4 tokens, and limit is at least 4
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _fits(window[:mid], limit):
            lo = mid
        else:
            hi = mid - 1
    return _last_break(window[:lo], limit) or lo


def split_by_tokens(text: str, limit: int) -> list[str]:
    """`text` in consecutive pieces of at most `limit` tokens each, split at paragraph, line, sentence or word
    breaks where possible; the pieces joined give `text` back (nothing is cut off). One piece when it fits."""
    if limit < 4:
        raise ValueError("limit must be at least 4 tokens")
    if len(text) <= _WINDOW and _fits(text, limit):
        return [text]
    pieces: list[str] = []
    rest = text
    while rest:
        window = rest[:_WINDOW]
        if len(window) == len(rest) and _fits(window, limit):
            pieces.append(rest)
            break
        end = _cut(window, limit)
        pieces.append(rest[:end])
        rest = rest[end:]
    return pieces
