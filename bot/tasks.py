"""One home for background work (pool refills, streaming, long imports): references kept, errors logged,
and a `drain` for tests and graceful shutdown."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Coroutine
from typing import Any

__all__ = ["BackgroundTasks", "Stopped", "run_until_terminated"]

log = logging.getLogger(__name__)


class BackgroundTasks:
    """A set of fire-and-forget tasks that are never garbage-collected mid-flight and never fail silently."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any]:
        """Run `coro` in the background; its exception, if any, is logged with `name`."""
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("background task %s failed", task.get_name(), exc_info=exc)

    def __len__(self) -> int:
        return len(self._tasks)

    async def drain(self, timeout: float | None = None) -> None:  # noqa: ASYNC109 - a bound, not an API timeout
        """Wait until no background task is left (tasks may spawn more while we wait)."""
        async with asyncio.timeout(timeout):
            while self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self, grace: float = 5.0) -> None:
        """Let running work finish for up to `grace` seconds, then cancel what is left."""
        try:
            await self.drain(grace)
        except TimeoutError:
            log.warning("cancelling %d background tasks still running at shutdown", len(self._tasks))
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)


class Stopped(Exception):
    """The process was asked to stop (SIGTERM) and its work was cancelled cleanly."""


async def run_until_terminated(coro: Coroutine[Any, Any, int]) -> int:
    """Await `coro`; on SIGTERM cancel it once, so its `finally` blocks and shielded clean-ups (imports rolled
    back, locks released, background tasks drained, services closed) run before the process exits, and raise
    `Stopped`. A second SIGTERM during that clean-up is ignored (SIGKILL remains)."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(coro)
    signalled = False

    def stop() -> None:
        nonlocal signalled
        if not signalled:
            signalled = True
            log.warning("SIGTERM: cancelling in-flight work")
            task.cancel()

    loop.add_signal_handler(signal.SIGTERM, stop)
    try:
        return await task
    except asyncio.CancelledError:
        if not signalled:
            raise
        raise Stopped() from None
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
