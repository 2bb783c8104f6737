"""The panic benchmark as a guard that it keeps running (`python -m bench panic` prints the figures; no time is
asserted here): a small run through the real bot, the loopback fake model and the strict fake Discord."""

from __future__ import annotations

import pytest

import bot.improv.engine
from bench.panic import run


async def test_a_small_panic_benchmark_runs_through_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    # the benchmark records prompts by replacing the engine's build_prompt; put it back afterwards
    monkeypatch.setattr(bot.improv.engine, "build_prompt", bot.improv.engine.build_prompt)
    figures = await run(concurrent=5, panics=2, pool_clicks=2, chunks=200, overlap=2)
    assert figures["problems"] == []  # the harness saw no refused request, unanswered interaction or error
    assert figures["engines"].get("openai", 0) > 0
    assert figures["tokens_est"][0] > 0
