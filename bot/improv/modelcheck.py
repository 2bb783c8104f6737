"""The startup check of the configured chat model: one `models.retrieve`, bounded, never fatal.

Run by `bot.services.open_services` (so by the bot, the web endpoint and the CLI) when an API key is set. A
missing model is one ERROR line naming it with OpenAI's message (the panics then answer from the tables); a
model with an announced shutdown date is a WARNING with the date (an ERROR once the date has passed).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime

import openai
from openai import AsyncOpenAI

from bot.improv.generation import CallOutcome
from bot.improv.llm import describe_error
from bot.improv.models import SUCCESSORS, shutdown_date

__all__ = ["check_model"]

log = logging.getLogger(__name__)


async def check_model(
    client: AsyncOpenAI,
    model: str,
    *,
    timeout: float,  # noqa: ASYNC109 - a bound on the whole check, retries included
    secret: str | None = None,
    today: date | None = None,
) -> CallOutcome | None:
    """Check that `model` exists and say when it shuts down; None when the check could not be made in time."""
    today = today or datetime.now(UTC).date()
    quick = client.with_options(max_retries=0, timeout=timeout)
    try:
        async with asyncio.timeout(timeout):
            found = await _retrieve(quick, model)
    except TimeoutError:
        log.warning("could not check OPENAI_MODEL=%s: no answer within %.1f s", model, timeout)
        return None
    except openai.NotFoundError as exc:
        detail = describe_error(exc, secret)
        log.error("OPENAI_MODEL=%s is not available: %s (panics answer from the tables)", model, detail)
        return CallOutcome(False, f"startup check: {detail}", datetime.now(UTC))
    except openai.APIStatusError as exc:
        detail = describe_error(exc, secret)
        level = logging.WARNING if exc.status_code >= 500 or exc.status_code == 429 else logging.ERROR
        log.log(level, "checking OPENAI_MODEL=%s failed: %s", model, detail)
        return CallOutcome(False, f"startup check: {detail}", datetime.now(UTC))
    except openai.APIError as exc:
        log.warning("could not check OPENAI_MODEL=%s: %s", model, describe_error(exc, secret))
        return None
    except Exception as exc:  # never let the check stop a start
        log.warning("could not check OPENAI_MODEL=%s: %s", model, type(exc).__name__)
        return None
    ends = found or shutdown_date(model)
    successors = " or ".join(SUCCESSORS)
    if ends is not None and ends <= today.isoformat():
        log.error("OPENAI_MODEL=%s was shut down on %s; set OPENAI_MODEL to %s", model, ends, successors)
    elif ends is not None:
        log.warning(
            "OPENAI_MODEL=%s: OpenAI shuts this model down on %s; set OPENAI_MODEL to %s before then",
            model,
            ends,
            successors,
        )
    else:
        log.info("OPENAI_MODEL=%s is available", model)
    return CallOutcome(True, "", datetime.now(UTC))


async def _retrieve(client: AsyncOpenAI, model: str) -> str | None:
    """The model's announced shutdown date (None: none announced); `NotFoundError` when it does not exist.

    Some OpenAI-compatible servers (vLLM) only list their models: a 404 from one of those is checked against
    the list before it counts."""
    try:
        return (await client.models.retrieve(model)).shutdown_date
    except openai.NotFoundError as exc:
        if exc.code == "model_not_found" or "api.openai.com" in str(client.base_url):
            raise
        async for listed in client.models.list():
            if listed.id == model:
                return listed.shutdown_date
        raise
