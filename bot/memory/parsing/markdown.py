"""Markdown and plain-text notes as sections."""

from __future__ import annotations

import html
import re

from bot.memory.parsing.sections import HTML_TAG, Section, SectionBuilder, clean_line, heading_runs, looks_like_heading

__all__ = ["parse_markdown", "parse_plain_text"]


_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_RULE = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_BULLET = re.compile(r"^(\s*)[*+•]\s+")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\[[^\]]*\])")
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^>\s]+)>")
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
_ATTRS = re.compile(r"\{[:#.][^}]*\}|\{%.*?%\}")
_STARS = re.compile(r"\*{1,3}")
_UNDERSCORES = re.compile(r"(?<![A-Za-z0-9])_{1,3}|_{1,3}(?![A-Za-z0-9])")
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


def _inline_markdown(line: str) -> str:
    """Strip inline Markdown syntax, keeping the words."""
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


def _strip_front_matter(text: str) -> str:
    if text.startswith("---\n"):
        end = text.find("\n---", 4)
        if end != -1 and text[4:end].count(":") >= 1:
            newline = text.find("\n", end + 4)
            return text[newline + 1 :] if newline != -1 else ""
    return text


def parse_markdown(text: str) -> list[Section]:
    """Sections of a Markdown text (ATX and setext headings; code, tables, quotes and lists kept as text)."""
    text = _HTML_COMMENT.sub("", _strip_front_matter(text))
    builder = SectionBuilder()
    lines = text.split("\n")
    block: list[str] = []
    fence: str | None = None

    def end_block() -> None:
        if block:
            builder.paragraph("\n".join(block))
            block.clear()

    for raw in lines:
        if fence is not None:
            if raw.strip().startswith(fence):
                fence = None
                end_block()
            else:
                cleaned = clean_line(raw)
                if cleaned:
                    block.append(cleaned)
            continue
        fence_match = _FENCE.match(raw)
        if fence_match:
            end_block()
            fence = fence_match.group(1)
            continue
        atx = _ATX.match(raw)
        if atx:
            end_block()
            title = _inline_markdown(atx.group(2) or "")
            if title:
                builder.heading(len(atx.group(1)), title)
            continue
        setext = _SETEXT.match(raw)
        if setext and len(block) == 1 and not block[0].startswith(("-", "|", ">")):
            title = block.pop()
            builder.heading(1 if setext.group(1)[0] == "=" else 2, title)
            continue
        if not raw.strip() or _RULE.match(raw):
            end_block()
            continue
        if _TABLE_SEP.match(raw) and "-" in raw:
            continue
        line = raw.strip()
        if line.startswith(">"):
            line = line.lstrip("> ")
        if line.startswith("|") or (line.endswith("|") and "|" in line[:-1]):
            cells = [_inline_markdown(cell) for cell in line.strip("|").split("|")]
            line = " | ".join(cell for cell in cells if cell)
            if line:
                block.append(line)
            continue
        cleaned = _inline_markdown(line)
        if cleaned:
            block.append(cleaned)
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
