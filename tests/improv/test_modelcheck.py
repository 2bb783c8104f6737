"""The startup check of the configured model: one `models.retrieve` through the real client, one readable line,
bounded, never fatal."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date

import pytest
from aiohttp import web
from openai import AsyncOpenAI

from bot.improv.modelcheck import check_model
from bot.services import open_services
from bot.settings import Settings
from tests.fakes.loopback import serve_loopback
from tests.fakes.openai import FakeOpenAI
from tests.fakes.stalls import blackhole


def logged(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == level and r.name == "bot.improv.modelcheck"]


def settings_for(make_settings: Callable[..., Settings], fake: FakeOpenAI, model: str) -> Settings:
    return make_settings(openai_api_key=fake.api_key, openai_base_url=fake.base_url, openai_model=model)


async def test_the_default_model_warns_of_its_shutdown_date(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with open_services(settings_for(make_settings, fake_openai, "gpt-4o-mini")) as services:
        status = services.improv.model_status(1)
    # a WARNING until the date, an ERROR after it (the exact wording per side is asserted below)
    [line] = logged(caplog, logging.WARNING) + logged(caplog, logging.ERROR)
    assert "OPENAI_MODEL=gpt-4o-mini" in line
    assert "2027-01-14" in line
    assert "set OPENAI_MODEL to gpt-5.4-mini or gpt-6-luna" in line
    assert [r.path for r in fake_openai.requests] == ["/v1/models/gpt-4o-mini"]
    assert status.startswith("`gpt-4o-mini` (OpenAI shuts it down on 2027-01-14) · last call worked")


async def test_a_missing_model_is_one_error_line_with_openais_message(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with open_services(settings_for(make_settings, fake_openai, "gpt-9-imaginary")) as services:
        status = services.improv.model_status(1)
    [error] = logged(caplog, logging.ERROR)
    assert error.startswith("OPENAI_MODEL=gpt-9-imaginary is not available: HTTP 404 model_not_found (param model)")
    assert "The model 'gpt-9-imaginary' does not exist" in error
    assert logged(caplog, logging.WARNING) == []
    assert "last call failed" in status
    assert "The model 'gpt-9-imaginary' does not exist" in status


async def test_a_successor_without_a_shutdown_date_is_quiet(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with open_services(settings_for(make_settings, fake_openai, "gpt-5.4-mini")):
        pass
    assert logged(caplog, logging.WARNING) == logged(caplog, logging.ERROR) == []
    assert logged(caplog, logging.INFO) == ["OPENAI_MODEL=gpt-5.4-mini is available"]


async def test_a_compatible_servers_own_model_passes(fake_openai: FakeOpenAI) -> None:
    fake_openai.extra_models = {"llama3.1:8b"}
    client = AsyncOpenAI(api_key=fake_openai.api_key, base_url=fake_openai.base_url)
    try:
        checked = await check_model(client, "llama3.1:8b", timeout=5)
    finally:
        await client.close()
    assert checked is not None
    assert checked.ok


async def test_a_model_before_its_shutdown_date_is_a_warning(
    fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    client = AsyncOpenAI(api_key=fake_openai.api_key, base_url=fake_openai.base_url)
    try:
        await check_model(client, "gpt-4o-mini", timeout=5, today=date(2026, 11, 30))
    finally:
        await client.close()
    assert logged(caplog, logging.WARNING) == [
        "OPENAI_MODEL=gpt-4o-mini: OpenAI shuts this model down on 2027-01-14; set OPENAI_MODEL to gpt-5.4-mini "
        "or gpt-6-luna before then"
    ]
    assert logged(caplog, logging.ERROR) == []


async def test_a_model_past_its_shutdown_date_is_an_error(
    fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    client = AsyncOpenAI(api_key=fake_openai.api_key, base_url=fake_openai.base_url)
    try:
        await check_model(client, "gpt-4o-mini", timeout=5, today=date(2027, 2, 1))
    finally:
        await client.close()
    [error] = logged(caplog, logging.ERROR)
    assert "was shut down on 2027-01-14" in error


async def test_a_hung_service_never_holds_the_start(caplog: pytest.LogCaptureFixture) -> None:
    async with blackhole() as hole:
        client = AsyncOpenAI(api_key="sk-test-" + "h" * 32, base_url=f"http://127.0.0.1:{hole.port}/v1", max_retries=2)
        try:
            checked = await check_model(client, "gpt-5.4-mini", timeout=0.3)
        finally:
            await client.close()
    assert checked is None
    [warning] = logged(caplog, logging.WARNING)
    assert "could not check OPENAI_MODEL=gpt-5.4-mini" in warning


async def test_an_unreachable_service_never_crashes_the_start(
    make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    async with blackhole() as hole:
        port = hole.port  # closed on exit: nothing listens there now
    settings = make_settings(openai_api_key="sk-test-" + "u" * 32, openai_base_url=f"http://127.0.0.1:{port}/v1")
    async with open_services(settings) as services:
        assert services.improv.model_status(1).endswith("no call yet")
    [warning] = logged(caplog, logging.WARNING)
    assert "could not check OPENAI_MODEL=gpt-4o-mini: connection failed" in warning


@asynccontextmanager
async def listing_only_server(models: list[str]) -> AsyncIterator[str]:
    """A compatible server (as vLLM) that lists its models but has no `GET /v1/models/{id}` route."""
    app = web.Application()

    async def listing(_request: web.Request) -> web.Response:
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "vllm"} for m in models]
        return web.json_response({"object": "list", "data": data})

    async def missing(_request: web.Request) -> web.Response:
        return web.json_response({"object": "error", "message": "Not Found", "type": "NotFoundError"}, status=404)

    app.router.add_get("/v1/models", listing)
    app.router.add_get("/v1/models/{model}", missing)
    runner, port = await serve_loopback(app)
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(("model", "found"), [("Qwen/Qwen2.5-7B-Instruct", True), ("llama3.1:8b", False)])
async def test_a_server_that_only_lists_its_models_is_checked_against_the_list(
    model: str, found: bool, caplog: pytest.LogCaptureFixture
) -> None:
    async with listing_only_server(["Qwen/Qwen2.5-7B-Instruct"]) as base_url:
        client = AsyncOpenAI(api_key="sk-test-" + "v" * 32, base_url=base_url)
        try:
            checked = await check_model(client, model, timeout=5)
        finally:
            await client.close()
    assert checked is not None
    assert checked.ok is found
    assert bool(logged(caplog, logging.ERROR)) is not found
