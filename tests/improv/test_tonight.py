"""The session rule of tonight's improvisations: a session starts after six hours without a panic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.improv.tonight import SESSION_GAP, session_start

NOW = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)


def test_the_session_starts_at_the_first_panic_after_the_last_long_gap() -> None:
    times = [NOW - timedelta(minutes=m) for m in (5, 50, 170)] + [NOW - timedelta(days=7, minutes=m) for m in (0, 30)]
    assert session_start(times, NOW) == NOW - timedelta(minutes=170)


def test_gaps_shorter_than_six_hours_keep_one_session() -> None:
    times = [NOW - timedelta(hours=h) for h in (1, 6, 11, 16)]  # five hours apart: one long session
    assert session_start(times, NOW) == NOW - timedelta(hours=16)
    assert session_start(times, NOW, gap=timedelta(hours=4)) == NOW - timedelta(hours=1)


def test_no_recent_panic_means_a_session_has_not_begun() -> None:
    assert session_start([NOW - SESSION_GAP - timedelta(minutes=1)], NOW) == NOW
    assert session_start([], NOW) == NOW
