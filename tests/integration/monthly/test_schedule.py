"""Scheduling: every run recorded (start, end, outcome, message) and shown to IT; a missed
slot runs at start-up and not again after; a failure is kept and retried; two instances on
one PostgreSQL run a slot once (advisory lock plus the slot's record)."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from adapter.scheduling.jobs import ScheduledJob
from adapter.scheduling.scheduler import MonthlyScheduler, latest_slot
from adapter.services.container import Services
from adapter.services.monthly import MonthlyServices
from adapter.settings_sections import ScheduleSettings
from adapter.store import schedule_log
from adapter.store.db import make_engine
from adapter.store.tables import metadata as store_metadata
from tests.integration.monthly.api import monthly_api
from tests.integration.monthly.world import Desk, SetClock, at
from tests.support.polling import eventually

ZONE = ZoneInfo("Asia/Shanghai")
ONLY_RECONCILIATION = ScheduleSettings(
    reconciliation="0 6 3 * *",
    reconciliation_after_cutoff="",
    deductions="",
    catalogue_sync="",
    device_funds_reminder="",
)


def test_the_latest_slot_is_the_last_cron_time_at_or_before_now() -> None:
    now = at(date(2026, 2, 10), 9)
    assert latest_slot("0 6 3 * *", ZONE, now, timedelta(days=31)) == at(date(2026, 2, 3), 6)
    assert latest_slot("0 6 3 * *", ZONE, at(date(2026, 2, 3), 6), timedelta(days=1)) == at(
        date(2026, 2, 3), 6
    )
    assert latest_slot("0 6 3 * *", ZONE, now, timedelta(days=6)) is None  # out of reach
    assert latest_slot("0 2 * * *", ZONE, now, timedelta(days=31)) == at(date(2026, 2, 10), 2)


def test_settings_refuse_a_bad_cron_string() -> None:
    with pytest.raises(ValueError, match="cron"):
        ScheduleSettings(reconciliation="every month")
    assert ScheduleSettings(deductions="").deductions == ""  # empty: the job is off


def test_a_missed_reconciliation_runs_at_start_up_once_and_is_shown_to_it(
    services: Services,
    monthly: MonthlyServices,
    clock: SetClock,
    queue: Any,
    db: Engine,
    db_url: str,
) -> None:
    Desk(services, clock).january_stay()
    queue.worker().drain()
    clock.set(at(date(2026, 2, 10), 9))  # the adapter was down on 3 February at 06:00
    first = MonthlyScheduler.from_settings(ONLY_RECONCILIATION, monthly, clock=clock.now)
    first.start()
    try:
        [attempt] = eventually(lambda: list(first.attempted))
    finally:
        first.stop()
    slot = at(date(2026, 2, 3), 6).astimezone(UTC)
    assert first.caught_up == [("reconciliation", slot)]
    assert (attempt.result, attempt.outcome, attempt.trigger) == ("ran", "ok", "startup")
    [run] = schedule_log.recent(db, job="reconciliation")
    assert (run.slot, run.attempt, run.trigger, run.outcome) == (slot, 1, "startup", "ok")
    assert run.finished_at is not None and run.started_at <= run.finished_at
    assert run.message.startswith("2026-01: ")
    [kept] = monthly.reconciliation.history("2026-01")
    assert kept.actor == "system:schedule" and kept.outcome == "balanced"

    again = MonthlyScheduler.from_settings(ONLY_RECONCILIATION, monthly, clock=clock.now)
    again.start()  # restarted the same day: nothing was missed
    try:
        assert again.caught_up == []
        [job] = again.describe()
        assert job["job"] == "reconciliation" and job["cron"] == "0 6 3 * *"
        assert job["next_run_time"].startswith("20")
    finally:
        again.stop()
    assert again.run_slot("reconciliation", slot, "schedule").result == "skipped_done"

    with monthly_api(db, db_url, services, scheduler=again) as api:
        runs = api.get("/api/v1/schedule/runs", role="it")
        assert api.get("/api/v1/schedule/runs", role="billing").status_code == 403
        jobs = api.get("/api/v1/schedule/jobs", role="it").json()
    assert [(r["job"], r["outcome"], r["trigger"]) for r in runs.json()] == [
        ("reconciliation", "ok", "startup")
    ]
    assert jobs["jobs"][0]["job"] == "reconciliation"


def test_a_failed_run_is_kept_with_its_message_and_retried(engine: Engine) -> None:
    store_metadata.create_all(engine)
    calls: list[datetime] = []

    def flaky(slot: datetime) -> str:
        calls.append(slot)
        if len(calls) == 1:
            raise ConnectionError("上级系统暂时无法访问")
        return "done"

    now = at(date(2026, 2, 10), 9)
    scheduler = MonthlyScheduler(
        engine, [ScheduledJob("flaky", "0 6 3 * *", flaky)], ZONE, clock=lambda: now
    )
    slot = at(date(2026, 2, 3), 6).astimezone(UTC)
    assert scheduler.run_slot("flaky", slot, "schedule").outcome == "failed"
    assert scheduler.run_slot("flaky", slot, "retry").outcome == "ok"
    assert scheduler.run_slot("flaky", slot, "schedule").result == "skipped_done"
    ok, failed = schedule_log.recent(engine, job="flaky")
    assert (failed.attempt, failed.outcome) == (1, "failed")
    assert failed.message == "ConnectionError: 上级系统暂时无法访问"
    assert (ok.attempt, ok.outcome, ok.message) == (2, "ok", "done")
    assert len(calls) == 2


def test_every_run_is_a_log_line_with_its_job_slot_in_site_time_outcome_and_message(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    # a reconciliation that ran and found differences left no line in the log (only a failure
    # did), and the failure's slot was in UTC (22:00 on the 2nd for 06:00 on the 3rd)
    store_metadata.create_all(engine)
    now = at(date(2026, 2, 10), 9)
    outcomes = iter([ConnectionError("上级系统暂时无法访问"), "2026-01: 3 differences"])

    def reconcile(slot: datetime) -> str:
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    scheduler = MonthlyScheduler(
        engine, [ScheduledJob("reconciliation", "0 6 3 * *", reconcile)], ZONE, clock=lambda: now
    )
    slot = at(date(2026, 2, 3), 6).astimezone(UTC)
    caplog.set_level("INFO", logger="adapter")
    scheduler.run_slot("reconciliation", slot, "schedule")
    scheduler.run_slot("reconciliation", slot, "retry")
    # the event is the message, or named in `extra` when the message carries the fields too
    lines = [{"event": r.msg, **r.__dict__} for r in caplog.records if r.name == "adapter"]
    failed, ran = [line for line in lines if line.get("job") == "reconciliation"]
    assert (failed["event"], failed["slot"], failed["attempt"]) == (
        "schedule_failed", "2026-02-03T06:00:00+08:00", 1
    )  # fmt: skip
    assert failed["error"] == "ConnectionError: 上级系统暂时无法访问"
    assert (ran["event"], ran["slot"], ran["attempt"], ran["trigger"]) == (
        "schedule_ran", "2026-02-03T06:00:00+08:00", 2, "retry"
    )  # fmt: skip
    assert ran["outcome"] == "ok" and ran["result"] == "2026-01: 3 differences"


def test_a_run_left_running_by_a_dead_process_is_abandoned_and_the_slot_runs(
    engine: Engine,
) -> None:
    store_metadata.create_all(engine)
    now = at(date(2026, 2, 10), 9)
    slot = at(date(2026, 2, 3), 6).astimezone(UTC)
    with engine.begin() as connection:
        schedule_log.begin(
            connection,
            job="job",
            slot=slot,
            attempt=1,
            instance="dead:1",
            trigger="schedule",
            now=now,
        )
    scheduler = MonthlyScheduler(
        engine, [ScheduledJob("job", "0 6 3 * *", lambda s: "done")], ZONE, clock=lambda: now
    )
    scheduler.start()
    try:
        eventually(lambda: scheduler.attempted)
    finally:
        scheduler.stop()
    second, first = schedule_log.recent(engine, job="job")
    assert (first.instance, first.outcome) == ("dead:1", "abandoned")
    assert (second.attempt, second.outcome, second.trigger) == (2, "ok", "startup")


def test_two_instances_on_one_postgresql_run_a_slot_once(pg_url: str) -> None:
    engines = [make_engine(pg_url), make_engine(pg_url)]
    store_metadata.create_all(engines[0])
    started, release = threading.Event(), threading.Event()
    calls: list[str] = []

    def job(slot: datetime) -> str:
        calls.append(slot.isoformat())
        started.set()
        assert release.wait(20), "the test never released the job"
        return "reconciled"

    now = at(date(2026, 2, 10), 9)
    schedulers = [
        MonthlyScheduler(
            e,
            [ScheduledJob("reconciliation", "0 6 3 * *", job)],
            ZONE,
            clock=lambda: now,
            instance=f"instance-{n}",
        )
        for n, e in enumerate(engines)
    ]
    try:
        for scheduler in schedulers:
            scheduler.start()  # both find the 3 February slot missed
        eventually(started.is_set)
        # the other instance tries while the first holds the lock, and skips
        eventually(lambda: sum(len(s.attempted) for s in schedulers) == 1)
        release.set()
        eventually(lambda: sum(len(s.attempted) for s in schedulers) == 2)
        results = sorted(a.result for s in schedulers for a in s.attempted)
        assert results == ["ran", "skipped_locked"]
        # firing again after the run finished: the slot's record says it is done
        slot = at(date(2026, 2, 3), 6).astimezone(UTC)
        assert {s.run_slot("reconciliation", slot, "schedule").result for s in schedulers} == {
            "skipped_done"
        }
        assert len(calls) == 1
        [run] = schedule_log.recent(engines[0], job="reconciliation")
        assert run.outcome == "ok" and run.message == "reconciled"
    finally:
        release.set()
        for scheduler in schedulers:
            scheduler.stop()
        for e in engines:
            e.dispose()
