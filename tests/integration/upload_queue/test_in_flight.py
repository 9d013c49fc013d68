"""A worker with several deliveries in flight keeps every guarantee of one at a time:
earliest deadline first, strict order within a key (never two of one key at once), one
lease per job, outcomes only while the lease is held; and the lease looks past a window of
jobs that cannot go yet."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import Engine, event, update

from tests.integration.upload_queue.helpers import NO_JITTER, add, make_worker, race
from upload_queue.admin import attempts, get_job, list_jobs
from upload_queue.clock import ManualClock
from upload_queue.handlers import Handlers
from upload_queue.jobs import Delivery
from upload_queue.leasing import PAGES, WINDOW, lease
from upload_queue.metrics import QueueMetrics
from upload_queue.tables import upload_job
from upload_queue.worker import BATCH_FLOOR, Worker

LEASE = timedelta(minutes=2)


def pooled(
    engine: Engine,
    handler: object,
    *,
    clock: ManualClock,
    metrics: QueueMetrics,
    in_flight: int,
    worker_id: str = "w1",
) -> Worker:
    handlers = Handlers()
    handlers.register("discharge", handler)  # type: ignore[arg-type]
    return Worker(
        engine,
        handlers,
        worker_id=worker_id,
        clock=clock,
        policy=NO_JITTER,
        lease_for=LEASE,
        in_flight=in_flight,
        metrics=metrics,
    )


class Watch:
    """An upstream that notes what is in flight at once, per job and per ordering key."""

    def __init__(self, first_together: int = 0) -> None:
        self.lock = threading.Lock()
        self.jobs: set[int] = set()
        self.keys: set[str | None] = set()
        self.overlaps: list[str] = []
        self.most = 0
        self.delivered: Counter[str] = Counter()
        self.order: dict[str | None, list[int]] = {}
        self.started: list[str] = []
        # the first ``first_together`` deliveries wait for each other: proof they overlap
        self.barrier = threading.Barrier(first_together, timeout=10) if first_together else None

    def __call__(self, delivery: Delivery) -> None:
        with self.lock:
            if delivery.job_id in self.jobs or delivery.ordering_key in self.keys:
                self.overlaps.append(delivery.idempotency_key)
            self.jobs.add(delivery.job_id)
            if delivery.ordering_key is not None:
                self.keys.add(delivery.ordering_key)
            self.most = max(self.most, len(self.jobs))
            self.started.append(delivery.idempotency_key)
            early = self.barrier is not None and len(self.started) <= self.barrier.parties
        if early:
            assert self.barrier is not None
            self.barrier.wait()
        time.sleep(0.001)  # upstream latency: widens the window in which an overlap would show
        with self.lock:
            self.jobs.discard(delivery.job_id)
            self.keys.discard(delivery.ordering_key)
            self.delivered[delivery.idempotency_key] += 1
            self.order.setdefault(delivery.ordering_key, []).append(delivery.job_id)


def test_deliveries_overlap_yet_each_job_goes_once_and_a_key_never_twice_at_a_time(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics
) -> None:
    total = 60
    for i in range(total):
        add(queue_engine, f"job-{i}", clock=clock, metrics=metrics, ordering_key=f"enc-{i % 6}")
    watch = Watch(first_together=4)
    worker = pooled(queue_engine, watch, clock=clock, metrics=metrics, in_flight=4)
    assert worker.drain() == total
    assert watch.most == 4  # four deliveries really were in flight together
    assert watch.overlaps == []
    assert sorted(watch.delivered) == sorted(f"job-{i}" for i in range(total))
    assert set(watch.delivered.values()) == {1}
    assert all(ids == sorted(ids) for ids in watch.order.values())
    assert {job.status for job in list_jobs(queue_engine, limit=1000)} == {"delivered"}


def test_the_earliest_deadlines_are_leased_first(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics
) -> None:
    for i, minutes in enumerate((30, 5, 25, 10, 20, 15)):
        add(queue_engine, f"due-{minutes}", clock=clock, metrics=metrics,
            deadline=timedelta(minutes=minutes), ordering_key=f"enc-{i}")  # fmt: skip
    watch = Watch(first_together=3)
    worker = pooled(queue_engine, watch, clock=clock, metrics=metrics, in_flight=3)
    assert worker.drain() == 6
    assert set(watch.started[:3]) == {"due-5", "due-10", "due-15"}
    assert set(watch.started[3:]) == {"due-20", "due-25", "due-30"}


def test_two_workers_with_several_in_flight_never_deliver_one_job_or_key_together(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics
) -> None:
    total = 90
    for i in range(total):
        add(queue_engine, f"job-{i}", clock=clock, metrics=metrics, ordering_key=f"enc-{i % 9}")
    watch = Watch()
    workers = [
        pooled(queue_engine, watch, clock=clock, metrics=metrics, in_flight=3, worker_id=f"w{n}")
        for n in range(2)
    ]
    race(workers, lambda: sum(watch.delivered.values()), total)
    assert watch.overlaps == []
    assert set(watch.delivered.values()) == {1} and len(watch.delivered) == total
    assert all(ids == sorted(ids) for ids in watch.order.values())


@pytest.mark.parametrize("in_flight", [2, 3])
def test_a_worker_with_few_in_flight_still_records_and_leases_a_batch_per_commit(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics, in_flight: int
) -> None:
    """Each commit is a synced write: a worker with 2 in flight that committed every 2 jobs
    cost four times the commits per job of one with 8 in flight (issue 17)."""
    total = 6 * BATCH_FLOOR
    for i in range(total):
        add(queue_engine, f"job-{i}", clock=clock, metrics=metrics, ordering_key=f"enc-{i % 12}")
    commits = [0]

    def count(connection: object) -> None:
        commits[0] += 1

    watch = Watch()
    worker = pooled(queue_engine, watch, clock=clock, metrics=metrics, in_flight=in_flight)
    event.listen(queue_engine, "commit", count)
    try:
        assert worker.drain() == total
    finally:
        event.remove(queue_engine, "commit", count)
    assert set(watch.delivered.values()) == {1} and len(watch.delivered) == total
    assert watch.overlaps == []
    assert all(ids == sorted(ids) for ids in watch.order.values())
    # a batch per commit; a few more at the end, where the last jobs of each key wait for
    # their predecessors' outcomes
    assert commits[0] <= total // BATCH_FLOOR + 4, commits[0]


def test_stop_lets_the_jobs_in_hand_finish_and_leases_nothing_more(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics
) -> None:
    for i in range(20):
        add(queue_engine, f"job-{i}", clock=clock, metrics=metrics)
    delivered: list[str] = []
    lock = threading.Lock()
    worker: Worker

    def stop_at_once(delivery: Delivery) -> None:
        worker.stop()
        with lock:
            delivered.append(delivery.idempotency_key)

    worker = pooled(queue_engine, stop_at_once, clock=clock, metrics=metrics, in_flight=3)
    # the first lease took three in flight, three ready for the next refill and a batch
    in_hand = 3 + 3 + BATCH_FLOOR
    assert worker.drain() == in_hand
    assert len(delivered) == in_hand
    statuses = Counter(job.status for job in list_jobs(queue_engine, limit=100))
    assert statuses == {"delivered": in_hand, "pending": 20 - in_hand}
    assert worker.drain() == 0  # stopped for good


def test_max_jobs_bounds_what_a_drain_leases(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics
) -> None:
    for i in range(10):
        add(queue_engine, f"job-{i}", clock=clock, metrics=metrics)
    watch = Watch()
    worker = pooled(queue_engine, watch, clock=clock, metrics=metrics, in_flight=4)
    assert worker.drain(max_jobs=6) == 6
    assert sum(watch.delivered.values()) == 6
    assert worker.drain() == 4


def test_a_result_after_the_lease_was_lost_is_kept_only_in_the_history(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics
) -> None:
    job = add(queue_engine, "settle", clock=clock, metrics=metrics)
    taken: list[Delivery] = []

    def slow_upstream(delivery: Delivery) -> None:  # the lease runs out while upstream works
        clock.advance(LEASE)
        taken.extend(
            lease(queue_engine, "w2", clock(), lease_for=LEASE, policy=NO_JITTER, metrics=metrics)
        )

    worker = pooled(queue_engine, slow_upstream, clock=clock, metrics=metrics, in_flight=2)
    assert worker.drain() == 1
    assert [d.job_id for d in taken] == [job.id]
    current = get_job(queue_engine, job.id)
    assert (current.status, current.leased_by) == ("in_flight", "w2")
    assert [a.outcome for a in attempts(queue_engine, job.id)] == ["lease_expired", "lease_lost"]


@pytest.mark.parametrize(
    ("in_flight", "waiting_count"),
    [(1, WINDOW + 3), (2, WINDOW + 3), (2, WINDOW * PAGES + 3)],  # next window; all at once
)
def test_a_due_job_beyond_a_window_of_jobs_that_must_wait_is_still_leased(
    queue_engine: Engine,
    clock: ManualClock,
    metrics: QueueMetrics,
    in_flight: int,
    waiting_count: int,
) -> None:
    waiting = [
        add(
            queue_engine,
            f"backoff-{i}",
            clock=clock,
            metrics=metrics,
            deadline=timedelta(minutes=5, seconds=i),
        )
        for i in range(waiting_count)
    ]
    add(queue_engine, "first", clock=clock, metrics=metrics, ordering_key="enc",
        deadline=timedelta(minutes=5))  # fmt: skip
    add(queue_engine, "later", clock=clock, metrics=metrics, ordering_key="enc",
        deadline=timedelta(minutes=1))  # fmt: skip
    with queue_engine.begin() as connection:  # every early-deadline job is in back-off
        connection.execute(
            update(upload_job)
            .where(upload_job.c.id.in_([job.id for job in waiting]))
            .values(available_at=clock() + timedelta(minutes=1))
        )
    due = add(queue_engine, "due", clock=clock, metrics=metrics, deadline=timedelta(minutes=20))
    worker = make_worker(queue_engine, Watch(), clock=clock, metrics=metrics)
    worker.in_flight = in_flight
    assert worker.drain() == 3
    assert get_job(queue_engine, due.id).status == "delivered"
    delivered = [job.idempotency_key for job in list_jobs(queue_engine, status="delivered")]
    assert sorted(delivered) == ["due", "first", "later"]


def test_wake_says_whether_a_drain_is_running_to_look_again(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics
) -> None:
    add(queue_engine, "settle", clock=clock, metrics=metrics)
    seen: list[bool] = []
    worker: Worker

    def upstream(delivery: Delivery) -> None:
        seen.append(worker.wake())

    worker = pooled(queue_engine, upstream, clock=clock, metrics=metrics, in_flight=2)
    assert worker.wake() is False  # idle: whoever woke it must start a drain
    assert worker.drain() == 1
    assert seen == [True]  # mid-drain: the drain itself looks again before returning
