"""The retry policy, a pure value object: ``next_attempt(attempts, error, now) -> when | DEAD``.

Back-off is exponential (``base * factor ** (attempts - 1)``), capped at ``cap``, then
shortened by a random share of at most ``jitter`` (so retries of many jobs after an outage
spread out instead of arriving together, and never exceed the cap). A permanent error is
dead at once; a transient one is dead after ``max_attempts`` attempts or once the round is
older than ``max_age``. ``random`` is injectable so a test can pin the schedule.
"""

from __future__ import annotations

import enum
import random as _random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final, Literal

from upload_queue.errors import ErrorKind


class _Dead(enum.Enum):
    DEAD = "dead"

    def __repr__(self) -> str:
        return "DEAD"


DEAD: Final = _Dead.DEAD
"""Returned by :meth:`RetryPolicy.next_attempt` when the job must not be tried again."""

Verdict = datetime | Literal[_Dead.DEAD]


@dataclass(frozen=True)
class RetryPolicy:
    base: timedelta = timedelta(seconds=5)
    factor: float = 2.0
    cap: timedelta = timedelta(minutes=10)
    jitter: float = 0.2
    max_attempts: int = 100
    max_age: timedelta | None = timedelta(days=7)
    random: Callable[[], float] = field(default=_random.random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.base <= timedelta(0) or self.cap < self.base:
            raise ValueError("retry policy needs 0 < base <= cap")
        if self.factor < 1:
            raise ValueError("retry policy factor must be at least 1")
        if not 0 <= self.jitter < 1:
            raise ValueError("retry policy jitter must be in [0, 1)")
        if self.max_attempts < 1:
            raise ValueError("retry policy max_attempts must be at least 1")

    def delay(self, attempts: int) -> timedelta:
        """The back-off after the ``attempts``-th failed attempt, before jitter."""
        exponent = max(attempts - 1, 0)
        cap_s = self.cap.total_seconds()
        seconds = self.base.total_seconds()
        for _ in range(exponent):  # grows step by step so a huge count never overflows a float
            seconds *= self.factor
            if seconds >= cap_s:
                return self.cap
        return timedelta(seconds=seconds)

    def next_attempt(
        self,
        attempts: int,
        error_kind: ErrorKind,
        now: datetime,
        round_started_at: datetime | None = None,
    ) -> Verdict:
        """When to try again after ``attempts`` failed attempts in this round, or :data:`DEAD`."""
        if error_kind == "permanent" or attempts >= self.max_attempts:
            return DEAD
        if (
            self.max_age is not None
            and round_started_at is not None
            and now - round_started_at >= self.max_age
        ):
            return DEAD
        delay = self.delay(attempts)
        shrink = self.jitter * min(max(self.random(), 0.0), 1.0)
        return now + delay * (1 - shrink)
