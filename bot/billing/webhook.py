"""`POST /paddle/webhook` as a plain function: verify the raw bytes, parse, apply in one transaction, reply.

Replies: 400 malformed signature header or a validly signed body that is not a Paddle event envelope (nothing
to key it on, so nothing is stored; Paddle shows the failure in its notification log and retries, and the
body is logged by size and hash only, as is JSON nested deeper than `MAX_JSON_DEPTH`); 401 signature mismatch
or timestamp outside the tolerance of the request's arrival (`now`, taken by the web door before anything waits);
503 the database is unreachable or has not finished within `db_timeout_seconds` (Paddle waits 5 s, then retries;
the late transaction is cancelled in the background, and a retry of an event that did commit is a duplicate);
200 everything else — applied, duplicate, stale, unknown type,
unknown guild, or data that failed validation (the last three are stored with a note for review).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr, ValidationError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.billing.apply import Applied, apply_event
from bot.billing.events import Envelope, parse_payload
from bot.billing.plans import PlanCatalog
from bot.billing.signature import SignatureError, verify

__all__ = ["DB_TIMEOUT_SECONDS", "WebhookReply", "process_webhook"]

log = logging.getLogger(__name__)

DB_TIMEOUT_SECONDS = 2.0

# Transactions cancelled at their deadline, kept referenced until their cleanup (closing a connection to a hung
# server can itself take seconds) has finished in the background.
_abandoned: set[asyncio.Task[Applied]] = set()


@dataclass(frozen=True, slots=True)
class WebhookReply:
    """HTTP status and JSON body to answer Paddle with."""

    status: int
    body: dict[str, Any] = field(default_factory=dict)
    applied: Applied | None = None


async def process_webhook(
    body: bytes,
    signature: str | None,
    *,
    secrets: Sequence[SecretStr],
    tolerance_seconds: float,
    engine: AsyncEngine,
    plans: PlanCatalog,
    now: float | None = None,
    db_timeout_seconds: float = DB_TIMEOUT_SECONDS,
) -> WebhookReply:
    """Handle one delivery; never raises for bad input, and answers 503 when the database is down or slow.

    `now` is the request's arrival (the signature's age is measured against it; default: the current time).
    `db_timeout_seconds` bounds the wait for a pooled connection and the transaction together."""
    try:
        verify(signature, body, secrets, tolerance_seconds=tolerance_seconds, now=now)
    except SignatureError as exc:
        log.info("webhook rejected: %s", exc.reason)
        return WebhookReply(400 if exc.malformed else 401, {"ok": False, "error": exc.reason})

    try:
        payload = parse_payload(body)
        envelope = Envelope.model_validate(payload)
    except (ValueError, ValidationError):
        digest = hashlib.sha256(body).hexdigest()[:16]
        log.error("validly signed webhook is not a Paddle event (%d bytes, sha256 %s…)", len(body), digest)
        return WebhookReply(400, {"ok": False, "error": "body is not a Paddle event envelope"})

    try:
        applied = await _within(_apply(engine, envelope, payload, plans), db_timeout_seconds)
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        log.warning("webhook %s not stored, database unavailable: %s", envelope.event_id, type(exc).__name__)
        return WebhookReply(503, {"ok": False, "error": "database unavailable; retry later"})
    if applied.outcome in ("stored", "invalid"):
        log.info("webhook %s (%s): %s %s", envelope.event_id, envelope.event_type, applied.outcome, applied.note)
    else:
        log.debug("webhook %s (%s): %s %s", envelope.event_id, envelope.event_type, applied.outcome, applied.note)
    return WebhookReply(200, {"ok": True, "outcome": applied.outcome}, applied)


async def _apply(engine: AsyncEngine, envelope: Envelope, payload: dict[str, Any], plans: PlanCatalog) -> Applied:
    async with engine.begin() as conn:
        return await apply_event(conn, envelope, payload, plans=plans)


async def _within(work: Coroutine[Any, Any, Applied], seconds: float) -> Applied:
    """Run `work` as a task; after `seconds`, cancel it without waiting for its cleanup and raise TimeoutError.

    `asyncio.timeout` would wait for the cancelled transaction to close its connection, and with a hung server
    that close waits out asyncpg's own timeouts (seconds more), which is what the bound is for."""
    task = asyncio.ensure_future(work)
    try:
        await asyncio.wait((task,), timeout=seconds)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if task.done():
        return task.result()
    task.cancel()
    _abandoned.add(task)
    task.add_done_callback(_reap)
    raise TimeoutError(f"database did not answer within {seconds:g} s")


def _reap(task: asyncio.Task[Applied]) -> None:
    _abandoned.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.debug("abandoned webhook transaction failed: %s", type(task.exception()).__name__)
