"""The circuit breaker opens after N failures, probes once when the time is up, and closes on success; guild
rests hold one guild's streak of refusals apart."""

from __future__ import annotations

from bot.improv.breaker import CircuitBreaker, GuildRests


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_threshold_consecutive_failures() -> None:
    breaker = CircuitBreaker(3, 10, clock=Clock())
    for _ in range(2):
        breaker.record_failure()
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state == "open"
    assert not breaker.allow()


def test_success_resets_the_count() -> None:
    breaker = CircuitBreaker(2, 10, clock=Clock())
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert breaker.state == "closed"


def test_half_open_lets_one_probe_and_closes_on_success() -> None:
    clock = Clock()
    breaker = CircuitBreaker(1, 10, clock=clock)
    breaker.record_failure()
    clock.now = 10.5
    assert breaker.state == "half-open"
    assert breaker.allow()
    assert not breaker.allow()  # only one probe at a time
    breaker.record_success()
    assert breaker.state == "closed"


def test_failed_probe_opens_again() -> None:
    clock = Clock()
    breaker = CircuitBreaker(1, 10, clock=clock)
    breaker.record_failure()
    clock.now = 11
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state == "open"
    clock.now = 15
    assert not breaker.allow()


def test_a_guild_rests_after_a_streak_and_alone() -> None:
    clock = Clock()
    rests = GuildRests(3, 10, clock=clock)
    for _ in range(3):
        assert not rests.resting(1)
        rests.record_failure(1)
    assert rests.resting(1)
    assert not rests.resting(2)
    clock.now = 10.0
    assert not rests.resting(1)  # the rest is over: the next request may try
    rests.record_failure(1)
    assert rests.resting(1)  # and one more failure rests it again


def test_a_usable_answer_ends_a_guilds_streak() -> None:
    rests = GuildRests(2, 10, clock=Clock())
    rests.record_failure(1)
    rests.record_success(1)
    rests.record_failure(1)
    assert not rests.resting(1)


def test_guild_rests_hold_a_bounded_number_of_guilds() -> None:
    rests = GuildRests(1, 10, max_guilds=100, clock=Clock())
    for guild in range(1000):
        rests.record_failure(guild)
    assert len(rests) == 100
    assert rests.resting(999)
    assert not rests.resting(0)  # the oldest are forgotten first
