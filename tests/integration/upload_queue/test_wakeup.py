"""Recovery speed (issue 14, item 13): once upstream answers again, jobs backed off after
transport failures are delivered at once, not at their next back-off slot."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import Engine

from tests.integration.upload_queue.conftest import RecordingUpstream
from tests.integration.upload_queue.helpers import add, make_worker
from tests.support.polling import eventually
from upload_queue.admin import attempts, get_job
from upload_queue.clock import ManualClock
from upload_queue.jobs import Delivery
from upload_queue.metrics import QueueMetrics
from upload_queue.retry import RetryPolicy
from upload_queue.wakeup import RecoveryWake, wake_backed_off

SLOW = RetryPolicy(base=timedelta(minutes=10), cap=timedelta(minutes=10), random=lambda: 0.0)


def test_backed_off_jobs_are_made_due_and_delivered_without_waiting_their_slot(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics, upstream: RecordingUpstream
) -> None:
    down = True

    def handler(delivery: Delivery) -> None:
        if down:
            raise ConnectionRefusedError("connection refused")
        upstream(delivery)

    backed_off = [add(queue_engine, f"k{i}", clock=clock, metrics=metrics) for i in range(3)]
    worker = make_worker(queue_engine, handler, clock=clock, metrics=metrics, policy=SLOW)
    assert [o.status for o in worker.run_once()] == ["pending"]
    assert [o.status for o in worker.run_once()] == ["pending"]
    assert [o.status for o in worker.run_once()] == ["pending"]
    fresh = add(queue_engine, "fresh", clock=clock, metrics=metrics, deadline=timedelta(hours=2))
    for job in backed_off:
        assert get_job(queue_engine, job.id).available_at == clock() + timedelta(minutes=10)

    down = False
    clock.advance(timedelta(seconds=30))  # upstream is back; the slots are 9.5 minutes away
    assert wake_backed_off(queue_engine, clock()) == 3  # the fresh job was not backed off
    for job in backed_off:
        woken = get_job(queue_engine, job.id)
        assert woken.available_at == clock()
        assert woken.attempts == 1  # the back-off count is kept: a new failure backs off more
    assert get_job(queue_engine, fresh.id).attempts == 0

    delivered = []
    while outcomes := worker.run_once():
        delivered += [o.status for o in outcomes]
    assert delivered == ["delivered"] * 4
    assert sorted(upstream.keys) == ["fresh", "k0", "k1", "k2"]
    assert [a.outcome for a in attempts(queue_engine, backed_off[0].id)] == [
        "transient",
        "delivered",
    ]


def test_nothing_is_woken_when_no_job_is_backed_off(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics
) -> None:
    job = add(queue_engine, "k", clock=clock, metrics=metrics)
    assert wake_backed_off(queue_engine, clock()) == 0
    assert get_job(queue_engine, job.id).available_at == clock()


class Ticks:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_first_success_after_a_failure_wakes_the_jobs_and_the_workers(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics
) -> None:
    def refuse(_delivery: Delivery) -> None:
        raise ConnectionRefusedError("connection refused")

    job = add(queue_engine, "k", clock=clock, metrics=metrics)
    make_worker(queue_engine, refuse, clock=clock, metrics=metrics, policy=SLOW).run_once()
    woke = threading.Event()
    ticks = Ticks()
    recovery = RecoveryWake(queue_engine, wake=woke.set, clock=clock, monotonic=ticks)
    try:
        recovery.failed()
        clock.advance(timedelta(seconds=5))
        recovery.succeeded()
        eventually(woke.is_set, 30, "the workers to be woken")
        assert get_job(queue_engine, job.id).available_at == clock()
        assert recovery.woken == 1

        # Back off again; successes with no failure in between wake nothing until every_s.
        make_worker(queue_engine, refuse, clock=clock, metrics=metrics, policy=SLOW).run_once()
        woke.clear()
        ticks.now += 5
        recovery.succeeded()
        recovery.close()  # waits for a wake-up had one started
        assert not woke.is_set()
        assert get_job(queue_engine, job.id).available_at > clock()
    finally:
        recovery.close()


def test_a_success_soon_after_the_last_wake_up_waits_for_the_next(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics
) -> None:
    def refuse(_delivery: Delivery) -> None:
        raise ConnectionRefusedError("connection refused")

    ticks = Ticks()
    recovery = RecoveryWake(queue_engine, clock=clock, monotonic=ticks, min_interval_s=1.0)
    try:
        recovery.succeeded()  # at start-up: a previous run may have left jobs backed off
        eventually(lambda: not recovery._running, 30, "the first wake-up to finish")
        job = add(queue_engine, "k", clock=clock, metrics=metrics)
        make_worker(queue_engine, refuse, clock=clock, metrics=metrics, policy=SLOW).run_once()
        recovery.failed()
        ticks.now += 0.5
        recovery.succeeded()  # within min_interval_s of the last: skipped
        eventually(lambda: not recovery._running, 30, "no wake-up under way")
        assert get_job(queue_engine, job.id).available_at > clock()
        ticks.now += 1.0
        recovery.succeeded()
        eventually(lambda: recovery.woken == 1, 30, "the job to be woken")
        assert get_job(queue_engine, job.id).available_at == clock()
    finally:
        recovery.close()
