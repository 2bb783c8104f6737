"""Background tasks: kept until done, errors logged, drained at shutdown within a grace period."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.tasks import BackgroundTasks


async def test_a_failing_task_is_logged_with_its_name(caplog: pytest.LogCaptureFixture) -> None:
    tasks = BackgroundTasks()

    async def boom() -> None:
        raise RuntimeError("refill failed")

    tasks.spawn(boom(), name="pool-refill")
    await tasks.drain(1)
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "pool-refill" in record.getMessage()
    assert len(tasks) == 0


async def test_shutdown_lets_short_work_finish_and_cancels_the_rest() -> None:
    tasks = BackgroundTasks()
    finished: list[str] = []

    async def work(name: str, seconds: float) -> None:
        await asyncio.sleep(seconds)
        finished.append(name)

    tasks.spawn(work("quick", 0.01), name="quick")
    slow = tasks.spawn(work("slow", 60), name="slow")
    await tasks.aclose(grace=0.2)
    assert finished == ["quick"]
    assert slow.cancelled()
