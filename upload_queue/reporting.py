"""What an operator and ``/healthz`` see at a glance: counts, the oldest waiting job, risk.

* :func:`summary` — counts by status and by kind, the oldest pending job, the next deadline,
  and how many undelivered jobs are at risk or late.
* :func:`watch_deadlines` — the periodic deadline watch: alerts (see
  :mod:`upload_queue.deadlines`) and gauges, on one instance at a time.
* :func:`unfinished` — the jobs of some kinds not yet delivered (pending, in flight, dead),
  by idempotency key: what a caller's own "is it late?" report starts from.
* :func:`health` — the dict ``/healthz`` shows under ``upload_queue``; ``ok`` is ``False``
  while an undelivered job is past its deadline (and, if asked, while any job is dead).

Both refresh the backlog gauges, so ``/metrics`` is current whenever someone looks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from upload_queue import ledger
from upload_queue.deadlines import (
    DEFAULT_MARGIN,
    DeadlineReport,
    alert_once,
    deadline_report,
    log_alerts,
)
from upload_queue.jobs import Job
from upload_queue.locks import try_exclusive
from upload_queue.metrics import QueueMetrics
from upload_queue.tables import STATUSES, upload_job
from upload_queue.transactions import begin_write, write_transaction


@dataclass(frozen=True)
class Summary:
    by_status: dict[str, int]
    by_kind: dict[str, dict[str, int]]
    oldest_pending: Job | None
    next_deadline: datetime | None
    at_risk: int
    missed: int


def summary(engine: Engine, now: datetime, *, margin: timedelta = DEFAULT_MARGIN) -> Summary:
    with engine.connect() as connection:
        return _summary(connection, now, margin)


def _summary(connection: Connection, now: datetime, margin: timedelta) -> Summary:
    counts = connection.execute(
        select(upload_job.c.kind, upload_job.c.status, func.count())
        .group_by(upload_job.c.kind, upload_job.c.status)
        .order_by(upload_job.c.kind)
    ).all()
    by_status = dict.fromkeys(STATUSES, 0)
    by_kind: dict[str, dict[str, int]] = {}
    for kind, status, count in counts:
        by_status[status] += count
        by_kind.setdefault(kind, dict.fromkeys(STATUSES, 0))[status] = count
    oldest = (
        connection.execute(
            select(upload_job)
            .where(upload_job.c.status == "pending")
            .order_by(upload_job.c.created_at, upload_job.c.id)
            .limit(1)
        )
        .mappings()
        .first()
    )
    next_deadline = connection.execute(
        select(func.min(upload_job.c.deadline)).where(
            upload_job.c.status.in_(("pending", "in_flight"))
        )
    ).scalar_one()
    report = deadline_report(connection, now, margin)
    return Summary(
        by_status=by_status,
        by_kind=by_kind,
        oldest_pending=Job.from_row(oldest) if oldest is not None else None,
        next_deadline=next_deadline,
        at_risk=len(report.at_risk),
        missed=len(report.missed),
    )


def refresh_gauges(
    connection: Connection, now: datetime, margin: timedelta, metrics: QueueMetrics
) -> Summary:
    """Recount and set the backlog, at-risk and overdue gauges; give the summary."""
    current = _summary(connection, now, margin)
    for status, count in current.by_status.items():
        metrics.jobs.labels(status=status).set(count)
    metrics.at_risk.set(current.at_risk)
    metrics.overdue.set(current.missed)
    return current


def health(
    engine: Engine,
    now: datetime,
    *,
    metrics: QueueMetrics,
    margin: timedelta = DEFAULT_MARGIN,
    dead_is_unhealthy: bool = False,
) -> dict[str, Any]:
    """The queue's part of ``/healthz``."""
    with engine.connect() as connection:
        current = refresh_gauges(connection, now, margin, metrics)
        oldest = connection.execute(
            select(func.min(upload_job.c.deadline)).where(upload_job.c.status == "pending")
        ).scalar_one()
    counts = current.by_status
    ok = current.missed == 0 and not (dead_is_unhealthy and counts["dead"] > 0)
    return {
        "ok": ok,
        "backlog": counts["pending"] + counts["in_flight"],
        "pending": counts["pending"],
        "in_flight": counts["in_flight"],
        "dead": counts["dead"],
        "oldest_pending_deadline": oldest.isoformat() if oldest is not None else None,
        "at_risk": current.at_risk,
        "overdue": current.missed,
    }


def watch_deadlines(
    engine: Engine, now: datetime, *, margin: timedelta, metrics: QueueMetrics
) -> DeadlineReport | None:
    """Alert on newly at-risk and late jobs; ``None`` if another instance is watching now."""
    with begin_write(engine) as connection, write_transaction(connection):
        if not try_exclusive(connection, "deadline_watch"):
            return None
        report = deadline_report(connection, now, margin)
        owed = alert_once(connection, report, now)
        refresh_gauges(connection, now, margin, metrics)
    log_alerts(owed, now)
    return report


def unfinished(connection: Connection, kinds: Iterable[str]) -> dict[str, str]:
    """The not yet delivered jobs of ``kinds``: idempotency key → status."""
    rows = connection.execute(
        select(upload_job.c.idempotency_key, upload_job.c.status).where(
            upload_job.c.kind.in_(list(kinds)), upload_job.c.status != "delivered"
        )
    ).all()
    return {key: status for key, status in rows}


def state_of(connection: Connection, idempotency_key: str) -> tuple[str, str] | None:
    """A job's status and last error (upstream's reason for a refused job) by its idempotency
    key. A delivered job whose payload the purge removed is still ``delivered``: the ledger
    remembers it. None when no such job was ever queued."""
    row = connection.execute(
        select(upload_job.c.status, upload_job.c.last_error).where(
            upload_job.c.idempotency_key == idempotency_key
        )
    ).one_or_none()
    if row is not None:
        return row.status, row.last_error or ""
    return ("delivered", "") if ledger.delivered(connection, idempotency_key) else None
