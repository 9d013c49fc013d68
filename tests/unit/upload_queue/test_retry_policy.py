"""The retry policy is a pure function: the back-off schedule, its cap, jitter and the end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from upload_queue.retry import DEAD, RetryPolicy

NOW = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)


def no_jitter(**changes: object) -> RetryPolicy:
    return RetryPolicy(random=lambda: 0.0, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("attempts", "seconds"),
    [(1, 5), (2, 10), (3, 20), (4, 40), (5, 80), (6, 160), (7, 320), (8, 600), (30, 600)],
)
def test_back_off_doubles_from_the_base_up_to_the_cap(attempts: int, seconds: int) -> None:
    policy = no_jitter(base=timedelta(seconds=5), factor=2, cap=timedelta(minutes=10))
    assert policy.next_attempt(attempts, "transient", NOW) == NOW + timedelta(seconds=seconds)


def test_a_huge_attempt_count_stays_at_the_cap() -> None:
    policy = no_jitter(max_attempts=10**9)
    assert policy.next_attempt(10**6, "transient", NOW) == NOW + policy.cap


def test_full_jitter_shortens_the_delay_by_at_most_its_share() -> None:
    policy = RetryPolicy(base=timedelta(seconds=100), jitter=0.2, random=lambda: 1.0)
    assert policy.next_attempt(1, "transient", NOW) == NOW + timedelta(seconds=80)


@given(
    attempts=st.integers(min_value=1, max_value=60),
    draw=st.floats(min_value=0.0, max_value=1.0),
)
def test_jittered_delay_stays_between_its_floor_and_the_cap(attempts: int, draw: float) -> None:
    policy = RetryPolicy(jitter=0.3, random=lambda: draw)
    when = policy.next_attempt(attempts, "transient", NOW)
    assert when is not DEAD
    delay = when - NOW
    assert policy.delay(attempts) * 0.7 - timedelta(microseconds=1) <= delay <= policy.cap
    assert delay > timedelta(0)


def test_a_permanent_error_is_dead_on_the_first_attempt() -> None:
    assert RetryPolicy().next_attempt(1, "permanent", NOW) is DEAD


def test_transient_errors_are_dead_after_max_attempts() -> None:
    policy = no_jitter(max_attempts=3)
    assert policy.next_attempt(2, "transient", NOW) is not DEAD
    assert policy.next_attempt(3, "transient", NOW) is DEAD


def test_transient_errors_are_dead_once_the_round_is_older_than_max_age() -> None:
    policy = no_jitter(max_age=timedelta(hours=24))
    started = NOW - timedelta(hours=24)
    assert policy.next_attempt(1, "transient", NOW - timedelta(seconds=1), started) is not DEAD
    assert policy.next_attempt(1, "transient", NOW, started) is DEAD


def test_without_max_age_only_attempts_end_the_round() -> None:
    policy = no_jitter(max_age=None)
    assert policy.next_attempt(1, "transient", NOW, NOW - timedelta(days=365)) is not DEAD


@pytest.mark.parametrize(
    "changes",
    [
        {"base": timedelta(0)},
        {"base": timedelta(minutes=20), "cap": timedelta(minutes=10)},
        {"factor": 0.5},
        {"jitter": 1.0},
        {"max_attempts": 0},
    ],
)
def test_nonsense_policies_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**changes)  # type: ignore[arg-type]
