"""The "waiting for upstream" re-check loop (N§38): woken at once when upstream answers again,
on a timer otherwise, and never killed by a bad round."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from adapter.services.upstream_recheck import WaitingRecheck
from adapter.services.watch import UpstreamWatch


def test_n38_the_recheck_runs_as_soon_as_upstream_answers_again() -> None:
    ran = threading.Event()
    calls: list[float] = []

    def recheck() -> int:
        calls.append(time.monotonic())
        ran.set()
        return 1

    loop = WaitingRecheck(recheck, every=600)
    watch = UpstreamWatch()
    watch.on_recovered(loop.wake)
    loop.start()
    try:
        watch.succeeded()  # upstream was never down: no wake
        assert not ran.wait(0.3)
        watch.failed(datetime.now(UTC))
        watch.succeeded()  # down → answering again: re-check now
        assert ran.wait(5)
        assert len(calls) == 1
    finally:
        loop.stop()
    assert not loop.running


def test_a_failing_round_is_logged_and_the_loop_goes_on() -> None:
    rounds: list[int] = []

    def recheck() -> int:
        rounds.append(1)
        if len(rounds) == 1:
            raise RuntimeError("database unreachable")
        return 0

    loop = WaitingRecheck(recheck, every=0.05)
    loop.start()
    try:
        deadline = time.monotonic() + 5
        while len(rounds) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(rounds) >= 3
    finally:
        loop.stop()
