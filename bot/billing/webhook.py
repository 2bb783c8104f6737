"""`POST /paddle/webhook` as a plain function: verify the raw bytes, parse, apply in one transaction, reply.

Replies: 400 malformed signature header or a validly signed body that is not a Paddle event envelope (nothing
to key it on, so nothing is stored; Paddle shows the failure in its notification log and retries, and the
body is logged by size and hash only); 401 signature mismatch or timestamp outside the tolerance; 503 the
database is unreachable (Paddle retries); 200 everything else — applied, duplicate, stale, unknown type,
unknown guild, or data that failed validation (the last three are stored with a note for review).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr, ValidationError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.billing.apply import Applied, apply_event
from bot.billing.events import Envelope
from bot.billing.plans import PlanCatalog
from bot.billing.signature import SignatureError, verify

__all__ = ["WebhookReply", "process_webhook"]

log = logging.getLogger(__name__)


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
) -> WebhookReply:
    """Handle one delivery; never raises for bad input, and answers 503 when the database is down."""
    try:
        verify(signature, body, secrets, tolerance_seconds=tolerance_seconds, now=now)
    except SignatureError as exc:
        log.info("webhook rejected: %s", exc.reason)
        return WebhookReply(400 if exc.malformed else 401, {"ok": False, "error": exc.reason})

    try:
        payload = json.loads(body)
        if not isinstance(payload, dict):
            raise ValueError("not an object")
        envelope = Envelope.model_validate(payload)
    except (ValueError, ValidationError):
        digest = hashlib.sha256(body).hexdigest()[:16]
        log.error("validly signed webhook is not a Paddle event (%d bytes, sha256 %s…)", len(body), digest)
        return WebhookReply(400, {"ok": False, "error": "body is not a Paddle event envelope"})

    try:
        async with engine.begin() as conn:
            applied = await apply_event(conn, envelope, payload, plans=plans)
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        log.warning("webhook %s not stored, database unavailable: %s", envelope.event_id, type(exc).__name__)
        return WebhookReply(503, {"ok": False, "error": "database unavailable; retry later"})
    if applied.outcome in ("stored", "invalid"):
        log.info("webhook %s (%s): %s %s", envelope.event_id, envelope.event_type, applied.outcome, applied.note)
    else:
        log.debug("webhook %s (%s): %s %s", envelope.event_id, envelope.event_type, applied.outcome, applied.note)
    return WebhookReply(200, {"ok": True, "outcome": applied.outcome}, applied)
