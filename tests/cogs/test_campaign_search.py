"""`/campaign search` through discord.py's real dispatch over the example campaign: the score shown is the one
the results are ordered by, and passages read as prose (no source line breaks mid-sentence)."""

from __future__ import annotations

import re
from pathlib import Path

from bot.discord.offline.driver import DiscordDriver

EXAMPLE_CAMPAIGN = Path(__file__).resolve().parents[2] / "examples" / "campaign"
QUERIES = [
    "who forges the tithe ingots",
    "tavern owner",
    "the mine collapse",
    "Lantern Society secrets",
    "apothecary powder",
    "Master Corvane",
    "knocking behind the sealed wall",
    "the Duchess's assessor",
]
SCORE = re.compile(r"\n-# score (-?\d+\.\d\d)$")


async def _import_example(sim: DiscordDriver) -> None:
    for path in sorted(EXAMPLE_CAMPAIGN.glob("*.md")):
        await sim.slash("campaign import", file=sim.attachment(path))
    await sim.settle()


async def test_search_shows_the_scores_its_order_follows(discord_sim: DiscordDriver) -> None:
    await _import_example(discord_sim)
    for query in QUERIES:
        ex = await discord_sim.slash("campaign search", query=query, results=8)
        fields = ex.last.embeds[0]["fields"]
        assert len(fields) >= 3, query
        scores = []
        for field in fields:
            found = SCORE.search(field["value"])
            assert found, field["value"]
            scores.append(float(found.group(1)))
        assert scores == sorted(scores, reverse=True), (query, scores)


async def test_search_passages_read_as_prose(discord_sim: DiscordDriver) -> None:
    await _import_example(discord_sim)
    ex = await discord_sim.slash("campaign search", query="Brenna Coalhand the smith", results=5)
    fields = ex.last.embeds[0]["fields"]
    text = SCORE.sub("", fields[0]["value"])
    assert "short sentences and taps the table twice before she agrees" in text  # a source line break, joined
    for field in fields:
        passage = SCORE.sub("", field["value"])
        assert "  " not in passage
        assert not re.search(r"[a-z,]\n[a-z]", passage), passage  # no line break mid-sentence
