"""The table-quality benchmark's prompts as a guard: offline answers over the imported example campaign keep
meeting at least 90 % of them (`python -m bench table_quality` prints the figure and every miss)."""

from __future__ import annotations

from bench.table_quality import CASES, run
from bot.improv.kinds import KINDS


def test_the_benchmark_covers_every_kind_with_at_least_thirty_prompts() -> None:
    assert len(CASES) >= 30
    assert {case.kind for case in CASES} == set(KINDS)


async def test_offline_answers_meet_at_least_ninety_percent_of_the_prompts() -> None:
    hits, total, _ = await run(show=False)
    assert hits / total >= 0.9
