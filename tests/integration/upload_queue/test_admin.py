"""The operator's functions: filter, summarise, re-send, purge."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine

from tests.integration.upload_queue.conftest import START, RecordingUpstream
from tests.integration.upload_queue.helpers import add, make_worker
from upload_queue.admin import attempts, get_job, list_jobs, purge, retry, revisions
from upload_queue.clock import ManualClock
from upload_queue.errors import JobNotFound, JobNotRetryable
from upload_queue.metrics import QueueMetrics
from upload_queue.reporting import summary


def test_jobs_filter_by_status_kind_and_ordering_key(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics, upstream: RecordingUpstream
) -> None:
    add(
        queue_engine,
        "a",
        clock=clock,
        metrics=metrics,
        ordering_key="enc-1",
        deadline=timedelta(minutes=9),
    )
    add(queue_engine, "b", clock=clock, metrics=metrics, ordering_key="enc-2", kind="device")
    add(
        queue_engine,
        "c",
        clock=clock,
        metrics=metrics,
        ordering_key="enc-3",
        deadline=timedelta(minutes=5),
    )
    make_worker(queue_engine, upstream, clock=clock, metrics=metrics, kind="device").drain()

    def keys(**filters: object) -> list[str]:
        return [job.idempotency_key for job in list_jobs(queue_engine, **filters)]  # type: ignore[arg-type]

    assert keys() == ["c", "a", "b"]  # by deadline
    assert keys(status="pending") == ["c", "a"]
    assert keys(kind="device") == ["b"]
    assert keys(ordering_key="enc-1") == ["a"]
    assert keys(status="pending", ordering_key="enc-2") == []
    assert keys(limit=1, offset=1) == ["a"]


def test_summary_counts_by_status_and_kind_and_names_the_oldest_pending_job(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics, upstream: RecordingUpstream
) -> None:
    first = add(queue_engine, "a", clock=clock, metrics=metrics, deadline=timedelta(hours=2))
    clock.advance(timedelta(minutes=1))
    add(queue_engine, "b", clock=clock, metrics=metrics, deadline=timedelta(minutes=30))
    add(queue_engine, "c", clock=clock, metrics=metrics, kind="device")
    make_worker(queue_engine, upstream, clock=clock, metrics=metrics, kind="device").drain()
    current = summary(queue_engine, clock())
    assert current.by_status == {
        "pending": 2,
        "in_flight": 0,
        "delivered": 1,
        "dead": 0,
        "withdrawn": 0,
    }
    assert current.by_kind == {
        "device": {"pending": 0, "in_flight": 0, "delivered": 1, "dead": 0, "withdrawn": 0},
        "discharge": {"pending": 2, "in_flight": 0, "delivered": 0, "dead": 0, "withdrawn": 0},
    }
    assert current.oldest_pending == get_job(queue_engine, first.id)
    assert current.next_deadline == START + timedelta(minutes=31)


def test_purge_deletes_only_delivered_jobs_older_than_the_retention(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics, upstream: RecordingUpstream
) -> None:
    worker = make_worker(queue_engine, upstream, clock=clock, metrics=metrics)
    old = add(queue_engine, "old", clock=clock, metrics=metrics)
    worker.drain()
    clock.advance(timedelta(days=30))
    recent = add(queue_engine, "recent", clock=clock, metrics=metrics)
    worker.drain()
    waiting = add(queue_engine, "waiting", clock=clock, metrics=metrics, kind="device")
    clock.advance(timedelta(days=1))

    assert purge(queue_engine, timedelta(days=31), clock()) == 0  # exactly at the boundary: kept
    assert purge(queue_engine, timedelta(days=2), clock()) == 1
    assert {job.id for job in list_jobs(queue_engine)} == {recent.id, waiting.id}
    assert attempts(queue_engine, old.id) == []
    assert len(attempts(queue_engine, recent.id)) == 1
    # its key is free again once purged
    assert add(queue_engine, "old", clock=clock, metrics=metrics).id not in {old.id, recent.id}


def test_retry_refuses_unknown_in_flight_and_delivered_jobs(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics, upstream: RecordingUpstream
) -> None:
    with pytest.raises(JobNotFound):
        retry(queue_engine, 999, clock())
    job = add(queue_engine, "a", clock=clock, metrics=metrics)
    make_worker(queue_engine, upstream, clock=clock, metrics=metrics).drain()
    with pytest.raises(JobNotRetryable, match="delivered"):
        retry(queue_engine, job.id, clock(), payload={"x": 1})
    assert revisions(queue_engine, job.id) == []
    with pytest.raises(ValueError, match="JSON"):
        retry(queue_engine, job.id, clock(), payload={"x": {1, 2}})  # type: ignore[dict-item]


def test_retry_makes_a_waiting_job_due_now(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics, upstream: RecordingUpstream
) -> None:
    failures = [ConnectionResetError("reset")]

    def flaky(delivery: object) -> None:
        if failures:
            raise failures.pop()
        upstream(delivery)  # type: ignore[arg-type]

    job = add(queue_engine, "a", clock=clock, metrics=metrics)
    worker = make_worker(queue_engine, flaky, clock=clock, metrics=metrics)
    worker.run_once()
    assert worker.run_once() == []
    again = retry(queue_engine, job.id, clock())
    assert (again.status, again.available_at, again.attempts) == ("pending", clock(), 0)
    assert [o.status for o in worker.run_once()] == ["delivered"]
