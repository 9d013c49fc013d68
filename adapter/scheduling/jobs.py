"""The monthly work as scheduled jobs: what each job does, and its cron string in ``[schedule]``.

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

How a job's slot is run once, across instances, is :mod:`adapter.scheduling.scheduler`'s.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from adapter.domain.clearing import ClearingCalendar
from adapter.domain.months import first_day, previous_month
from adapter.services.monthly import MonthlyPolicy, MonthlyServices
from adapter.settings_sections import QueueSettings, ScheduleSettings

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


def monthly_policy(settings: ScheduleSettings) -> MonthlyPolicy:
    return MonthlyPolicy(
        device_funds_remind_after_day=settings.device_funds_remind_after_day,
        device_regions=tuple(settings.device_regions),
        calendar=ClearingCalendar.of(settings.monthly_cutoff_day, settings.half_yearly_cutoffs),
        deduction_months=settings.deduction_months,
    )
