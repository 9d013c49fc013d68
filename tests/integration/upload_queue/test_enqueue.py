"""Enqueue is part of the caller's transaction, and an idempotency key is enqueued once."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session

from tests.integration.upload_queue.helpers import add, sample
from upload_queue.admin import list_jobs
from upload_queue.clock import ManualClock
from upload_queue.enqueue import enqueue
from upload_queue.jobs import JobSpec, encode_payload
from upload_queue.metrics import QueueMetrics


class Boom(Exception):
    pass


def _spec(key: str, clock: ManualClock, **changes: object) -> JobSpec:
    fields: dict[str, object] = {
        "kind": "discharge",
        "payload": {"settlement": key, "amount": "1234.56"},
        "idempotency_key": key,
        "deadline": clock() + timedelta(minutes=30),
        "ordering_key": "enc-1",
    }
    fields.update(changes)
    return JobSpec(**fields)  # type: ignore[arg-type]


def test_a_committed_enqueue_stores_the_job_pending_and_due_now(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics
) -> None:
    with queue_engine.begin() as connection:
        job = enqueue(connection, _spec("s-1", clock), now=clock(), metrics=metrics)
    [stored] = list_jobs(queue_engine)
    assert stored == job
    assert stored.status == "pending"
    assert stored.payload == {"settlement": "s-1", "amount": "1234.56"}
    assert stored.created_at == clock() == stored.available_at
    assert stored.deadline == clock() + timedelta(minutes=30)
    assert sample(metrics, "upload_queue_enqueued_total", kind="discharge") == 1


def test_rolling_back_the_callers_transaction_leaves_no_job(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics
) -> None:
    with pytest.raises(Boom), queue_engine.begin() as connection:
        connection.execute(text("CREATE TABLE settlement (id INTEGER PRIMARY KEY)"))
        connection.execute(text("INSERT INTO settlement (id) VALUES (1)"))
        enqueue(connection, _spec("s-1", clock), now=clock(), metrics=metrics)
        raise Boom
    assert list_jobs(queue_engine) == []
    assert sample(metrics, "upload_queue_enqueued_total", kind="discharge") == 0


def test_an_orm_session_commits_the_job_with_its_own_work(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics
) -> None:
    with Session(queue_engine) as session:
        enqueue(session, _spec("s-1", clock), now=clock(), metrics=metrics)
        session.rollback()
        enqueue(session, _spec("s-2", clock), now=clock(), metrics=metrics)
        assert list_jobs(queue_engine) == []  # not visible before the caller commits
        session.commit()
    assert [job.idempotency_key for job in list_jobs(queue_engine)] == ["s-2"]
    assert sample(metrics, "upload_queue_enqueued_total", kind="discharge") == 1


def test_the_same_idempotency_key_twice_returns_the_first_job(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics
) -> None:
    first = add(queue_engine, "s-1", clock=clock, metrics=metrics, payload={"v": 1})
    clock.advance(timedelta(minutes=1))
    with queue_engine.begin() as connection:
        again = enqueue(
            connection, _spec("s-1", clock, payload={"v": 2}), now=clock(), metrics=metrics
        )
        same_transaction = enqueue(
            connection, _spec("s-1", clock, payload={"v": 3}), now=clock(), metrics=metrics
        )
    assert again == first == same_transaction
    assert [job.payload for job in list_jobs(queue_engine)] == [{"v": 1}]
    assert sample(metrics, "upload_queue_enqueued_total", kind="discharge") == 1


def test_a_payload_encoded_by_the_caller_is_stored_as_given_and_not_read_back(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics
) -> None:
    payload = {"settlement": "s-1", "lines": [{"name": "布洛芬", "fee": "36.50"}] * 3}
    encoded = encode_payload(payload)
    statements: list[str] = []
    with queue_engine.begin() as connection:
        event.listen(connection, "before_cursor_execute", lambda *a: statements.append(a[2]))
        job = enqueue(
            connection, _spec("s-1", clock, payload=payload, encoded=encoded),
            now=clock(), metrics=metrics,
        )  # fmt: skip
    assert job.payload is payload and job.status == "pending" and job.id > 0
    # one INSERT (on SQLite followed by the update of the key's earlier jobs' deadlines), and
    # the payload not among what it returns
    [insert] = [s for s in statements if s.lstrip().upper().startswith(("INSERT", "WITH"))]
    assert "RETURNING" in insert.upper() and "payload," not in insert.split("RETURNING")[1]
    [stored] = list_jobs(queue_engine)
    assert stored == job and stored.payload == payload
    with queue_engine.connect() as connection:
        kept = connection.execute(text("SELECT CAST(payload AS TEXT) FROM upload_job")).scalar()
    assert json.loads(str(kept)) == payload
    assert sample(metrics, "upload_queue_enqueued_total", kind="discharge") == 1
    # the key again: the first job, read back from the store
    with queue_engine.begin() as connection:
        again = enqueue(
            connection, _spec("s-1", clock, payload={"v": 2}, encoded='{"v": 2}'),
            now=clock(), metrics=metrics,
        )  # fmt: skip
    assert again == job and [j.payload for j in list_jobs(queue_engine)] == [payload]


def test_an_encoded_payload_must_be_a_json_objects_text(clock: ManualClock) -> None:
    with pytest.raises(ValueError, match="JSON object"):
        _spec("s-1", clock, encoded='["not", "an object"]')
    with pytest.raises(ValueError, match="plain JSON"):
        encode_payload({"amount": float("nan")})
