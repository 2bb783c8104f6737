"""Calls to supporting services (key-value store, quota) that the panic may do without: bounded, failing open."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import TypeVar

__all__ = ["SOFT_SECONDS", "nothing", "soft"]

log = logging.getLogger(__name__)

T = TypeVar("T")
SOFT_SECONDS = 0.3  # a healthy key-value store answers in well under a millisecond


async def nothing() -> None:
    """An awaitable that does nothing (where a step may have no work)."""


async def soft(what: str, op: Awaitable[T], default: T, *, seconds: float = SOFT_SECONDS) -> T:
    """`op`'s result, or `default` when its service is slow or down: the panic answers either way."""
    try:
        async with asyncio.timeout(seconds):
            return await op
    except Exception as exc:
        log.warning("%s unavailable (%s); the panic goes on without it", what, type(exc).__name__ or "error")
        return default
