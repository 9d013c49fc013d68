"""Leases: a crashed worker's job comes back, and concurrent workers never share a job."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta

from sqlalchemy import Engine

from tests.integration.upload_queue.conftest import RecordingUpstream
from tests.integration.upload_queue.helpers import NO_JITTER, add, make_worker, sample
from upload_queue.admin import attempts, get_job, list_jobs
from upload_queue.clock import ManualClock
from upload_queue.jobs import Delivery
from upload_queue.leasing import lease
from upload_queue.metrics import QueueMetrics
from upload_queue.recovery import recover

LEASE = timedelta(minutes=2)


def _crash_lease(engine: Engine, clock: ManualClock, metrics: QueueMetrics) -> list[Delivery]:
    """A worker that leases and then dies: it never reports back."""
    return lease(
        engine, "crashed", clock(), lease_for=LEASE, limit=1, policy=NO_JITTER, metrics=metrics
    )


def test_a_crashed_workers_job_returns_when_its_lease_expires(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics, upstream: RecordingUpstream
) -> None:
    job = add(queue_engine, "settle", clock=clock, metrics=metrics, ordering_key="enc")
    add(queue_engine, "revoke", clock=clock, metrics=metrics, ordering_key="enc")
    [held] = _crash_lease(queue_engine, clock, metrics)
    assert held.job_id == job.id
    assert get_job(queue_engine, job.id).status == "in_flight"

    survivor = make_worker(queue_engine, upstream, clock=clock, metrics=metrics, worker_id="w2")
    clock.advance(LEASE - timedelta(seconds=1))
    assert survivor.drain() == 0  # still leased, and the later job of the key must wait
    clock.advance(timedelta(seconds=1))
    assert survivor.drain() == 2
    assert upstream.keys == ["settle", "revoke"]
    assert [d.attempt for d in upstream.received] == [2, 1]
    history = attempts(queue_engine, job.id)
    assert [(a.number, a.worker, a.outcome) for a in history] == [
        (1, "crashed", "lease_expired"),
        (2, "w2", "delivered"),
    ]
    assert history[0].duration_s == LEASE.total_seconds()
    assert sample(metrics, "upload_queue_lease_expired_total", kind="discharge") == 1


def test_a_late_result_from_a_lost_lease_does_not_overwrite_the_new_holder(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics, upstream: RecordingUpstream
) -> None:
    job = add(queue_engine, "settle", clock=clock, metrics=metrics)
    slow = make_worker(queue_engine, upstream, clock=clock, metrics=metrics, worker_id="slow")
    [held] = lease(
        queue_engine, "slow", clock(), lease_for=LEASE, policy=NO_JITTER, metrics=metrics
    )
    clock.advance(LEASE)
    [delivery] = lease(
        queue_engine, "fast", clock(), lease_for=LEASE, policy=NO_JITTER, metrics=metrics
    )
    outcome = slow.deliver(held)
    assert outcome.status == "in_flight"
    current = get_job(queue_engine, job.id)
    assert (current.status, current.leased_by) == ("in_flight", "fast")
    assert [a.outcome for a in attempts(queue_engine, job.id)] == ["lease_expired", "lease_lost"]
    fast = make_worker(queue_engine, upstream, clock=clock, metrics=metrics, worker_id="fast")
    assert fast.deliver(delivery).status == "delivered"
    assert sample(metrics, "upload_queue_delivered_total", kind="discharge") == 1


def test_start_up_recovers_this_instances_own_leases_before_they_expire(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics
) -> None:
    job = add(queue_engine, "settle", clock=clock, metrics=metrics)
    other = add(queue_engine, "other", clock=clock, metrics=metrics)
    lease(queue_engine, "me:0", clock(), lease_for=LEASE, policy=NO_JITTER, metrics=metrics)
    lease(queue_engine, "them:0", clock(), lease_for=LEASE, policy=NO_JITTER, metrics=metrics)
    assert recover(queue_engine, clock(), policy=NO_JITTER, metrics=metrics, owners=["me:0"]) == [
        job.id
    ]
    assert get_job(queue_engine, job.id).status == "pending"
    assert get_job(queue_engine, other.id).status == "in_flight"


def test_two_concurrent_workers_deliver_every_job_exactly_once_and_never_together(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics
) -> None:
    total = 120
    for i in range(total):
        add(queue_engine, f"job-{i}", clock=clock, metrics=metrics, ordering_key=f"enc-{i % 12}")
    lock = threading.Lock()
    in_flight_jobs: set[int] = set()
    in_flight_keys: set[str | None] = set()
    overlaps: list[str] = []
    delivered: Counter[str] = Counter()
    order: dict[str | None, list[int]] = {}

    def upstream(delivery: Delivery) -> None:
        with lock:
            if delivery.job_id in in_flight_jobs or delivery.ordering_key in in_flight_keys:
                overlaps.append(delivery.idempotency_key)
            in_flight_jobs.add(delivery.job_id)
            in_flight_keys.add(delivery.ordering_key)
        time.sleep(0.001)  # upstream latency: widens the window in which an overlap would show
        with lock:
            in_flight_jobs.discard(delivery.job_id)
            in_flight_keys.discard(delivery.ordering_key)
            delivered[delivery.idempotency_key] += 1
            order.setdefault(delivery.ordering_key, []).append(delivery.job_id)

    workers = [
        make_worker(queue_engine, upstream, clock=clock, metrics=metrics, worker_id=f"w{n}")
        for n in range(2)
    ]
    bound = time.monotonic() + 60
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            while sum(delivered.values()) < total and time.monotonic() < bound:
                workers[index].run_once()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert errors == []
    assert overlaps == []
    assert sorted(delivered) == sorted(f"job-{i}" for i in range(total))
    assert set(delivered.values()) == {1}
    assert all(ids == sorted(ids) for ids in order.values())
    assert {job.status for job in list_jobs(queue_engine, limit=1000)} == {"delivered"}
    by_worker = Counter(a.worker for j in range(1, total + 1) for a in attempts(queue_engine, j))
    assert set(by_worker) == {"w0", "w1"}  # both really worked, side by side
    assert sum(by_worker.values()) == total
