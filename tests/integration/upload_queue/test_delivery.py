"""Delivery: earliest deadline first, strict order within a key, retries, dead letters, re-send."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete

from tests.integration.upload_queue.conftest import START, RecordingUpstream
from tests.integration.upload_queue.helpers import add, make_worker, sample
from upload_queue.admin import attempts, get_job, list_jobs, retry, revisions
from upload_queue.clock import ManualClock
from upload_queue.errors import PermanentDeliveryError
from upload_queue.jobs import Delivery, Job
from upload_queue.metrics import QueueMetrics
from upload_queue.retry import RetryPolicy
from upload_queue.tables import upload_attempt, upload_job


def test_jobs_of_one_key_are_delivered_in_enqueue_order_whatever_their_deadlines(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics, upstream: RecordingUpstream
) -> None:
    add(
        queue_engine,
        "settle",
        clock=clock,
        metrics=metrics,
        ordering_key="enc",
        deadline=START + timedelta(minutes=30),
    )
    add(
        queue_engine,
        "revoke",
        clock=clock,
        metrics=metrics,
        ordering_key="enc",
        deadline=START + timedelta(minutes=5),
    )
    add(
        queue_engine,
        "other",
        clock=clock,
        metrics=metrics,
        ordering_key="enc-2",
        deadline=START + timedelta(minutes=10),
    )
    worker = make_worker(queue_engine, upstream, clock=clock, metrics=metrics)
    assert worker.drain() == 3
    # the settlement goes before its revocation, and so is due when the revocation is
    assert upstream.keys == ["settle", "revoke", "other"]


def test_a_dead_job_holds_back_the_later_jobs_of_its_key_until_re_sent(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics, upstream: RecordingUpstream
) -> None:
    def reject_bad_id(delivery: Delivery) -> None:
        if delivery.payload.get("id_no") == "bad":
            raise PermanentDeliveryError("人员证件号码校验不通过")
        upstream(delivery)

    settle = add(
        queue_engine,
        "settle",
        clock=clock,
        metrics=metrics,
        ordering_key="enc",
        payload={"id_no": "bad"},
    )
    add(queue_engine, "revoke", clock=clock, metrics=metrics, ordering_key="enc")
    add(queue_engine, "unrelated", clock=clock, metrics=metrics, ordering_key="enc-2")
    worker = make_worker(queue_engine, reject_bad_id, clock=clock, metrics=metrics)

    assert worker.drain() == 2
    assert upstream.keys == ["unrelated"]
    dead = get_job(queue_engine, settle.id)
    assert dead.status == "dead"
    assert dead.last_error == "人员证件号码校验不通过"
    assert [job.idempotency_key for job in list_jobs(queue_engine, status="pending")] == ["revoke"]
    [attempt] = attempts(queue_engine, settle.id)
    assert (attempt.outcome, attempt.error, attempt.number) == ("permanent", dead.last_error, 1)
    assert sample(metrics, "upload_queue_dead_total", kind="discharge") == 1
    assert (
        sample(metrics, "upload_queue_failed_total", kind="discharge", error_kind="permanent") == 1
    )

    clock.advance(timedelta(minutes=3))
    retry(queue_engine, settle.id, clock(), payload={"id_no": "110101199001011234"}, note="fixed")
    assert worker.drain() == 2
    assert upstream.keys == ["unrelated", "settle", "revoke"]
    assert upstream.received[1].payload == {"id_no": "110101199001011234"}
    assert upstream.received[1].attempt == 2
    [original] = revisions(queue_engine, settle.id)
    assert (original.payload, original.note, original.replaced_at) == (
        {"id_no": "bad"},
        "fixed",
        clock(),
    )
    assert [a.outcome for a in attempts(queue_engine, settle.id)] == ["permanent", "delivered"]
    assert get_job(queue_engine, settle.id).status == "delivered"


def test_a_transient_failure_waits_out_its_back_off_then_delivers(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics, upstream: RecordingUpstream
) -> None:
    failures = [ConnectionResetError("connection reset by peer"), TimeoutError("read timed out")]

    def flaky(delivery: Delivery) -> None:
        if failures:
            raise failures.pop(0)
        upstream(delivery)

    job = add(queue_engine, "settle", clock=clock, metrics=metrics)
    worker = make_worker(queue_engine, flaky, clock=clock, metrics=metrics)
    assert [o.status for o in worker.run_once()] == ["pending"]
    waiting = get_job(queue_engine, job.id)
    assert waiting.available_at == START + timedelta(seconds=5)
    assert waiting.last_error == "ConnectionResetError: connection reset by peer"
    assert worker.run_once() == []  # not due yet

    clock.advance(timedelta(seconds=5))
    assert [o.status for o in worker.run_once()] == ["pending"]
    assert get_job(queue_engine, job.id).available_at == clock() + timedelta(seconds=10)
    clock.advance(timedelta(seconds=9))
    assert worker.run_once() == []
    clock.advance(timedelta(seconds=1))
    assert [o.status for o in worker.run_once()] == ["delivered"]
    assert upstream.keys == ["settle"]
    assert upstream.received[0].attempt == 3
    history = attempts(queue_engine, job.id)
    assert [(a.number, a.outcome) for a in history] == [
        (1, "transient"),
        (2, "transient"),
        (3, "delivered"),
    ]
    assert sample(metrics, "upload_queue_attempts_total", kind="discharge") == 3
    assert (
        sample(metrics, "upload_queue_failed_total", kind="discharge", error_kind="transient") == 2
    )
    assert sample(metrics, "upload_queue_delivered_total", kind="discharge") == 1
    assert sample(metrics, "upload_queue_delivery_latency_seconds_sum", kind="discharge") == 15


def test_transient_failures_end_in_the_dead_letter_state_after_max_attempts(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics
) -> None:
    def down(delivery: Delivery) -> None:
        raise ConnectionRefusedError("upstream down")

    policy = RetryPolicy(max_attempts=3, random=lambda: 0.0)
    job = add(queue_engine, "settle", clock=clock, metrics=metrics)
    worker = make_worker(queue_engine, down, clock=clock, metrics=metrics, policy=policy)
    for _ in range(3):
        clock.advance(timedelta(hours=1))
        worker.run_once()
    dead = get_job(queue_engine, job.id)
    assert (dead.status, dead.attempts, dead.total_attempts) == ("dead", 3, 3)
    assert dead.last_error == "ConnectionRefusedError: upstream down"
    clock.advance(timedelta(hours=1))
    assert worker.run_once() == []


def test_a_classify_hook_turns_a_foreign_error_permanent(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics
) -> None:
    class UpstreamRejected(Exception):
        pass

    def reject(delivery: Delivery) -> None:
        raise UpstreamRejected("结算信息不存在")

    def classify(exc: BaseException) -> str | None:
        return "permanent" if isinstance(exc, UpstreamRejected) else None

    job = add(queue_engine, "settle", clock=clock, metrics=metrics)
    make_worker(queue_engine, reject, clock=clock, metrics=metrics, classify=classify).drain()
    dead = get_job(queue_engine, job.id)
    assert (dead.status, dead.last_error) == ("dead", "UpstreamRejected: 结算信息不存在")


def test_a_dead_job_s_log_line_names_its_stay_and_msgid_as_a_delivered_one_does(
    queue_engine: Engine,
    clock: ManualClock,
    metrics: QueueMetrics,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # job_delivered named the encounter and msgid; job_dead, the line IT is alerted on, named
    # only the job id: which stay's discharge record died had to be looked up in the database
    def refuse(delivery: Delivery) -> None:
        raise PermanentDeliveryError("人员证件号码校验不通过")

    job = add(
        queue_engine,
        "H110100000012026120508000001",
        clock=clock,
        metrics=metrics,
        ordering_key="E7A8E641CF5AF4B52BF501D43",
        payload={"msgid": "H110100000012026120508000001"},
    )
    caplog.set_level("INFO", logger="upload_queue")
    make_worker(queue_engine, refuse, clock=clock, metrics=metrics).drain()
    [line] = [r.__dict__ for r in caplog.records if getattr(r, "event", "") == "job_dead"]
    assert line["job_id"] == job.id and line["error"] == "人员证件号码校验不通过"
    assert line["encounter"] == "E7A8E641CF5AF4B52BF501D43"
    assert line["msgid"] == "H110100000012026120508000001"
    assert line["attempt"] == 1


def test_a_kind_without_a_handler_stays_pending_and_holds_its_key(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics, upstream: RecordingUpstream
) -> None:
    add(queue_engine, "plan", clock=clock, metrics=metrics, kind="rehab_plan", ordering_key="enc")
    add(queue_engine, "settle", clock=clock, metrics=metrics, ordering_key="enc")
    add(queue_engine, "free", clock=clock, metrics=metrics)
    assert make_worker(queue_engine, upstream, clock=clock, metrics=metrics).drain() == 1
    assert upstream.keys == ["free"]
    assert {j.idempotency_key for j in list_jobs(queue_engine, status="pending")} == {
        "plan",
        "settle",
    }


jobs_strategy = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=120),  # deadline, minutes from now
        st.sampled_from([None, "enc-a", "enc-b", "enc-c"]),  # ordering key
    ),
    min_size=1,
    max_size=25,
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(jobs=jobs_strategy)
def test_earliest_deadline_first_among_jobs_free_to_go(
    queue_engine: Engine,
    clock: ManualClock,
    metrics: QueueMetrics,
    jobs: list[tuple[int, str | None]],
) -> None:
    with queue_engine.begin() as connection:
        connection.execute(delete(upload_attempt))
        connection.execute(delete(upload_job))
    upstream = RecordingUpstream()
    enqueued = [
        add(
            queue_engine,
            f"job-{i}",
            clock=clock,
            metrics=metrics,
            ordering_key=key,
            deadline=timedelta(minutes=minutes),
        )
        for i, (minutes, key) in enumerate(jobs)
    ]
    assert make_worker(queue_engine, upstream, clock=clock, metrics=metrics).drain() == len(jobs)

    remaining = list(enqueued)
    for delivery in upstream.received:
        heads = [
            job
            for index, job in enumerate(remaining)
            if job.ordering_key is None
            or all(other.ordering_key != job.ordering_key for other in remaining[:index])
        ]
        # a job is due when the earliest due job queued after it under its key is
        expected = min(heads, key=lambda job: (_due(job, remaining), job.id))
        assert delivery.job_id == expected.id
        remaining = [job for job in remaining if job.id != delivery.job_id]
    assert remaining == []


def _due(job: Job, remaining: list[Job]) -> datetime:
    """``job``'s deadline as the queue keeps it: the earliest of its own and those of the jobs
    of its key queued after it."""
    return min(
        other.deadline
        for other in remaining
        if other.id == job.id
        or (job.ordering_key is not None and other.ordering_key == job.ordering_key
            and other.id > job.id)
    )  # fmt: skip
