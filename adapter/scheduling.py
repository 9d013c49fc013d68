"""The monthly scheduler: APScheduler cron jobs for the monthly work, run once per slot.

Jobs (times are cron strings in ``[schedule]``, in the institution's time zone; an empty
string turns a job off):

===============================  ===================  ============================================
job                              default              does
===============================  ===================  ============================================
``reconciliation``               ``0 6 3 * *``        reconcile last month (well before the 20th,
                                                      N§35, B§33)
``reconciliation_after_cutoff``  ``0 6 21 * *``       reconcile last month again, the day after
                                                      its monthly cutoff (``monthly_cutoff_day``,
                                                      N§35, B§37): what the agency declared
``deductions``                   ``30 6 5,15,25 * *`` fetch the audit deductions (N§37) of each of
                                                      the last ``deduction_months`` (3) months
``catalogue_sync``               ``0 2 * * *``        download catalogue updates (WI1401)
``device_funds_reminder``        ``0 9 * * *``        log unconfirmed device fund months (B§40)
``housekeeping``                 ``0 3 * * *``        purge expired web sessions, and delivered
                                                      upload jobs past ``queue.retention_days``
                                                      (their deliveries stay in the ledger for
                                                      ``queue.ledger_months``)
===============================  ===================  ============================================

Each firing stands for a *slot*: the latest time the cron names at or before now. A run of
a slot, in order:

1. in this process, one run of a job at a time (a lock per job);
2. on PostgreSQL, ``pg_try_advisory_xact_lock`` on a connection held for the whole run: an
   instance that does not get it skips (another instance is running the job);
3. holding the lock, the slot's record in ``schedule_run`` decides: a slot already ``ok``
   is skipped (an instance that fires a moment after another finished); a ``running``
   record is a dead process's and becomes ``abandoned``; otherwise a new attempt is
   recorded ``running``, the job runs, and the record gets its end, outcome and message.
   (job, slot, attempt) is unique as a last guard.
4. a failed attempt is retried after ``retry_minutes``, up to ``max_attempts``.

At :meth:`MonthlyScheduler.start`, each job's latest slot within ``catch_up_days`` that has
no ``ok`` run — the adapter was down at the time — runs at once (``trigger = startup``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_STOPPED
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import Connection, Engine, text

from adapter.domain.clearing import ClearingCalendar
from adapter.domain.months import first_day, previous_month
from adapter.services.monthly import MonthlyPolicy, MonthlyServices
from adapter.settings_sections import QueueSettings, ScheduleSettings
from adapter.store import schedule_log

log = logging.getLogger("adapter")
JOB_NAMES = (
    "reconciliation",
    "reconciliation_after_cutoff",
    "deductions",
    "catalogue_sync",
    "device_funds_reminder",
    "housekeeping",
)


@dataclass(frozen=True)
class ScheduledJob:
    """``run`` gets the slot (aware) and returns the message kept with the run."""

    name: str
    cron: str
    run: Callable[[datetime], str]


@dataclass(frozen=True)
class Attempted:
    """What one firing did: ``ran`` (with the outcome), or why it was skipped."""

    job: str
    slot: datetime
    result: str  # ran | skipped_locked | skipped_done | skipped_exhausted
    outcome: str = ""
    trigger: str = ""


def last_months(day: date, count: int) -> list[str]:
    """The ``count`` months before ``day``'s, latest first."""
    months = [previous_month(day)]
    while len(months) < count:
        months.append(previous_month(first_day(months[-1])))
    return months


def monthly_jobs(
    monthly: MonthlyServices,
    settings: ScheduleSettings,
    housekeeping: Callable[[datetime], str] | None = None,
) -> list[ScheduledJob]:
    """The monthly work as scheduled jobs, those with a cron string. ``housekeeping`` (given
    by the composition root, which owns the queue and the web sessions) is the daily clean-up."""
    zone = monthly.context.zone

    def reconcile(slot: datetime) -> str:
        month = previous_month(slot.astimezone(zone).date())
        report = monthly.reconciliation.run(month, actor="system:schedule")
        return f"{month}: {report.run.message}"

    def deductions(slot: datetime) -> str:
        done = []
        for month in last_months(slot.astimezone(zone).date(), settings.deduction_months):
            found = monthly.deductions.fetch(month, actor="system:schedule")
            done.append(f"{month}: {found.count}笔审核扣款，合计{found.total}元")
        return "；".join(done)

    def catalogue(slot: datetime) -> str:
        updates = monthly.catalogue.download(actor="system:schedule")
        changed = [f"{u.kind}/{u.region}@{u.version}({u.items})" for u in updates if u.items]
        return "目录已是最新" if not changed else "更新：" + "，".join(changed)

    def remind(slot: datetime) -> str:
        months = monthly.device_funds.remind()
        return "无待确认月份" if not months else f"待确认到账：{'、'.join(months)}（B§40）"

    runs: dict[str, Callable[[datetime], str]] = {
        "reconciliation": reconcile,
        "reconciliation_after_cutoff": reconcile,
        "deductions": deductions,
        "catalogue_sync": catalogue,
        "device_funds_reminder": remind,
    }
    if housekeeping is not None:
        runs["housekeeping"] = housekeeping
    if "device" not in monthly.context.institution.kinds:
        del runs["device_funds_reminder"]
    return [
        ScheduledJob(name, getattr(settings, name), run)
        for name, run in runs.items()
        if getattr(settings, name)
    ]


# delivered upload jobs older than the retention, ledger entries older than the months, at now:
# how many of each were removed (the composition root implements it on the upload queue)
PurgeUploads = Callable[[timedelta, int, datetime], tuple[int, int]]


def housekeeping_job(
    queue: QueueSettings,
    purge_sessions: Callable[[], int],
    purge_uploads: PurgeUploads,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Callable[[datetime], str]:
    """The daily clean-up: expired web sessions; delivered upload jobs (payloads and attempt
    history) older than ``queue.retention_days`` — the delivery ledger keeps that each was
    delivered — and ledger entries older than ``queue.ledger_months`` (at least 18)."""

    def run(slot: datetime) -> str:
        sessions = purge_sessions()
        retention = timedelta(days=queue.retention_days)
        jobs, entries = purge_uploads(retention, queue.ledger_months, clock())
        return (
            f"清理过期会话{sessions}个；清理{queue.retention_days}天前已送达的上传任务{jobs}个"
            f"（送达记录保留{queue.ledger_months}个月，清理更早的{entries}条）"
        )

    return run


def latest_slot(cron: str, zone: ZoneInfo, now: datetime, lookback: timedelta) -> datetime | None:
    """The latest time ``cron`` names in (now − lookback, now], or ``None``."""
    trigger = CronTrigger.from_crontab(cron, timezone=zone)
    found = None
    moment = trigger.get_next_fire_time(None, now - lookback)
    while moment is not None and moment <= now:
        found = moment
        moment = trigger.get_next_fire_time(moment, moment + timedelta(microseconds=1))
    return found.astimezone(UTC) if found else None


def _lock_key(name: str) -> int:
    digest = hashlib.blake2b(f"wi-adapter:schedule:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _try_lock(connection: Connection, name: str) -> bool:
    taken = connection.execute(
        text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _lock_key(name)}
    ).scalar_one()
    return bool(taken)


class _Scheduler(BackgroundScheduler):
    """APScheduler removes a one-shot job (a start-up catch-up, a retry) after running it; if
    ``shutdown`` lands in between, the job store is already closed and the removal raises in
    the scheduler's thread. Nothing is left to remove then, so that one case is not an error."""

    def remove_job(self, job_id: str, jobstore: str | None = None) -> None:
        try:
            super().remove_job(job_id, jobstore)
        except JobLookupError:
            if self.state != STATE_STOPPED:
                raise


@dataclass
class MonthlyScheduler:
    engine: Engine
    jobs: Sequence[ScheduledJob]
    zone: ZoneInfo
    catch_up: timedelta = timedelta(days=31)
    retry_after: timedelta = timedelta(minutes=30)
    max_attempts: int = 3
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    instance: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    attempted: list[Attempted] = field(default_factory=list)  # this process's firings
    caught_up: list[tuple[str, datetime]] = field(default_factory=list)  # missed slots at start

    def __post_init__(self) -> None:
        self._by_name = {job.name: job for job in self.jobs}
        self._locks = {job.name: threading.Lock() for job in self.jobs}
        self._scheduler = _Scheduler(timezone=self.zone)

    @classmethod
    def from_settings(
        cls,
        settings: ScheduleSettings,
        monthly: MonthlyServices,
        *,
        housekeeping: Callable[[datetime], str] | None = None,
        **kwargs: Any,
    ) -> MonthlyScheduler:
        ctx = monthly.context
        return cls(
            engine=ctx.engine,
            jobs=monthly_jobs(monthly, settings, housekeeping) if settings.enabled else [],
            zone=ctx.zone,
            catch_up=timedelta(days=settings.catch_up_days),
            retry_after=timedelta(minutes=settings.retry_minutes),
            max_attempts=settings.max_attempts,
            **kwargs,
        )

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    def start(self) -> None:
        """Register the cron jobs, queue the missed slots for now, and start."""
        now = self.clock()
        for job in self.jobs:
            self._scheduler.add_job(
                self._fire,
                CronTrigger.from_crontab(job.cron, timezone=self.zone),
                args=[job.name, "schedule"],
                id=f"monthly.{job.name}",
                max_instances=1,
                coalesce=True,
                misfire_grace_time=3600,
            )
            slot = latest_slot(job.cron, self.zone, now, self.catch_up)
            if slot is not None and self._missed(job.name, slot):
                self.caught_up.append((job.name, slot))
                log.info(
                    "schedule_catch_up job=%s slot=%s",
                    job.name,
                    slot.isoformat(),
                    extra={"event": "schedule_catch_up", "job": job.name},
                )
                self._scheduler.add_job(
                    self.run_slot,
                    args=[job.name, slot, "startup"],
                    id=f"monthly.{job.name}.startup",
                    next_run_time=datetime.now(UTC),
                    misfire_grace_time=None,
                )
        self._scheduler.start()

    def stop(self) -> None:
        if self.running:
            self._scheduler.shutdown(wait=True)

    def describe(self) -> list[dict[str, Any]]:
        """Each job's cron and next run (for IT)."""
        found = []
        for job in self.jobs:
            scheduled = self._scheduler.get_job(f"monthly.{job.name}")
            next_run = getattr(scheduled, "next_run_time", None) if scheduled else None
            found.append(
                {
                    "job": job.name,
                    "cron": job.cron,
                    "time_zone": str(self.zone),
                    "next_run_time": next_run.isoformat() if next_run else None,
                }
            )
        return found

    def _missed(self, name: str, slot: datetime) -> bool:
        with self.engine.connect() as connection:
            runs = schedule_log.runs_of_slot(connection, name, slot)
        return not any(r.outcome == "ok" for r in runs) and len(runs) < self.max_attempts

    def _fire(self, name: str, trigger: str) -> None:
        slot = latest_slot(self._by_name[name].cron, self.zone, self.clock(), timedelta(days=32))
        if slot is not None:
            self.run_slot(name, slot, trigger)

    def run_now(self, name: str) -> Attempted:
        """Run ``name`` for its latest slot now, even if that slot already ran (IT's "run
        now": a fresh attempt, recorded with trigger ``manual``)."""
        job = self._by_name[name]
        now = self.clock()
        slot = latest_slot(job.cron, self.zone, now, timedelta(days=400)) or now
        return self.run_slot(name, slot, "manual")

    def run_slot(self, name: str, slot: datetime, trigger: str) -> Attempted:
        """Run job ``name`` for ``slot`` unless another instance has it or it is done."""
        with self._locks[name]:
            if self.engine.dialect.name != "postgresql":
                attempted = self._run_locked(name, slot, trigger)
            else:
                with self.engine.connect() as held, held.begin():
                    if not _try_lock(held, name):
                        attempted = Attempted(name, slot, "skipped_locked", trigger=trigger)
                    else:
                        attempted = self._run_locked(name, slot, trigger)
        self.attempted.append(attempted)
        if attempted.result != "ran":
            log.info(
                "schedule_skipped job=%s slot=%s why=%s",
                name,
                slot.isoformat(),
                attempted.result,
                extra={"event": "schedule_skipped", "job": name, "why": attempted.result},
            )
        return attempted

    def _run_locked(self, name: str, slot: datetime, trigger: str) -> Attempted:
        with self.engine.begin() as connection:
            schedule_log.abandon_running(connection, job=name, now=self.clock())
            runs = schedule_log.runs_of_slot(connection, name, slot)
            if trigger != "manual" and any(r.outcome == "ok" for r in runs):
                return Attempted(name, slot, "skipped_done", trigger=trigger)
            if len(runs) >= self.max_attempts and trigger != "manual":
                return Attempted(name, slot, "skipped_exhausted", trigger=trigger)
            attempt = len(runs) + 1
            run_id = schedule_log.begin(
                connection,
                job=name,
                slot=slot,
                attempt=attempt,
                instance=self.instance,
                trigger=trigger,
                now=self.clock(),
            )
        try:
            message, outcome = self._by_name[name].run(slot), "ok"
        except Exception as exc:  # any failure of a job is recorded and retried, not raised
            message, outcome = f"{type(exc).__name__}: {exc}", "failed"
            log.error(
                "schedule_failed job=%s slot=%s error=%s",
                name,
                slot.isoformat(),
                message,
                extra={"event": "schedule_failed", "job": name},
            )
        with self.engine.begin() as connection:
            schedule_log.finish(
                connection, run_id, outcome=outcome, message=message, now=self.clock()
            )
        if outcome == "failed" and attempt < self.max_attempts and self.running:
            self._scheduler.add_job(
                self.run_slot,
                args=[name, slot, "retry"],
                next_run_time=datetime.now(UTC) + self.retry_after,
                misfire_grace_time=None,
            )
        return Attempted(name, slot, "ran", outcome, trigger)


def monthly_policy(settings: ScheduleSettings) -> MonthlyPolicy:
    return MonthlyPolicy(
        device_funds_remind_after_day=settings.device_funds_remind_after_day,
        device_regions=tuple(settings.device_regions),
        calendar=ClearingCalendar.of(settings.monthly_cutoff_day, settings.half_yearly_cutoffs),
        deduction_months=settings.deduction_months,
    )


def build_monthly_scheduler(
    monthly: MonthlyServices,
    settings: ScheduleSettings,
    queue: QueueSettings,
    purge_sessions: Callable[[], int],
    purge_uploads: PurgeUploads,
) -> MonthlyScheduler:
    """The scheduler of the runtime's monthly use cases, with the daily housekeeping."""
    housekeeping = housekeeping_job(queue, purge_sessions, purge_uploads)
    return MonthlyScheduler.from_settings(settings, monthly, housekeeping=housekeeping)
