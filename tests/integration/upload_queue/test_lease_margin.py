"""A pooled worker holds more jobs than it has in flight (in flight, ready behind them, a
batch): when upstream is slow, the last of them wait long. None may start so late that its
lease can run out before its delivery's timeout, or another worker takes it over and sends
it a second time; and a job whose lease was lost while it waited is not started at all."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import Engine, select

from tests.integration.upload_queue.helpers import NO_JITTER, add, race
from upload_queue.admin import get_job, list_jobs
from upload_queue.clock import ManualClock, utcnow
from upload_queue.handlers import Handler, Handlers
from upload_queue.jobs import Delivery
from upload_queue.leasing import lease
from upload_queue.metrics import QueueMetrics
from upload_queue.tables import upload_job
from upload_queue.worker import Worker


def pooled(
    engine: Engine,
    handler: Handler,
    *,
    worker_id: str,
    lease_for: timedelta,
    call_timeout: timedelta,
    metrics: QueueMetrics,
    clock: ManualClock | None = None,
) -> Worker:
    handlers = Handlers()
    handlers.register("discharge", handler)
    return Worker(
        engine,
        handlers,
        worker_id=worker_id,
        clock=clock or utcnow,
        policy=NO_JITTER,
        lease_for=lease_for,
        call_timeout=call_timeout,
        in_flight=2,
        metrics=metrics,
    )


class SlowUpstream:
    """Takes most of the call timeout to answer, and notes, as each delivery starts, how long
    the lease it runs under still has (read from the database by its token; ``None``: the
    job was no longer held under it)."""

    def __init__(self, engine: Engine, latency: float) -> None:
        self.engine = engine
        self.latency = latency
        self.lock = threading.Lock()
        self.left: dict[str, list[timedelta | None]] = {}
        self.delivered: Counter[str] = Counter()

    def __call__(self, delivery: Delivery) -> None:
        started = utcnow()
        expires = self._lease_end(delivery)
        with self.lock:
            left = None if expires is None else expires - started
            self.left.setdefault(delivery.idempotency_key, []).append(left)
        time.sleep(self.latency)
        with self.lock:
            self.delivered[delivery.idempotency_key] += 1

    def _lease_end(self, delivery: Delivery) -> datetime | None:
        query = select(upload_job.c.lease_expires_at).where(
            upload_job.c.id == delivery.job_id,
            upload_job.c.lease_token == delivery.lease_token,
            upload_job.c.status == "in_flight",
        )
        with self.engine.connect() as connection:
            expires: datetime | None = connection.execute(query).scalar_one_or_none()
            return expires


def test_a_slow_upstream_never_gets_a_job_started_too_late_for_its_lease_nor_twice(
    queue_engine: Engine, metrics: QueueMetrics
) -> None:
    """Each worker holds 12 jobs (2 in flight, 2 ready, a batch of 8) and upstream takes 0.6 s
    of a 0.75 s call timeout: the last two held would start 2.4 s and 3 s after their lease
    of 3 s began, with 0.6 s and nothing left, unless their leases are renewed first."""
    lease_for, call_timeout = timedelta(seconds=3), timedelta(seconds=0.75)
    total = 24
    enqueued = ManualClock(utcnow())
    for i in range(total):
        add(queue_engine, f"job-{i}", clock=enqueued, metrics=metrics)
    upstream = SlowUpstream(queue_engine, latency=0.6)
    workers = [
        pooled(
            queue_engine,
            upstream,
            worker_id=f"w{n}",
            lease_for=lease_for,
            call_timeout=call_timeout,
            metrics=metrics,
        )
        for n in range(2)
    ]
    race(workers, lambda: sum(upstream.delivered.values()), total)
    late = {
        key: left
        for key, starts in upstream.left.items()
        for left in starts
        if left is None or left < call_timeout
    }
    assert late == {}, "started with less than the call timeout left on the lease"
    assert sorted(upstream.delivered) == sorted(f"job-{i}" for i in range(total))
    assert set(upstream.delivered.values()) == {1}, "a job was delivered twice"
    assert {job.status for job in list_jobs(queue_engine, limit=100)} == {"delivered"}


def test_a_ready_job_whose_lease_was_lost_is_left_to_its_new_holder(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics
) -> None:
    lease_for = timedelta(minutes=2)
    jobs = [add(queue_engine, f"job-{i}", clock=clock, metrics=metrics) for i in range(4)]
    started: list[str] = []
    taken: list[Delivery] = []
    lock = threading.Lock()

    def hung_upstream(delivery: Delivery) -> None:
        with lock:
            started.append(delivery.idempotency_key)
            if len(started) == 1:  # upstream hangs past the lease; another worker takes over
                clock.advance(lease_for)
                taken.extend(
                    lease(
                        queue_engine,
                        "w2",
                        clock(),
                        lease_for=lease_for,
                        limit=4,
                        policy=NO_JITTER,
                        metrics=metrics,
                    )
                )

    worker = pooled(
        queue_engine,
        hung_upstream,
        worker_id="w1",
        lease_for=lease_for,
        call_timeout=timedelta(seconds=30),
        metrics=metrics,
        clock=clock,
    )
    worker.drain()
    assert sorted(d.idempotency_key for d in taken) == [f"job-{i}" for i in range(4)]
    # the two in flight when the lease ran out were sent; the two still waiting were not
    assert sorted(started) == ["job-0", "job-1"]
    for job in jobs:
        current = get_job(queue_engine, job.id)
        assert (current.status, current.leased_by) == ("in_flight", "w2")
