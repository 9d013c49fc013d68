"""The monthly scheduler (APScheduler): each job of :mod:`adapter.scheduling.jobs` fired by
its cron string, in the institution's time zone, and run once per slot.

Each firing stands for a *slot*: the latest time the cron names at or before now. A run of
a slot, in order:

1. in this process, one run of a job at a time (a lock per job);
2. on PostgreSQL, ``pg_try_advisory_xact_lock`` on a connection held for the whole run: an
   instance that does not get it skips (another instance is running the job) and tries the
   slot again after ``retry_minutes`` — the holder may be a dead instance's session that the
   server keeps until TCP keepalive reaps it (a power cut), and the slot is then not lost;
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
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_STOPPED
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import Connection, Engine, text

from adapter.scheduling.jobs import PurgeUploads, ScheduledJob, housekeeping_job, monthly_jobs
from adapter.services.monthly import MonthlyServices
from adapter.settings_sections import QueueSettings, ScheduleSettings
from adapter.store import schedule_log

log = logging.getLogger("adapter")


@dataclass(frozen=True)
class Attempted:
    """What one firing did: ``ran`` (with the outcome), or why it was skipped."""

    job: str
    slot: datetime
    result: str  # ran | skipped_locked | skipped_done | skipped_exhausted
    outcome: str = ""
    trigger: str = ""


def latest_slot(cron: str, zone: ZoneInfo, now: datetime, lookback: timedelta) -> datetime | None:
    """The latest time ``cron`` names in (now − lookback, now], or ``None``."""
    trigger = CronTrigger.from_crontab(cron, timezone=zone)
    found = None
    moment = trigger.get_next_fire_time(None, now - lookback)
    while moment is not None and moment <= now:
        found = moment
        moment = trigger.get_next_fire_time(moment, moment + timedelta(microseconds=1))
    return found.astimezone(UTC) if found else None


def lock_key(name: str) -> int:
    digest = hashlib.blake2b(f"wi-adapter:schedule:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _try_lock(connection: Connection, name: str) -> bool:
    taken = connection.execute(
        text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": lock_key(name)}
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
                shown = self._local(slot)
                log.info(
                    "schedule_catch_up job=%s slot=%s",
                    job.name,
                    shown,
                    extra={"event": "schedule_catch_up", "job": job.name, "slot": shown},
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

    def _local(self, slot: datetime) -> str:
        return slot.astimezone(self.zone).isoformat()

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
        if attempted.result == "skipped_locked" and trigger != "manual":
            # The lock's holder may be a dead instance's session, kept by the database until
            # TCP keepalive reaps it (a power cut): try again, skipped as done if it ran.
            self._retry_later(name, slot)
        if attempted.result != "ran":
            shown = self._local(slot)
            log.info(
                "schedule_skipped job=%s slot=%s why=%s",
                name,
                shown,
                attempted.result,
                extra={
                    "event": "schedule_skipped",
                    "job": name,
                    "slot": shown,
                    "why": attempted.result,
                },
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
        # the slot in the site's time, as IT reads the cron string (06:00 on the 3rd)
        fields = {"job": name, "slot": self._local(slot), "attempt": attempt, "trigger": trigger}
        try:
            message, outcome = self._by_name[name].run(slot), "ok"
            # every run, not only a failed one: "did last month's reconciliation run, and what
            # did it find" is answered from the log
            log.info("schedule_ran", extra={**fields, "outcome": outcome, "result": message})
        except Exception as exc:  # any failure of a job is recorded and retried, not raised
            message, outcome = f"{type(exc).__name__}: {exc}", "failed"
            log.error(
                "schedule_failed job=%s slot=%s error=%s",
                name,
                fields["slot"],
                message,
                extra={"event": "schedule_failed", **fields, "error": message},
            )
        with self.engine.begin() as connection:
            schedule_log.finish(
                connection, run_id, outcome=outcome, message=message, now=self.clock()
            )
        if outcome == "failed" and attempt < self.max_attempts:
            self._retry_later(name, slot)
        return Attempted(name, slot, "ran", outcome, trigger)

    def _retry_later(self, name: str, slot: datetime) -> None:
        if self.running:
            self._scheduler.add_job(
                self.run_slot,
                args=[name, slot, "retry"],
                next_run_time=datetime.now(UTC) + self.retry_after,
                misfire_grace_time=None,
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
