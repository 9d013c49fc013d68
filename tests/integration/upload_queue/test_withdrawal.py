"""Withdrawing a refused job and the job queued to undo it (upload_queue.withdrawal): only when
every attempt was the receiver's refusal; then neither is ever sent, the key's later jobs go,
and no report counts them as owed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, update

from tests.integration.upload_queue.conftest import RecordingUpstream
from tests.integration.upload_queue.helpers import add, make_worker
from upload_queue import admin, reporting
from upload_queue.clock import ManualClock
from upload_queue.errors import (
    JobNotRetryable,
    PermanentDeliveryError,
    RefusedDeliveryError,
    TransientDeliveryError,
)
from upload_queue.handlers import Handlers
from upload_queue.jobs import Delivery, Job
from upload_queue.metrics import QueueMetrics
from upload_queue.retry import RetryPolicy
from upload_queue.tables import upload_attempt, upload_job
from upload_queue.withdrawal import Withdrawal, withdraw_refused
from upload_queue.worker import Worker

ONCE = RetryPolicy(max_attempts=1, random=lambda: 0.0)


def _failing(*errors: Exception) -> tuple[RecordingUpstream, object]:
    """A handler that raises ``errors`` in turn for the key ``first``, then records."""
    upstream = RecordingUpstream()
    left = list(errors)

    def handle(delivery: Delivery) -> None:
        if delivery.idempotency_key == "first" and left:
            raise left.pop(0)
        upstream(delivery)

    return upstream, handle


def _stay(engine: Engine, clock: ManualClock, metrics: QueueMetrics) -> tuple[Job, Job, Job]:
    """A settlement, its revocation, the settlement again: one ordering key, in that order."""
    jobs = [
        add(engine, key, clock=clock, metrics=metrics, ordering_key="stay-1")
        for key in ("first", "revoke", "again")
    ]
    return jobs[0], jobs[1], jobs[2]


def _worker(engine: Engine, handle: object, clock: ManualClock, metrics: QueueMetrics) -> Worker:
    return make_worker(engine, handle, clock=clock, metrics=metrics, policy=ONCE)  # type: ignore[arg-type]


def _withdraw(engine: Engine, job: Job, undoing: Job, clock: ManualClock) -> tuple[int, ...]:
    with engine.begin() as connection:
        found = withdraw_refused(connection, job.id, [undoing.id], reason="无需上传", now=clock())
    return found.withdrawn


def test_a_job_refused_every_time_is_withdrawn_with_its_undoing_and_the_key_goes_on(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics
) -> None:
    upstream, handle = _failing(RefusedDeliveryError("参数错误"), RefusedDeliveryError("参数错误"))
    first, revoke, again = _stay(queue_engine, clock, metrics)
    worker = _worker(queue_engine, handle, clock, metrics)
    worker.drain()
    admin.retry(queue_engine, first.id, clock())  # IT re-sent it: refused again
    worker.drain()
    assert [(a.outcome, a.refused) for a in admin.attempts(queue_engine, first.id)] == [
        ("permanent", True),
        ("permanent", True),
    ]
    assert upstream.keys == []  # held back behind the dead job

    assert _withdraw(queue_engine, first, revoke, clock) == (first.id, revoke.id)
    worker.drain()
    assert upstream.keys == ["again"]
    assert admin.get_job(queue_engine, again.id).status == "delivered"
    withdrawn = [admin.get_job(queue_engine, job.id) for job in (first, revoke)]
    assert [(j.status, j.last_error, j.withdrawn_at) for j in withdrawn] == [
        ("withdrawn", "无需上传", clock())
    ] * 2
    # never sent again, owed by no report
    with pytest.raises(JobNotRetryable):
        admin.retry(queue_engine, revoke.id, clock())
    with queue_engine.connect() as connection:
        assert reporting.unfinished(connection, ["discharge"]) == {}
        assert reporting.deadlines_of(connection, ["first", "revoke"]) == {}
    clock.advance(timedelta(hours=1))
    summary = reporting.summary(queue_engine, clock(), since=clock() - timedelta(hours=2))
    assert summary.by_status["withdrawn"] == 2 and summary.missed == 0
    assert summary.missed_since == 0
    assert admin.list_jobs(queue_engine, status="withdrawn") == withdrawn


@pytest.mark.parametrize(
    "errors",
    [
        (TransientDeliveryError("timeout"), RefusedDeliveryError("参数错误")),
        (PermanentDeliveryError("HTTP 404"),),  # a gateway's no: not the receiver's
    ],
    ids=["a_time_out_then_a_refusal", "a_permanent_failure_not_a_refusal"],
)
def test_a_job_that_may_have_reached_the_receiver_is_not_withdrawn(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics, errors: tuple[Exception, ...]
) -> None:
    upstream, handle = _failing(*errors)
    first, revoke, again = _stay(queue_engine, clock, metrics)
    worker = _worker(queue_engine, handle, clock, metrics)
    worker.drain()
    if len(errors) > 1:
        admin.retry(queue_engine, first.id, clock())
        worker.drain()
    assert admin.get_job(queue_engine, first.id).status == "dead"

    with queue_engine.begin() as connection:
        found = withdraw_refused(connection, first.id, [revoke.id], reason="x", now=clock())
    assert (found.certainty, found.withdrawn, found.uncertain) == ("uncertain", (), 1)
    worker.drain()
    assert upstream.keys == []
    assert [admin.get_job(queue_engine, j.id).status for j in (first, revoke, again)] == [
        "dead", "pending", "pending",
    ]  # fmt: skip


def test_a_lost_lease_makes_a_refusal_uncertain(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics
) -> None:
    first, revoke, _ = _stay(queue_engine, clock, metrics)
    _, handle = _failing(RefusedDeliveryError("参数错误"))
    _worker(queue_engine, handle, clock, metrics).drain()
    with queue_engine.begin() as connection:  # and a worker lost before it: its lease ran out
        connection.execute(
            upload_attempt.insert().values(
                job_id=first.id, number=0, worker="w0", started_at=clock(),
                finished_at=clock(), duration_s=0.0, outcome="lease_expired",
            )
        )  # fmt: skip
    assert _withdraw(queue_engine, first, revoke, clock) == ()
    assert admin.get_job(queue_engine, revoke.id).status == "pending"


def test_only_a_dead_job_is_withdrawn_and_not_while_its_undoing_is_in_flight(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics
) -> None:
    first, revoke, _ = _stay(queue_engine, clock, metrics)
    assert _withdraw(queue_engine, first, revoke, clock) == ()  # pending: it may go yet
    _, handle = _failing(RefusedDeliveryError("参数错误"))
    _worker(queue_engine, handle, clock, metrics).drain()
    with queue_engine.begin() as connection:
        connection.execute(
            update(upload_job).where(upload_job.c.id == revoke.id).values(status="in_flight")
        )
    assert _withdraw(queue_engine, first, revoke, clock) == ()
    assert admin.get_job(queue_engine, first.id).status == "dead"


def test_the_refused_hook_hears_of_a_job_dead_on_a_refusal_only(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics
) -> None:
    heard: list[str] = []
    refusals = {"a": RefusedDeliveryError("no"), "b": PermanentDeliveryError("HTTP 400"),
                "c": TransientDeliveryError("timeout")}  # fmt: skip

    def handle(delivery: Delivery) -> None:
        raise refusals[delivery.idempotency_key]

    handlers = Handlers()
    handlers.register("discharge", handle, on_refused=lambda d: heard.append(d.idempotency_key))
    for key in refusals:
        add(queue_engine, key, clock=clock, metrics=metrics)
    Worker(queue_engine, handlers, clock=clock, policy=ONCE, metrics=metrics).drain()
    assert heard == ["a"]


def test_attempts_the_receiver_undid_since_count_as_refusals_each_by_the_payload_it_went_with(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics
) -> None:
    """A time-out under payload v1; IT re-sends v2 (replacing v1), refused. The receiver may
    hold v1: withdrawn only when v1 is undone — v2's being undone does not do it."""
    upstream, handle = _failing(TransientDeliveryError("timeout"), RefusedDeliveryError("no"))
    first, revoke, again = _stay(queue_engine, clock, metrics)
    worker = _worker(queue_engine, handle, clock, metrics)
    worker.drain()
    clock.advance(timedelta(minutes=1))
    admin.retry(queue_engine, first.id, clock(), payload={"key": "first", "v": 2})
    clock.advance(timedelta(minutes=1))
    worker.drain()

    def undo(version: int | None) -> Withdrawal:
        with queue_engine.begin() as connection:
            return withdraw_refused(
                connection, first.id, [revoke.id], reason=lambda certainty: certainty,
                now=clock(), undone=lambda payload: payload.get("v") == version,
            )  # fmt: skip

    assert (undo(2).certainty, undo(2).withdrawn, undo(2).uncertain) == ("uncertain", (), 1)
    found = undo(None)  # the first payload had no "v"
    assert (found.certainty, found.withdrawn, found.undone) == (
        "undone", (first.id, revoke.id), 1,
    )  # fmt: skip
    assert admin.get_job(queue_engine, first.id).last_error == "undone"
    worker.drain()
    assert upstream.keys == ["again"]
    assert admin.get_job(queue_engine, again.id).status == "delivered"


def test_the_delivered_hook_hears_of_each_delivery_after_it_is_committed(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics
) -> None:
    heard: list[tuple[str, str]] = []

    def handle(delivery: Delivery) -> None:
        if delivery.idempotency_key == "b":
            raise RefusedDeliveryError("no")

    def delivered(delivery: Delivery) -> None:
        status = admin.get_job(queue_engine, delivery.job_id).status  # committed already
        heard.append((delivery.idempotency_key, status))
        if delivery.idempotency_key == "c":
            raise RuntimeError("the hook fails: logged, the delivery stands")

    handlers = Handlers()
    handlers.register("discharge", handle, on_delivered=delivered)
    added = [add(queue_engine, key, clock=clock, metrics=metrics) for key in ("a", "b", "c")]
    Worker(queue_engine, handlers, clock=clock, policy=ONCE, metrics=metrics).drain()
    assert heard == [("a", "delivered"), ("c", "delivered")]
    assert [admin.get_job(queue_engine, job.id).status for job in added] == [
        "delivered", "dead", "delivered",
    ]  # fmt: skip
