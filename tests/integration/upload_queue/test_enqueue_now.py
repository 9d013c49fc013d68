"""Enqueue with no caller transaction: the job committed on its own (one autocommit
statement on PostgreSQL), with the guarantees of :func:`enqueue` (idempotency keys,
deadlines, per-key order, the enqueued metric)."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import Engine, event

from tests.integration.upload_queue.conftest import RecordingUpstream
from tests.integration.upload_queue.helpers import add, make_worker, sample
from upload_queue.admin import list_jobs
from upload_queue.clock import ManualClock
from upload_queue.enqueue import enqueue
from upload_queue.enqueue_now import enqueue_now
from upload_queue.facade import UploadQueue
from upload_queue.jobs import JobSpec
from upload_queue.metrics import QueueMetrics


def _spec(
    key: str, clock: ManualClock, minutes: int = 30, ordering: str | None = "enc-1"
) -> JobSpec:
    deadline = clock() + timedelta(minutes=minutes)
    return JobSpec("discharge", {"key": key, "n": [1, 2]}, key, deadline, ordering)


def test_the_job_is_stored_committed_and_returned_as_stored(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics
) -> None:
    job = enqueue_now(queue_engine, _spec("a", clock), now=clock(), metrics=metrics)
    [stored] = list_jobs(queue_engine)  # another connection sees it: committed
    assert job == stored
    assert job.status == "pending" and job.payload == {"key": "a", "n": [1, 2]}
    assert job.deadline == clock() + timedelta(minutes=30)
    assert job.created_at == clock() == job.available_at
    assert sample(metrics, "upload_queue_enqueued_total", kind="discharge") == 1


def test_on_postgresql_it_is_one_statement_and_no_transaction_of_its_own(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics
) -> None:
    statements: list[tuple[str, bool]] = []

    def seen(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        autocommit = getattr(conn.connection.driver_connection, "autocommit", False)
        statements.append((statement.split()[0].upper(), autocommit))

    event.listen(queue_engine, "before_cursor_execute", seen)
    try:
        enqueue_now(queue_engine, _spec("a", clock), now=clock(), metrics=metrics)
    finally:
        event.remove(queue_engine, "before_cursor_execute", seen)
    # PostgreSQL: the INSERT alone in autocommit (psycopg sends no BEGIN, no COMMIT), with
    # the update of its key's earlier jobs' deadlines in the same statement (WITH …)
    if queue_engine.dialect.name == "postgresql":
        assert statements == [("WITH", True)]
    else:  # SQLite: the ordinary path, in a write transaction of its own
        assert statements == [("BEGIN", False), ("INSERT", False), ("UPDATE", False)]


def test_a_key_already_stored_writes_nothing_and_returns_the_first_job(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics
) -> None:
    first = add(queue_engine, "old", clock=clock, metrics=metrics, payload={"v": 1})
    again = JobSpec("discharge", {"v": 2}, "old", clock() + timedelta(minutes=5))
    assert enqueue_now(queue_engine, again, now=clock(), metrics=metrics) == first
    assert len(list_jobs(queue_engine)) == 1
    assert sample(metrics, "upload_queue_enqueued_total", kind="discharge") == 1


def test_a_key_being_enqueued_in_an_open_transaction_is_stored_once(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics
) -> None:
    if queue_engine.dialect.name != "postgresql":
        return  # SQLite: one writer at a time, the second waits for the lock instead
    results = []
    with queue_engine.begin() as connection:
        mine = enqueue(connection, _spec("k", clock), now=clock(), metrics=metrics)
        # the autocommit INSERT waits for this transaction, then finds the key taken
        other = threading.Thread(
            target=lambda: results.append(
                enqueue_now(
                    queue_engine, _spec("k", clock, minutes=1), now=clock(), metrics=metrics
                )
            )
        )
        other.start()
        other.join(timeout=0.5)
        assert other.is_alive()  # still waiting on the uncommitted key
    other.join()
    assert results == [list_jobs(queue_engine)[0]]
    assert results[0].id == mine.id and results[0].deadline == mine.deadline


def test_jobs_of_one_key_are_delivered_in_enqueue_order(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics, upstream: RecordingUpstream
) -> None:
    enqueue_now(queue_engine, _spec("settle", clock, minutes=50), now=clock(), metrics=metrics)
    enqueue_now(queue_engine, _spec("revoke", clock, minutes=5), now=clock(), metrics=metrics)
    enqueue_now(queue_engine, _spec("other", clock, minutes=1, ordering=None), now=clock(),
                metrics=metrics)  # fmt: skip
    make_worker(queue_engine, upstream, clock=clock, metrics=metrics).drain()
    assert upstream.keys == ["other", "settle", "revoke"]


def test_the_facade_enqueues_on_its_own_without_a_target(
    queue_engine: Engine, clock: ManualClock
) -> None:
    queue = UploadQueue(queue_engine, clock=clock)
    job = queue.enqueue(None, _spec("a", clock))
    assert list_jobs(queue_engine) == [job]
