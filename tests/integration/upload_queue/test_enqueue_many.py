"""Batch enqueue: many jobs in one statement, with the guarantees of one-by-one enqueue
(the caller's transaction, idempotency keys, deadlines, ordering keys)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, event

from tests.integration.upload_queue.conftest import RecordingUpstream
from tests.integration.upload_queue.helpers import add, make_worker, sample
from upload_queue.admin import list_jobs
from upload_queue.clock import ManualClock
from upload_queue.enqueue import CHUNK, enqueue_many
from upload_queue.jobs import JobSpec
from upload_queue.metrics import QueueMetrics


class Boom(Exception):
    pass


def _spec(
    key: str, clock: ManualClock, minutes: int = 30, ordering: str | None = "enc-1"
) -> JobSpec:
    return JobSpec("discharge", {"key": key}, key, clock() + timedelta(minutes=minutes), ordering)


def test_a_batch_is_one_insert_and_returns_the_jobs_in_the_order_given(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics
) -> None:
    inserts: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("INSERT"):
            inserts.append(statement)

    event.listen(queue_engine, "before_cursor_execute", count)
    try:
        with queue_engine.begin() as connection:
            specs = [_spec(f"k-{n}", clock, minutes=60 - n) for n in range(50)]
            jobs = enqueue_many(connection, specs, now=clock(), metrics=metrics)
    finally:
        event.remove(queue_engine, "before_cursor_execute", count)
    assert len(inserts) == 1
    assert [job.idempotency_key for job in jobs] == [f"k-{n}" for n in range(50)]
    assert [job.id for job in jobs] == sorted(job.id for job in jobs)  # ids in the order given
    # one key: each is due when the last one, due soonest, is — it cannot go before them
    assert [job.deadline for job in jobs] == [clock() + timedelta(minutes=11)] * 50
    assert all(job.status == "pending" and job.ordering_key == "enc-1" for job in jobs)
    assert sample(metrics, "upload_queue_enqueued_total", kind="discharge") == 50
    # what is returned is what was stored (read back by another connection)
    assert {job.id: job for job in list_jobs(queue_engine)} == {job.id: job for job in jobs}


def test_a_rolled_back_batch_leaves_no_job_and_counts_nothing(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics
) -> None:
    with pytest.raises(Boom), queue_engine.begin() as connection:
        enqueue_many(
            connection, [_spec("a", clock), _spec("b", clock)], now=clock(), metrics=metrics
        )
        raise Boom
    assert list_jobs(queue_engine) == []
    assert sample(metrics, "upload_queue_enqueued_total", kind="discharge") == 0


def test_a_key_already_stored_or_repeated_in_the_batch_is_stored_once_first_one_wins(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics
) -> None:
    first = add(queue_engine, "old", clock=clock, metrics=metrics, payload={"v": 1})
    with queue_engine.begin() as connection:
        again = JobSpec("discharge", {"v": 2}, "old", clock() + timedelta(minutes=5))
        twice = JobSpec("discharge", {"v": 3}, "new", clock() + timedelta(minutes=5))
        later = JobSpec("discharge", {"v": 4}, "new", clock() + timedelta(minutes=5))
        jobs = enqueue_many(connection, [again, twice, later], now=clock(), metrics=metrics)
    assert jobs[0] == first
    assert jobs[1] == jobs[2]
    assert jobs[1].payload == {"v": 3}
    assert len(list_jobs(queue_engine)) == 2
    assert sample(metrics, "upload_queue_enqueued_total", kind="discharge") == 2


def test_a_batch_larger_than_one_statement_keeps_every_job_and_its_order(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics
) -> None:
    specs = [_spec(f"k-{n:05d}", clock, ordering=None) for n in range(CHUNK + 7)]
    with queue_engine.begin() as connection:
        jobs = enqueue_many(connection, specs, now=clock(), metrics=metrics)
    assert [job.idempotency_key for job in jobs] == [spec.idempotency_key for spec in specs]
    assert [job.id for job in jobs] == sorted(job.id for job in jobs)


def test_batched_jobs_of_one_key_are_delivered_in_the_order_given_after_earlier_ones(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics, upstream: RecordingUpstream
) -> None:
    add(queue_engine, "settle", clock=clock, metrics=metrics, ordering_key="enc-1",
        deadline=timedelta(minutes=50))  # fmt: skip
    with queue_engine.begin() as connection:
        # the revocation's deadline is earlier, yet it never overtakes what it revokes
        enqueue_many(
            connection,
            [_spec("revoke", clock, minutes=5), _spec("other", clock, minutes=1, ordering="enc-2")],
            now=clock(),
            metrics=metrics,
        )
    worker = make_worker(queue_engine, upstream, clock=clock, metrics=metrics)
    worker.drain()
    assert upstream.keys == ["other", "settle", "revoke"]
