"""Model profiles: each family gets the parameters it accepts, settled from `OPENAI_MODEL` and two settings alone,
and every chat model the pinned SDK names answers through the real client from the strict fake."""

from __future__ import annotations

import logging
from typing import get_args

import pytest

from bot.improv.config import ModelConfig
from bot.improv.llm import OpenAIGenerator, build_client, build_generator
from bot.improv.models import (
    EFFORTS,
    SAFE,
    SHUTDOWN_DATES,
    SUCCESSORS,
    plan_requests,
    profile_for,
    shutdown_date,
)
from bot.improv.prompts import Style, build_prompt
from bot.settings import Settings
from tests.fakes.openai import CHAT_MODELS, FakeOpenAI
from tests.fakes.openai import SHUTDOWN_DATES as FAKE_SHUTDOWN_DATES


def test_the_default_keeps_its_temperature_and_sends_no_reasoning_effort() -> None:
    plan = plan_requests("gpt-4o-mini", max_output_tokens=600)
    assert plan.profile.family == "chat"
    assert plan.params() == {"max_completion_tokens": 600, "temperature": 0.9}


@pytest.mark.parametrize(
    ("model", "effort"),
    [
        ("gpt-5-mini", "minimal"),
        ("gpt-5-nano-2025-08-07", "minimal"),
        ("gpt-5.1", "none"),
        ("gpt-5.4-mini", "none"),
        ("gpt-5.4-nano-2026-03-17", "none"),
        ("gpt-6-luna", "none"),
        ("gpt-6.1-sol", "none"),
        ("o4-mini", "low"),
    ],
)
def test_reasoning_models_get_their_lowest_effort_and_no_temperature(model: str, effort: str) -> None:
    params = plan_requests(model, max_output_tokens=600, deadline_seconds=3.5).params()
    assert params["reasoning_effort"] == effort
    assert "temperature" not in params
    assert "max_tokens" not in params
    if effort == "none":
        assert params["max_completion_tokens"] == 600  # nothing to reason: no room needed
    else:
        assert params["max_completion_tokens"] == 600 + 525  # room for what it can reason within 3.5 s


def test_the_reasoning_room_follows_the_panic_deadline() -> None:
    short = plan_requests("gpt-5-mini", max_output_tokens=600, deadline_seconds=2.0).max_tokens
    long = plan_requests("gpt-5-mini", max_output_tokens=600, deadline_seconds=8.0).max_tokens
    assert 600 < short < long


@pytest.mark.parametrize("model", ["llama3.1:8b", "qwen2.5-coder", "gpt-oss-20b", "mistral-small"])
def test_unknown_names_get_the_safe_profile_of_compatible_servers(model: str) -> None:
    assert profile_for(model) is SAFE
    assert plan_requests(model, max_output_tokens=600).params() == {"max_tokens": 600, "temperature": 0.9}


def test_a_set_temperature_is_sent_where_the_model_takes_one() -> None:
    assert plan_requests("gpt-4.1-mini", max_output_tokens=600, temperature=0.3).params()["temperature"] == 0.3


def test_a_set_temperature_is_ignored_with_one_note_for_reasoning_models() -> None:
    plan = plan_requests("gpt-5.4-mini", max_output_tokens=600, temperature=0.3)
    assert "temperature" not in plan.params()
    assert plan.notes == ("OPENAI_TEMPERATURE=0.3 ignored: gpt-5.4-mini accepts only its default (1)",)


def test_an_effort_the_model_does_not_take_becomes_the_next_it_does() -> None:
    plan = plan_requests("gpt-5.4-mini", max_output_tokens=600, reasoning_effort="minimal")
    assert plan.reasoning_effort == "low"
    assert len(plan.notes) == 1
    assert "minimal" in plan.notes[0]
    assert plan_requests("gpt-5-mini", max_output_tokens=600, reasoning_effort="max").reasoning_effort == "high"


def test_an_effort_for_a_chat_model_is_ignored_with_one_note() -> None:
    plan = plan_requests("gpt-4o-mini", max_output_tokens=600, reasoning_effort="low")
    assert "reasoning_effort" not in plan.params()
    assert plan.notes == ("OPENAI_REASONING_EFFORT=low ignored: gpt-4o-mini is not a reasoning model",)


def test_the_setting_offers_exactly_the_sdks_efforts() -> None:
    annotation = Settings.model_fields["openai_reasoning_effort"].annotation
    literal = next(a for a in get_args(annotation) if a is not type(None))
    assert get_args(literal) == EFFORTS


def test_the_default_has_its_announced_shutdown_date() -> None:
    assert shutdown_date("gpt-4o-mini") == "2027-01-14"
    assert shutdown_date("gpt-5.4-mini") is None
    # every date the fake's catalogue reports (from the SDK's notes) is the bot's too
    assert {m: SHUTDOWN_DATES.get(m) for m in FAKE_SHUTDOWN_DATES} == FAKE_SHUTDOWN_DATES


def test_every_shutdown_the_pinned_sdk_announces_is_known() -> None:
    # dated variants and older families too, read from the SDK's notes rather than copied by hand
    assert SHUTDOWN_DATES["gpt-4o-mini-2024-07-18"] == "2027-01-14"
    assert SHUTDOWN_DATES["gpt-5-mini-2025-08-07"] == "2026-12-11"
    assert SHUTDOWN_DATES["gpt-5.4-nano"] == "2027-04-01"
    assert SHUTDOWN_DATES["o1-mini"] == "2025-10-27"
    assert "gpt-5.1-mini" not in SHUTDOWN_DATES  # listed as deprecated, without a date
    assert len(SHUTDOWN_DATES) > 60
    assert not set(SUCCESSORS) & set(SHUTDOWN_DATES)  # what the README recommends has no end date


def test_the_settings_reach_the_generator(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.improv.llm")
    config = ModelConfig(api_key="sk-test-" + "k" * 32, model="gpt-6-luna", temperature=0.5, reasoning_effort="low")
    generator = build_generator(config, build_client(config))
    assert generator is not None
    assert generator.plan.params() == {"max_completion_tokens": 600 + 525, "reasoning_effort": "low"}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["OPENAI_TEMPERATURE=0.5 ignored: gpt-6-luna accepts only its default (1)"]


async def test_every_chat_model_of_the_sdk_answers_from_the_strict_fake(fake_openai: FakeOpenAI) -> None:
    """The profile table and the fake's rules (what OpenAI accepts per model) agree for every model the SDK names."""
    prompt = build_prompt("npc", "a ferryman", Style())
    config = ModelConfig(api_key=fake_openai.api_key, base_url=fake_openai.base_url, max_retries=0)
    client = build_client(config)
    assert client is not None
    failed: dict[str, str] = {}
    try:
        for model in sorted(CHAT_MODELS):
            generator = OpenAIGenerator(client, plan_requests(model, max_output_tokens=config.max_output_tokens))
            try:
                assert (await generator.generate("npc", prompt)).improv.title
            except Exception as exc:
                failed[model] = str(exc)
    finally:
        await client.close()
    assert failed == {}
    assert len(fake_openai.chat_requests()) == len(CHAT_MODELS)
