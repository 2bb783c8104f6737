"""`/panic` and `/campaign status` through discord.py's real dispatch with the model set by `OPENAI_MODEL` alone,
against the strict OpenAI fake: a reasoning model answers, an unknown one is named in the log and the tables
answer, and the status says which model is in use and how its last call went."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.services import open_services
from bot.settings import Settings
from db.migrate import upgrade
from tests.cogs.conftest import model_settings
from tests.fakes.openai import FakeOpenAI
from tests.support.discord import running_bot


def _footer(ex: Any) -> str:
    return str(ex.last.embeds[0]["footer"]["text"])


def _model_field(ex: Any) -> str:
    return str(next(f["value"] for f in ex.message.embeds[0]["fields"] if f["name"] == "Model"))


@pytest.mark.parametrize("model", ["gpt-5.4-mini", "gpt-6-luna", "gpt-5-nano"])
async def test_a_reasoning_model_answers_the_panic(tmp_path: Path, fake_openai: FakeOpenAI, model: str) -> None:
    async with open_services(model_settings(tmp_path / "d", fake_openai, openai_model=model)) as services:
        await upgrade(services.engine)
        async with running_bot(services) as sim:
            ex = await sim.slash("panic npc", details="a nervous excise officer")
            status = await sim.slash("campaign status")
    assert f"Source: {model}" in _footer(ex)
    assert "offline tables" not in _footer(ex)
    [body] = [r.body for r in fake_openai.chat_requests()]
    assert body["model"] == model
    assert "temperature" not in body
    assert "max_completion_tokens" in body
    assert _model_field(status).startswith(f"`{model}`")
    assert "· last call worked" in _model_field(status)


async def test_an_unknown_model_is_named_in_the_log_and_the_tables_answer(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    settings = model_settings(tmp_path / "d", fake_openai, openai_model="gpt-4o-mini-typo")
    async with open_services(settings) as services:
        await upgrade(services.engine)
        async with running_bot(services) as sim:
            ex = await sim.slash("panic tavern")
            errors = [r.getMessage() for r in sim.take_errors()]
            status = await sim.slash("campaign status")
    assert "offline tables" in _footer(ex)
    assert "the model had an error" in _footer(ex)
    [error] = errors
    assert "gpt-4o-mini-typo" in error
    assert "The model `gpt-4o-mini-typo` does not exist or you do not have access to it." in error
    model = _model_field(status)
    assert model.startswith("`gpt-4o-mini-typo` · last call failed")
    assert "model_not_found" in model


async def test_status_without_a_key_says_the_tables_answer(tmp_path: Path) -> None:
    async with open_services(Settings.embedded(tmp_path / "d")) as services:
        await upgrade(services.engine)
        async with running_bot(services) as sim:
            status = await sim.slash("campaign status")
    assert _model_field(status) == "none configured: answers come from the offline tables"
