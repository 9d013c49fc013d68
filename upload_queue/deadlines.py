"""Deadlines: which undelivered jobs are at risk or late, which deadlines were missed, and the
alert monitoring watches.

A job is *at risk* when it is not delivered and its deadline falls within ``margin`` from
now; it has *missed* its deadline when it is not delivered and the deadline has passed. Dead
jobs count too: they need IT before the deadline. :func:`missed_since` counts the deadlines
of a period that were missed, late deliveries included: a job delivered an hour after its
deadline is no longer late, but its deadline was still missed (the day's count IT reports).

:func:`upload_queue.reporting.watch_deadlines` is the periodic check (run by the scheduler
on one instance at a time). It logs, once per job, on the ``upload_queue`` logger:

* ``deadline_at_risk`` (WARNING) and ``deadline_missed`` (ERROR), each with ``extra`` fields
  ``event``, ``job_id``, ``kind``, ``deadline`` (ISO 8601, UTC), ``status``, ``ordering_key``,
  and ``held_back_by``: the earlier job of the same stay it waits behind, if any (a stay's
  uploads go in order, so a dead one holds the later ones back with no error of their own);

and refreshes the ``upload_queue_at_risk`` / ``upload_queue_overdue`` / ``upload_queue_jobs``
gauges on every run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Column, Connection, func, or_, select, update

from upload_queue.leasing import BLOCKING_STATUSES
from upload_queue.tables import upload_job

log = logging.getLogger("upload_queue")

UNDELIVERED = ("pending", "in_flight", "dead")
DEFAULT_MARGIN = timedelta(minutes=10)


@dataclass(frozen=True)
class DeadlineAlert:
    job_id: int
    kind: str
    deadline: datetime
    status: str
    ordering_key: str | None
    held_back_by: int | None = None


OwedLog = tuple[int, str, DeadlineAlert]


@dataclass(frozen=True)
class DeadlineReport:
    at_risk: tuple[DeadlineAlert, ...]
    missed: tuple[DeadlineAlert, ...]


def deadline_report(connection: Connection, now: datetime, margin: timedelta) -> DeadlineReport:
    """Undelivered jobs due within ``margin`` (at risk) and past due (missed), by deadline."""
    rows = connection.execute(
        select(
            upload_job.c.id,
            upload_job.c.kind,
            upload_job.c.deadline,
            upload_job.c.status,
            upload_job.c.ordering_key,
        )
        .where(upload_job.c.status.in_(UNDELIVERED), upload_job.c.deadline <= now + margin)
        .order_by(upload_job.c.deadline, upload_job.c.id)
    ).all()
    alerts = [DeadlineAlert(*row) for row in rows]
    return DeadlineReport(
        at_risk=tuple(a for a in alerts if a.deadline > now),
        missed=tuple(a for a in alerts if a.deadline <= now),
    )


def missed_since(connection: Connection, since: datetime, now: datetime) -> int:
    """Jobs whose deadline fell between ``since`` and ``now`` and was missed: delivered after
    it, or not delivered yet (a job withdrawn before its deadline was no longer owed by it)."""
    deadline = upload_job.c.deadline
    return int(
        connection.execute(
            select(func.count())
            .select_from(upload_job)
            .where(
                deadline >= since,
                deadline <= now,
                or_(
                    upload_job.c.delivered_at.is_(None)
                    & or_(
                        upload_job.c.withdrawn_at.is_(None), upload_job.c.withdrawn_at > deadline
                    ),
                    upload_job.c.delivered_at > deadline,
                ),
            )
        ).scalar_one()
    )


def alert_once(connection: Connection, report: DeadlineReport, now: datetime) -> list[OwedLog]:
    """Mark the report's jobs as alerted; return the log calls still owed (for after commit)."""
    new_risk = _mark(connection, report.at_risk, upload_job.c.at_risk_reported_at, now)
    new_missed = _mark(connection, report.missed, upload_job.c.missed_reported_at, now)
    owed: list[OwedLog] = [
        (logging.WARNING, "deadline_at_risk", a) for a in report.at_risk if a.job_id in new_risk
    ]
    owed += [(logging.ERROR, "deadline_missed", a) for a in report.missed if a.job_id in new_missed]
    held = held_back(connection, (a.job_id for _, _, a in owed if a.status == "pending"))
    return [(level, event, replace(a, held_back_by=held.get(a.job_id))) for level, event, a in owed]


def held_back(connection: Connection, job_ids: Iterable[int]) -> dict[int, int]:
    """For each of ``job_ids`` waiting behind an earlier undelivered job of its ordering key
    (the stay), the earliest such job: that one must go first."""
    wanted = list(dict.fromkeys(job_ids))
    if not wanted:
        return {}
    earlier = upload_job.alias("earlier")
    statement = (
        select(upload_job.c.id, func.min(earlier.c.id))
        .join(
            earlier,
            (earlier.c.ordering_key == upload_job.c.ordering_key)
            & (earlier.c.id < upload_job.c.id)
            & earlier.c.status.in_(BLOCKING_STATUSES),
        )
        .where(upload_job.c.id.in_(wanted))
        .group_by(upload_job.c.id)
    )
    return {int(job): int(first) for job, first in connection.execute(statement)}


def log_alerts(owed: list[OwedLog], now: datetime) -> None:
    for level, event, alert in owed:
        _log(level, event, alert, now)


def _mark(
    connection: Connection,
    alerts: tuple[DeadlineAlert, ...],
    column: Column[Any],
    now: datetime,
) -> set[int]:
    ids = [alert.job_id for alert in alerts]
    if not ids:
        return set()
    marked = connection.execute(
        update(upload_job)
        .where(upload_job.c.id.in_(ids), column.is_(None))
        .values({column: now})
        .returning(upload_job.c.id)
    ).scalars()
    return set(marked)


def _log(level: int, event: str, alert: DeadlineAlert, now: datetime) -> None:
    left = int((alert.deadline - now).total_seconds())
    log.log(
        level,
        "%s job_id=%s kind=%s deadline=%s status=%s seconds_left=%s held_back_by=%s",
        event,
        alert.job_id,
        alert.kind,
        alert.deadline.isoformat(),
        alert.status,
        left,
        alert.held_back_by,
        extra={
            "event": event,
            "job_id": alert.job_id,
            "kind": alert.kind,
            "deadline": alert.deadline.isoformat(),
            "status": alert.status,
            "ordering_key": alert.ordering_key,
            # named as job_delivered and job_dead name it: IT follows one stay across the three
            "encounter": alert.ordering_key,
            "seconds_left": left,
            "held_back_by": alert.held_back_by,
        },
    )
