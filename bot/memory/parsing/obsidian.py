"""Obsidian's additions to Markdown, read as plain text: wiki links and embeds, `%% comments %%`, highlights,
block ids, callouts (`> [!type] Title`) and front matter.

A callout of a secret type (`> [!secret]`, `> [!gm]`, folded `> [!secret]- Title` alike, any case) is a GM-only
passage, and so is a note whose front matter says `secret: true` (or `gm`, `gm-only`): the parser marks its
sections `gm_only`, which chunking, the chunk rows and the vector stores carry, so players never see it even in a
player-safe document. Every pattern here is linear in its input (see markdown.py).
"""

from __future__ import annotations

import re

__all__ = [
    "SECRET_CALLOUTS",
    "Callout",
    "callout",
    "inline",
    "quote_depth",
    "split_front_matter",
    "strip_comments",
]

#: callout types whose passage is the GM's alone (compared in lower case)
SECRET_CALLOUTS = frozenset({"secret", "gm", "gm-only", "gm_only", "gmonly", "dm", "dm-only", "dm_only"})
#: front-matter keys that make a whole note GM-only when true
_SECRET_KEYS = SECRET_CALLOUTS | {"gm-secret", "private"}
_TRUE = frozenset({"true", "yes", "on", "1"})

# `[[Page]]`, `[[Page|Alias]]`, `[[Page#Heading]]`, `![[embed.png|200]]`: the scan from `[[` stops at the next
# bracket, so scans from different openings never overlap
_WIKI = re.compile(r"(!?)\[\[([^\[\]\n]*)\]\]")
_HIGHLIGHT = re.compile(r"==([^=\n]+)==")
_BLOCK_ID = re.compile(r"(?:^|[ \t])\^[A-Za-z0-9-]+[ \t]*$")
_CALLOUT = re.compile(r"\[!([A-Za-z][\w-]{0,40})\]([+-]?)(?:[ \t]+(.*))?\Z")
_KEY = re.compile(r"([A-Za-z_][\w-]{0,40})[ \t]*:[ \t]*(.*)\Z")
_MEDIA = frozenset(
    [
        "png",
        "jpg",
        "jpeg",
        "gif",
        "webp",
        "svg",
        "bmp",
        "avif",
        "heic",
        "tif",
        "tiff",
        "ico",
        "mp3",
        "wav",
        "ogg",
        "m4a",
        "flac",
        "3gp",
        "webm",
        "mp4",
        "mov",
        "mkv",
        "ogv",
        "pdf",
        "canvas",
        "excalidraw",
        "base",
    ]
)


def strip_comments(text: str) -> str:
    """The text without `%% ... %%` comments (inline or over lines), in one pass. As in Obsidian, an unclosed
    `%%` hides the rest of the note."""
    out: list[str] = []
    position = 0
    while (start := text.find("%%", position)) != -1:
        out.append(text[position:start])
        end = text.find("%%", start + 2)
        if end == -1:
            position = len(text)
            break
        position = end + 2
    out.append(text[position:])
    return "".join(out)


def _link_text(match: re.Match[str]) -> str:
    """A wiki link as the words a reader sees: the alias, else the page (or heading) name; media embeds vanish."""
    embed, inner = match.group(1), match.group(2)
    target, _, alias = inner.partition("|")
    target = target.rstrip("\\").strip()  # `[[Page\|Alias]]` inside a table
    page, _, anchor = target.partition("#")
    page = page.strip().rsplit("/", 1)[-1]
    suffix = page.rsplit(".", 1)[-1].lower() if "." in page else ""
    if embed and suffix in _MEDIA:
        return ""
    if alias.strip() and not (embed and alias.strip().isdigit()):
        return alias.strip()
    if suffix == "md":
        page = page[:-3]
    if page:
        return page
    anchor = anchor.strip().lstrip("#")
    return "" if anchor.startswith("^") else anchor.strip()


def inline(line: str) -> str:
    """`line` with wiki links and embeds as plain text, highlights unmarked and a trailing block id dropped."""
    if "[[" in line:
        line = _WIKI.sub(_link_text, line)
    if "==" in line:
        line = _HIGHLIGHT.sub(r"\1", line)
    if "^" in line:
        line = _BLOCK_ID.sub("", line)
    return line


def quote_depth(raw: str) -> tuple[int, str]:
    """How many `>` quote the line, and its content after them."""
    index = depth = 0
    size = len(raw)
    while True:
        scan = index
        while scan < size and raw[scan] in " \t":
            scan += 1
        if scan < size and raw[scan] == ">":
            depth += 1
            index = scan + 1
        else:
            break
    return depth, raw[index:].strip() if depth else raw.strip()


class Callout:
    """A callout's first line: its type (lower case), whether it is secret, and its title ("" when none)."""

    __slots__ = ("kind", "secret", "title")

    def __init__(self, kind: str, title: str) -> None:
        self.kind = kind
        self.secret = kind in SECRET_CALLOUTS
        self.title = title


def callout(content: str) -> Callout | None:
    """The callout a quote's content opens (`[!note]- Title`), or None."""
    if not content.startswith("[!"):
        return None
    match = _CALLOUT.match(content)
    if match is None:
        return None
    return Callout(match.group(1).lower(), (match.group(3) or "").strip())


def split_front_matter(text: str) -> tuple[bool, str]:
    """(whether the front matter marks the note GM-only, the text without its front matter). Front matter is
    YAML between `---` lines at the very start; aliases, tags and the rest are not indexed as text."""
    if not text.startswith("---\n"):
        return False, text
    end = text.find("\n---", 3)
    if end == -1:
        return False, text
    header = text[4:end]
    if ":" not in header:
        return False, text
    newline = text.find("\n", end + 4)
    body = text[newline + 1 :] if newline != -1 else ""
    secret = False
    for line in header.split("\n"):
        match = _KEY.match(line.strip())
        if match and match.group(1).lower() in _SECRET_KEYS:
            secret = secret or match.group(2).strip().strip("'\"").lower() in _TRUE
    return secret, body
