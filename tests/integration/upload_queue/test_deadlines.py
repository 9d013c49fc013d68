"""Deadlines: at-risk and missed jobs show in the summary, /healthz, metrics and one log event."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from tests.integration.upload_queue.conftest import START, RecordingUpstream
from tests.integration.upload_queue.helpers import add, make_worker, sample
from upload_queue.admin import get_job
from upload_queue.clock import ManualClock
from upload_queue.errors import PermanentDeliveryError
from upload_queue.facade import UploadQueue
from upload_queue.jobs import Delivery
from upload_queue.metrics import QueueMetrics
from upload_queue.reporting import health, summary, watch_deadlines

MARGIN = timedelta(minutes=10)


def _events(caplog: pytest.LogCaptureFixture, event: str) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records if r.name == "upload_queue" and getattr(r, "event", "") == event
    ]


def test_the_watch_alerts_once_per_job_at_risk_then_once_when_missed(
    queue_engine: Engine,
    clock: ManualClock,
    metrics: QueueMetrics,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="upload_queue")
    soon = add(
        queue_engine, "soon", clock=clock, metrics=metrics, deadline=timedelta(minutes=25),
        ordering_key="enc-7",
    )  # fmt: skip
    add(queue_engine, "later", clock=clock, metrics=metrics, deadline=timedelta(hours=2))

    report = watch_deadlines(queue_engine, clock(), margin=MARGIN, metrics=metrics)
    assert report is not None and report.at_risk == () and report.missed == ()
    assert _events(caplog, "deadline_at_risk") == []

    clock.advance(timedelta(minutes=15))  # 10 minutes left: inside the margin
    report = watch_deadlines(queue_engine, clock(), margin=MARGIN, metrics=metrics)
    assert report is not None and [a.job_id for a in report.at_risk] == [soon.id]
    [record] = _events(caplog, "deadline_at_risk")
    assert record.levelno == logging.WARNING
    assert (record.job_id, record.kind, record.status) == (soon.id, "discharge", "pending")  # type: ignore[attr-defined]
    assert record.deadline == (START + timedelta(minutes=25)).isoformat()  # type: ignore[attr-defined]
    assert record.seconds_left == 600  # type: ignore[attr-defined]
    assert sample(metrics, "upload_queue_at_risk") == 1

    clock.advance(timedelta(minutes=1))
    watch_deadlines(queue_engine, clock(), margin=MARGIN, metrics=metrics)
    assert len(_events(caplog, "deadline_at_risk")) == 1  # not repeated every tick

    clock.advance(timedelta(minutes=9))  # exactly at the deadline: missed
    report = watch_deadlines(queue_engine, clock(), margin=MARGIN, metrics=metrics)
    assert report is not None and [a.job_id for a in report.missed] == [soon.id]
    [missed] = _events(caplog, "deadline_missed")
    assert missed.levelno == logging.ERROR and missed.job_id == soon.id  # type: ignore[attr-defined]
    assert missed.encounter == record.encounter == "enc-7"  # type: ignore[attr-defined]  # the stay, as job_dead names it
    assert (sample(metrics, "upload_queue_at_risk"), sample(metrics, "upload_queue_overdue")) == (
        0,
        1,
    )


def test_a_dead_job_near_its_deadline_is_at_risk_and_a_delivered_one_is_not(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics, upstream: RecordingUpstream
) -> None:
    def reject(delivery: Delivery) -> None:
        if delivery.idempotency_key == "bad":
            raise PermanentDeliveryError("就诊信息不存在")
        upstream(delivery)

    add(queue_engine, "bad", clock=clock, metrics=metrics, deadline=timedelta(minutes=5))
    add(queue_engine, "good", clock=clock, metrics=metrics, deadline=timedelta(minutes=5))
    make_worker(queue_engine, reject, clock=clock, metrics=metrics).drain()
    current = summary(queue_engine, clock(), margin=MARGIN)
    assert (current.at_risk, current.missed) == (1, 0)
    assert current.by_status == {
        "pending": 0,
        "in_flight": 0,
        "delivered": 1,
        "dead": 1,
        "withdrawn": 0,
    }


def test_health_reports_backlog_oldest_deadline_risk_and_turns_not_ok_when_late(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics
) -> None:
    assert health(queue_engine, clock(), metrics=metrics, margin=MARGIN) == {
        "ok": True,
        "backlog": 0,
        "pending": 0,
        "in_flight": 0,
        "dead": 0,
        "oldest_pending_deadline": None,
        "at_risk": 0,
        "overdue": 0,
    }
    add(queue_engine, "a", clock=clock, metrics=metrics, deadline=timedelta(minutes=30))
    add(queue_engine, "b", clock=clock, metrics=metrics, deadline=timedelta(minutes=5))
    report = health(queue_engine, clock(), metrics=metrics, margin=MARGIN)
    assert report["ok"] is True
    assert (report["backlog"], report["at_risk"], report["overdue"]) == (2, 1, 0)
    assert report["oldest_pending_deadline"] == (START + timedelta(minutes=5)).isoformat()
    assert sample(metrics, "upload_queue_jobs", status="pending") == 2

    clock.advance(timedelta(minutes=5))
    late = health(queue_engine, clock(), metrics=metrics, margin=MARGIN)
    assert (late["ok"], late["overdue"], late["at_risk"]) == (False, 1, 0)


def test_delivery_metrics_record_latency_and_time_left_before_the_deadline(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics, upstream: RecordingUpstream
) -> None:
    add(queue_engine, "on-time", clock=clock, metrics=metrics, deadline=timedelta(minutes=30))
    add(queue_engine, "late", clock=clock, metrics=metrics, deadline=timedelta(minutes=1))
    clock.advance(timedelta(minutes=2))
    make_worker(queue_engine, upstream, clock=clock, metrics=metrics).drain()
    assert upstream.keys == ["late", "on-time"]
    assert sample(metrics, "upload_queue_deadline_missed_total", kind="discharge") == 1
    assert sample(metrics, "upload_queue_time_to_deadline_seconds_sum", kind="discharge") == 1680
    assert (
        sample(metrics, "upload_queue_time_to_deadline_seconds_bucket", kind="discharge", le="0.0")
        == 1
    )
    assert sample(metrics, "upload_queue_delivery_latency_seconds_sum", kind="discharge") == 240
    assert sample(metrics, "upload_queue_delivery_latency_seconds_count", kind="discharge") == 2


def test_the_facade_uses_its_own_registry_and_clock(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics, upstream: RecordingUpstream
) -> None:
    queue = UploadQueue(queue_engine, clock=clock, registry=metrics.registry, at_risk_margin=MARGIN)
    assert queue.metrics is metrics
    queue.register("discharge", upstream)
    add(queue_engine, "x", clock=clock, metrics=queue.metrics, deadline=timedelta(minutes=5))
    assert queue.health()["at_risk"] == 1
    assert queue.worker().drain() == 1
    assert queue.summary().by_kind == {
        "discharge": {"pending": 0, "in_flight": 0, "delivered": 1, "dead": 0, "withdrawn": 0}
    }
    assert sample(queue.metrics, "upload_queue_delivered_total", kind="discharge") == 1


def test_a_deadline_missed_today_still_counts_once_its_job_is_delivered_late(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics, upstream: RecordingUpstream
) -> None:
    """IT's "deadline misses today": a discharge record delivered two hours after its
    30-minute deadline is no longer overdue, but its deadline was missed all the same."""
    day_began = clock()
    add(queue_engine, "late", clock=clock, metrics=metrics, deadline=timedelta(minutes=30))
    add(queue_engine, "on-time", clock=clock, metrics=metrics, deadline=timedelta(hours=5))
    add(queue_engine, "tomorrow", clock=clock, metrics=metrics, deadline=timedelta(days=1))
    clock.advance(timedelta(hours=2))  # upstream was down past the first deadline
    before = summary(queue_engine, clock(), margin=MARGIN, since=day_began)
    assert (before.missed, before.missed_since) == (1, 1)

    make_worker(queue_engine, upstream, clock=clock, metrics=metrics).drain()
    after = summary(queue_engine, clock(), margin=MARGIN, since=day_began)
    assert after.by_status["delivered"] == 3
    assert (after.missed, after.missed_since) == (0, 1)  # delivered late: still a miss today
    next_day = summary(queue_engine, clock(), margin=MARGIN, since=clock())
    assert next_day.missed_since == 0  # a miss belongs to the day its deadline fell on
    assert summary(queue_engine, clock(), margin=MARGIN).missed_since is None  # not asked


def test_an_alert_on_a_job_held_back_behind_its_stays_dead_job_names_that_job(
    queue_engine: Engine,
    clock: ManualClock,
    metrics: QueueMetrics,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The stay's discharge record waits behind its refused rehab plan (a stay's uploads go in
    order): the alert on the record's deadline names the dead plan IT must see to — the
    record itself has no attempt and no error to say why it does not go."""
    caplog.set_level(logging.INFO, logger="upload_queue")

    def refuse_plan(delivery: Delivery) -> None:
        raise PermanentDeliveryError("康复计划缺少预计康复天数")

    plan = add(queue_engine, "plan", clock=clock, metrics=metrics, kind="rehab_plan",
               deadline=timedelta(hours=24), ordering_key="enc-9")  # fmt: skip
    make_worker(queue_engine, refuse_plan, clock=clock, metrics=metrics, kind="rehab_plan").drain()
    record = add(queue_engine, "record", clock=clock, metrics=metrics,
                 deadline=timedelta(minutes=30), ordering_key="enc-9")  # fmt: skip
    alone = add(queue_engine, "alone", clock=clock, metrics=metrics,
                deadline=timedelta(minutes=30), ordering_key="enc-10")  # fmt: skip

    clock.advance(timedelta(minutes=25))
    watch_deadlines(queue_engine, clock(), margin=MARGIN, metrics=metrics)
    alerts = {r.job_id: r for r in _events(caplog, "deadline_at_risk")}  # type: ignore[attr-defined]
    assert alerts[record.id].held_back_by == plan.id  # type: ignore[attr-defined]
    assert f"held_back_by={plan.id}" in alerts[record.id].getMessage()
    assert alerts[alone.id].held_back_by is None  # type: ignore[attr-defined]

    clock.advance(timedelta(minutes=5))
    watch_deadlines(queue_engine, clock(), margin=MARGIN, metrics=metrics)
    missed = {r.job_id: r for r in _events(caplog, "deadline_missed")}  # type: ignore[attr-defined]
    assert missed[record.id].held_back_by == plan.id  # type: ignore[attr-defined]


def test_an_upload_waiting_for_a_later_one_of_its_stay_is_due_when_that_one_is(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics, upstream: RecordingUpstream
) -> None:
    """The rehab plan (due within 24 hours) goes before the stay's discharge record (due 30
    minutes after settlement, N§33, B§32): once the record is queued behind it, the plan is
    due when the record is. Before, the plan kept its 24 hours and waited, after an outage,
    behind every upload due sooner — and the record, held behind it, reached upstream late."""
    plan = add(queue_engine, "plan", clock=clock, metrics=metrics, deadline=timedelta(hours=24),
               ordering_key="enc-rehab")  # fmt: skip
    for n in range(5):  # other stays' uploads, due later than the record
        add(queue_engine, f"other-{n}", clock=clock, metrics=metrics,
            deadline=timedelta(hours=1), ordering_key=f"enc-{n}")  # fmt: skip
    add(queue_engine, "record", clock=clock, metrics=metrics, deadline=timedelta(minutes=30),
        ordering_key="enc-rehab")  # fmt: skip

    def slow(delivery: Delivery) -> None:  # upstream just back: 6 minutes per upload
        clock.advance(timedelta(minutes=6))
        upstream(delivery)

    assert get_job(queue_engine, plan.id).deadline == START + timedelta(minutes=30)
    make_worker(queue_engine, slow, clock=clock, metrics=metrics).drain()
    assert upstream.keys[:2] == ["plan", "record"]  # the plan still before the record
    assert sample(metrics, "upload_queue_deadline_missed_total", kind="discharge") == 0


def test_the_next_deadline_is_a_dead_jobs_when_it_falls_first(
    queue_engine: Engine, clock: ManualClock, metrics: QueueMetrics
) -> None:
    """A refused upload still owes upstream its record by its deadline: the summary's next
    deadline (the monitor's 最近截止) is its, not that of a later pending one."""

    def refuse(delivery: Delivery) -> None:
        raise PermanentDeliveryError("结算明细项目编码不存在")

    add(queue_engine, "refused", clock=clock, metrics=metrics, kind="device",
        deadline=timedelta(minutes=12))  # fmt: skip
    add(queue_engine, "waiting", clock=clock, metrics=metrics, deadline=timedelta(minutes=25))
    make_worker(queue_engine, refuse, clock=clock, metrics=metrics, kind="device").drain()
    current = summary(queue_engine, clock(), margin=MARGIN)
    assert current.by_status["dead"] == 1
    assert current.next_deadline == START + timedelta(minutes=12)
