"""The monthly cycle with the scheduler's clock injected: reconciliation on the 3rd and again
the day after the monthly cutoff (N§35, B§33, B§37), audit deductions of each of the last
three months (N§37, B§25), every run recorded; the daily housekeeping purges expired web
sessions and old delivered jobs while the delivery ledger keeps them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select

from adapter.scheduling.jobs import housekeeping_job, monthly_jobs
from adapter.scheduling.scheduler import MonthlyScheduler, latest_slot
from adapter.services.container import Services
from adapter.services.monthly import MonthlyServices
from adapter.settings_sections import QueueSettings, ScheduleSettings
from adapter.store import schedule_log
from adapter.store.tables.web import web_session
from adapter.store.uow import UnitOfWork
from adapter.web.sessions import SessionPolicy, open_session, purge_expired
from adapter.web.users import create_user
from adapter.wiring.runtime import queue_purge
from connectors.upstream.simulator import SimulatorServer
from tests.integration.monthly.world import DRUG, Desk, SetClock, at, seed
from tests.integration.services.helpers import INSTITUTION
from upload_queue import UploadQueue, ledger

ZONE = ZoneInfo("Asia/Shanghai")
MONTHLY_ONLY = ScheduleSettings(catalogue_sync="", device_funds_reminder="", housekeeping="")


def _deduction(no: str, month: str, setl_id: str) -> dict[str, str]:
    return {"deduction_no": no, "fixmedins_code": INSTITUTION, "month": month,
            "setl_id": setl_id, "psn_no": "P001", "item_code": DRUG,
            "item_name": "布洛芬缓释胶囊", "amount": "1.00", "reason": "计价差错"}  # fmt: skip


def _fire(scheduler: MonthlyScheduler, name: str, now: datetime) -> Any:
    cron = {job.name: job.cron for job in scheduler.jobs}[name]
    slot = latest_slot(cron, ZONE, now, timedelta(days=32))
    assert slot is not None
    return scheduler.run_slot(name, slot, "schedule")


def test_b37_reconciliation_runs_on_the_3rd_and_after_the_cutoff_and_deductions_cover_3_months(
    services: Services,
    monthly: MonthlyServices,
    clock: SetClock,
    queue: UploadQueue,
    sim: SimulatorServer,
    db: Engine,
) -> None:
    Desk(services, clock).january_stay()
    queue.worker().drain()
    seed(sim.url, deductions=[
        _deduction("KK-JAN", "2026-01", "S1"),
        _deduction("KK-DEC", "2025-12", "S2"),
        _deduction("KK-NOV", "2025-11", "S3"),
        _deduction("KK-OCT", "2025-10", "S4"),  # four months back: not fetched
    ])  # fmt: skip
    scheduler = MonthlyScheduler(db, monthly_jobs(monthly, MONTHLY_ONLY), ZONE, clock=clock.now)
    assert [job.name for job in scheduler.jobs] == [
        "reconciliation",
        "reconciliation_after_cutoff",
        "deductions",
    ]
    assert {job.name: job.cron for job in scheduler.jobs}["reconciliation_after_cutoff"] == (
        "0 6 21 * *"
    )

    clock.set(at(date(2026, 2, 3), 6, 5))
    assert _fire(scheduler, "reconciliation", clock.now()).outcome == "ok"
    clock.set(at(date(2026, 2, 5), 6, 35))
    assert _fire(scheduler, "deductions", clock.now()).outcome == "ok"
    clock.set(at(date(2026, 2, 21), 6, 5))
    assert _fire(scheduler, "reconciliation_after_cutoff", clock.now()).outcome == "ok"
    # the 3rd's slot is done: firing it again on the 21st does not reconcile a third time
    assert _fire(scheduler, "reconciliation", clock.now()).result == "skipped_done"

    runs = monthly.reconciliation.history("2026-01")
    assert [r.actor for r in runs] == ["system:schedule", "system:schedule"]
    assert {r.started_at.astimezone(ZONE).day for r in runs} == {3, 21}
    recorded = {(r.job, r.slot.astimezone(ZONE).date()) for r in schedule_log.recent(db)}
    assert recorded == {
        ("reconciliation", date(2026, 2, 3)),
        ("deductions", date(2026, 2, 5)),
        ("reconciliation_after_cutoff", date(2026, 2, 21)),
    }
    [deductions] = schedule_log.recent(db, job="deductions")
    months = [part.split(":")[0] for part in deductions.message.split("；")]
    assert months == ["2026-01", "2025-12", "2025-11"]

    def kept(month: str) -> set[str]:
        found = monthly.deductions.month(month)
        return {d.deduction_no for s in found.settlements for d in s.deductions}

    for month, number in (("2026-01", "KK-JAN"), ("2025-12", "KK-DEC"), ("2025-11", "KK-NOV")):
        assert number in kept(month)
    assert kept("2025-10") == set()
    with UnitOfWork(db) as uow:
        fetched = {e.subject_id for e in uow.audit.query(action="deductions.fetch")}
    assert fetched == {"2026-01", "2025-12", "2025-11"}


def test_a_scheduler_started_after_the_cutoff_catches_up_both_reconciliations(
    services: Services, monthly: MonthlyServices, clock: SetClock, db: Engine
) -> None:
    settings = ScheduleSettings(
        deductions="", catalogue_sync="", device_funds_reminder="", housekeeping=""
    )
    clock.set(at(date(2026, 2, 22), 9))  # down since before the 3rd
    scheduler = MonthlyScheduler(db, monthly_jobs(monthly, settings), ZONE, clock=clock.now)
    scheduler.start()
    try:
        deadline = datetime.now(UTC) + timedelta(seconds=30)
        while len(scheduler.attempted) < 2 and datetime.now(UTC) < deadline:
            import time

            time.sleep(0.05)
    finally:
        scheduler.stop()
    assert sorted(scheduler.caught_up) == [
        ("reconciliation", at(date(2026, 2, 3), 6).astimezone(UTC)),
        ("reconciliation_after_cutoff", at(date(2026, 2, 21), 6).astimezone(UTC)),
    ]
    assert len(monthly.reconciliation.history("2026-01")) == 2


def test_housekeeping_purges_expired_sessions_and_old_jobs_but_keeps_their_delivery(
    services: Services, clock: SetClock, queue: UploadQueue, db: Engine
) -> None:
    Desk(services, clock).january_stay()
    queue.worker().drain()
    delivered = [job.idempotency_key for job in queue.list_jobs(status="delivered")]
    assert delivered
    user = create_user(db, "信息科-01", ["it"], "pass-2026-long")
    open_session(db, user, SessionPolicy(idle=timedelta(seconds=-1)))  # already expired
    open_session(db, user, SessionPolicy())  # live

    later = datetime.now(UTC) + timedelta(days=100)
    settings = ScheduleSettings(
        reconciliation="", reconciliation_after_cutoff="", deductions="", catalogue_sync="",
        device_funds_reminder="", housekeeping="0 3 * * *",
    )  # fmt: skip
    job = housekeeping_job(
        QueueSettings(retention_days=90), lambda: purge_expired(db), queue_purge(db), lambda: later
    )
    scheduler = MonthlyScheduler(
        db, monthly_jobs(MonthlyServices(services.context), settings, job), ZONE,
        clock=lambda: later,
    )  # fmt: skip
    assert [j.name for j in scheduler.jobs] == ["housekeeping"]
    attempted = _fire(scheduler, "housekeeping", later)
    assert attempted.outcome == "ok"
    [run] = schedule_log.recent(db, job="housekeeping")
    assert (
        run.message.startswith("清理过期会话1个") and f"上传任务{len(delivered)}个" in run.message
    )
    with db.connect() as connection:
        assert connection.execute(select(func.count()).select_from(web_session)).scalar_one() == 1
        assert ledger.delivered_keys(connection, delivered) == set(delivered)
    assert queue.list_jobs(status="delivered") == []
