"""Markdown and plain-text notes as sections (Obsidian's additions read by obsidian.py)."""

from __future__ import annotations

import html
import re

from bot.memory.parsing import obsidian
from bot.memory.parsing.sections import HTML_TAG, Section, SectionBuilder, clean_line, heading_runs, looks_like_heading

__all__ = ["parse_markdown", "parse_plain_text"]


# Every pattern here runs on untrusted text, so each is linear in the length of the line: no two adjacent
# quantifiers can match the same characters, and a scan that starts at an opening bracket stops at the next
# one (so the scans from different openings never overlap). tests/memory/test_hostile_parsing.py feeds each
# pattern its worst case.
_ATX = re.compile(r" {0,3}(#{1,6})(?:[ \t](.*))?\Z")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_TABLE_CELL = re.compile(r":?-{2,}:?")
_BULLET = re.compile(r"^(\s*)[*+•]\s+")
_PARENS = r"\((?:[^()]|\([^()]*\))*\)"  # (url), one level of nested parentheses allowed
_IMAGE = re.compile(r"!\[([^\[\]]*)\]" + _PARENS)
_LINK = re.compile(r"\[([^\[\]]+)\](?:" + _PARENS + r"|\[[^\[\]]*\])")
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^<>\s]+)>")
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
_ATTRS = re.compile(r"\{[:#.][^{}]*\}|\{%[^{]*?%\}")
_STARS = re.compile(r"\*{1,3}")
_UNDERSCORES = re.compile(r"(?<![A-Za-z0-9])_{1,3}|_{1,3}(?![A-Za-z0-9])")


def _atx_title(rest: str) -> str:
    """An ATX heading's text without its optional closing run of `#`."""
    rest = rest.strip(" \t")
    bare = rest.rstrip("#")
    if not bare:
        return ""
    return bare.rstrip(" \t") if bare != rest and bare.endswith((" ", "\t")) else rest


def _is_rule(raw: str) -> bool:
    """A thematic break: three or more of the same `-`, `*` or `_`, spaces between, at most 3 spaces before."""
    if raw[:4] == "    ":
        return False
    marks = raw.replace(" ", "").replace("\t", "")
    return len(marks) >= 3 and marks[0] in "-*_" and marks == marks[0] * len(marks)


def _is_table_separator(raw: str) -> bool:
    """A Markdown table's header separator row (`| --- | :-: |`)."""
    line = raw.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|"):
        line = line[:-1]
    return bool(line) and all(_TABLE_CELL.fullmatch(cell.strip()) for cell in line.split("|"))


def _strip_html_comments(text: str) -> str:
    """The text without `<!-- ... -->` comments (an unterminated one stays), in one pass."""
    out: list[str] = []
    position = 0
    while (start := text.find("<!--", position)) != -1:
        end = text.find("-->", start + 4)
        if end == -1:
            break
        out.append(text[position:start])
        position = end + 3
    out.append(text[position:])
    return "".join(out)


def _inline_markdown(line: str) -> str:
    """Strip inline Markdown syntax, keeping the words."""
    line = obsidian.inline(line)
    line = _BR.sub(" ", line)
    line = _IMAGE.sub(r"\1", line)
    line = _LINK.sub(r"\1", line)
    line = _AUTOLINK.sub(r"\1", line)
    line = HTML_TAG.sub("", line)
    line = _ATTRS.sub("", line)
    line = _BULLET.sub(r"\1- ", line)
    line = _STARS.sub("", line)
    line = _UNDERSCORES.sub("", line)
    line = line.replace("`", "")
    return clean_line(html.unescape(line))


def parse_markdown(text: str) -> list[Section]:
    """Sections of a Markdown text (ATX and setext headings; code, tables, quotes and lists kept as text).

    Obsidian notes read as plain text (see obsidian.py); a secret callout's lines, and every line of a note whose
    front matter says it is secret, become GM-only sections."""
    all_secret, text = obsidian.split_front_matter(text)
    text = obsidian.strip_comments(_strip_html_comments(text))
    builder = SectionBuilder()
    block: list[str] = []
    block_secret = all_secret
    fence: str | None = None
    secret_depth: int | None = None  # quote depth of the secret callout the lines are in, if any

    def end_block() -> None:
        if block:
            builder.paragraph("\n".join(block), gm_only=block_secret)
            block.clear()

    def add(line: str) -> None:
        nonlocal block_secret
        secret = all_secret or secret_depth is not None
        if secret != block_secret:
            end_block()
            block_secret = secret
        block.append(line)

    for raw in text.split("\n"):
        if fence is not None:
            if raw.strip().startswith(fence):
                fence = None
                end_block()
            else:
                cleaned = clean_line(raw)
                if cleaned:
                    add(cleaned)
            continue
        depth, content = obsidian.quote_depth(raw)
        fence_match = _FENCE.match(raw)
        atx = _ATX.match(raw)
        if secret_depth is not None and (
            (not depth and (not content or fence_match or atx or _is_rule(raw))) or 0 < depth < secret_depth
        ):
            end_block()  # a blank line, a shallower quote or a new block ends the secret callout
            secret_depth = None
        if fence_match:
            end_block()
            fence = fence_match.group(1)
            continue
        if atx:
            end_block()
            title = _inline_markdown(_atx_title(atx.group(2) or ""))
            if title:
                builder.heading(len(atx.group(1)), title)
            continue
        setext = _SETEXT.match(raw)
        if setext and len(block) == 1 and not block_secret and not block[0].startswith(("-", "|", ">")):
            title = block.pop()
            builder.heading(1 if setext.group(1)[0] == "=" else 2, title)
            continue
        if not raw.strip() or _is_rule(raw):
            end_block()
            continue
        if "-" in raw and _is_table_separator(raw):
            continue
        line = content
        opened = obsidian.callout(content) if depth else None
        if opened is not None:
            end_block()
            if opened.secret and secret_depth is None:
                secret_depth = depth
            line = opened.title
        if "|" in line:
            line = obsidian.inline(line)  # `[[Page\|Alias]]` holds a pipe that is not a cell's
        if line.startswith("|") or (line.endswith("|") and "|" in line[:-1]):
            cells = [_inline_markdown(cell) for cell in line.strip("|").split("|")]
            line = " | ".join(cell for cell in cells if cell)
            if line:
                add(line)
            continue
        cleaned = _inline_markdown(line)
        if cleaned:
            add(cleaned)
    end_block()
    builder.flush()
    return builder.sections


def parse_plain_text(text: str) -> list[Section]:
    """Sections of a plain text: short capitalised lines standing alone read as headings."""
    builder = SectionBuilder()
    paragraphs = []
    for raw in re.split(r"\n[ \t]*\n", text):
        lines = [line for line in (clean_line(line) for line in raw.split("\n")) if line]
        if lines:
            paragraphs.append(lines)
    flags = [len(lines) == 1 and looks_like_heading(lines[0]) for lines in paragraphs]
    if flags:
        flags[-1] = False
    for index, (lines, depth) in enumerate(zip(paragraphs, heading_runs(flags), strict=True)):
        if depth is not None:
            builder.heading((1 if index == 0 else 2) + depth, lines[0])
        else:
            builder.paragraph("\n".join(lines))
    builder.flush()
    return builder.sections
