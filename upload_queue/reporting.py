"""What an operator and ``/healthz`` see at a glance: counts, the oldest waiting job, risk.

* :func:`summary` — counts by status and by kind, the oldest pending job, the next deadline,
  how many undelivered jobs are at risk or late, and, given the start of a period (the
  operator's day), how many deadlines of it were missed, late deliveries included.
* :func:`watch_deadlines` — the periodic deadline watch: alerts (see
  :mod:`upload_queue.deadlines`) and gauges, on one instance at a time.
* :func:`unfinished` — the jobs of some kinds not yet delivered (pending, in flight, dead),
  by idempotency key: what a caller's own "is it late?" report starts from.
* :func:`health` — the dict ``/healthz`` shows under ``upload_queue``; ``ok`` is ``False``
  while an undelivered job is past its deadline (and, if asked, while any job is dead).
* :func:`hourly` — one :class:`HourPoint` per hour for the last hours: the highest backlog
  during the hour ending there (jobs created and not yet delivered or dead) and the delivery
  latency (created → delivered) of the jobs delivered in that hour, median and maximum.
* :func:`job_status` — one job's status by its id.

Both refresh the backlog gauges, so ``/metrics`` is current whenever someone looks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from statistics import median
from typing import Any

from sqlalchemy import Connection, Engine, func, or_, select

from upload_queue import ledger
from upload_queue.clock import as_utc
from upload_queue.deadlines import (
    DEFAULT_MARGIN,
    UNDELIVERED,
    DeadlineReport,
    alert_once,
    deadline_report,
    log_alerts,
    missed_since,
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
    next_deadline: datetime | None  # the earliest of the jobs not delivered, dead ones too
    at_risk: int
    missed: int  # undelivered, past the deadline now
    missed_since: int | None = None  # deadlines since the period's start missed (None: not asked)


def summary(
    engine: Engine,
    now: datetime,
    *,
    margin: timedelta = DEFAULT_MARGIN,
    since: datetime | None = None,
) -> Summary:
    with engine.connect() as connection:
        return _summary(connection, now, margin, since)


def _summary(
    connection: Connection, now: datetime, margin: timedelta, since: datetime | None = None
) -> Summary:
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
    # a dead job's too: refused or given up, it still owes upstream its record by then
    next_deadline = connection.execute(
        select(func.min(upload_job.c.deadline)).where(upload_job.c.status.in_(UNDELIVERED))
    ).scalar_one()
    report = deadline_report(connection, now, margin)
    return Summary(
        by_status=by_status,
        by_kind=by_kind,
        oldest_pending=Job.from_row(oldest) if oldest is not None else None,
        next_deadline=next_deadline,
        at_risk=len(report.at_risk),
        missed=len(report.missed),
        missed_since=missed_since(connection, since, now) if since is not None else None,
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
            # a withdrawn job is finished too: it will never be sent, nor is it owed
            upload_job.c.kind.in_(list(kinds)),
            upload_job.c.status.in_(UNDELIVERED),
        )
    ).all()
    return {key: status for key, status in rows}


def state_of(connection: Connection, idempotency_key: str) -> tuple[str, str] | None:
    """A job's status and last error (upstream's reason for a refused job) by its idempotency
    key. A delivered job whose payload the purge removed is still ``delivered``: the ledger
    remembers it. None when no such job was ever queued."""
    return states_of(connection, [idempotency_key]).get(idempotency_key)


def states_of(connection: Connection, keys: Iterable[str]) -> dict[str, tuple[str, str]]:
    """:func:`state_of` of each of ``keys`` that names a job, in a few statements: an
    operator's list of a hundred jobs is one look, not a hundred."""
    wanted = list(dict.fromkeys(k for k in keys if k))
    found: dict[str, tuple[str, str]] = {}
    for start in range(0, len(wanted), ledger.CHUNK):
        chunk = wanted[start : start + ledger.CHUNK]
        rows = connection.execute(
            select(
                upload_job.c.idempotency_key, upload_job.c.status, upload_job.c.last_error
            ).where(upload_job.c.idempotency_key.in_(chunk))
        )
        found.update((row.idempotency_key, (row.status, row.last_error or "")) for row in rows)
    purged = ledger.delivered_keys(connection, [k for k in wanted if k not in found])
    found.update((key, ("delivered", "")) for key in purged)
    return found


def deadlines_of(connection: Connection, keys: Iterable[str]) -> dict[str, datetime]:
    """The current deadline of each of ``keys`` whose job is not yet delivered (enqueueing
    a later job of its ordering key may have brought it forward)."""
    wanted = list(dict.fromkeys(k for k in keys if k))
    found: dict[str, datetime] = {}
    for start in range(0, len(wanted), ledger.CHUNK):
        rows = connection.execute(
            select(upload_job.c.idempotency_key, upload_job.c.deadline).where(
                upload_job.c.idempotency_key.in_(wanted[start : start + ledger.CHUNK]),
                upload_job.c.status.in_(UNDELIVERED),
            )
        )
        found.update((row.idempotency_key, as_utc(row.deadline)) for row in rows)
    return found


def payload_of(connection: Connection, idempotency_key: str) -> Mapping[str, Any] | None:
    """The current payload of the job with that key (a re-send may have replaced the one it
    was enqueued with); None when there is no such job (never queued, or purged)."""
    payload = connection.execute(
        select(upload_job.c.payload).where(upload_job.c.idempotency_key == idempotency_key)
    ).scalar_one_or_none()
    return payload if isinstance(payload, Mapping) else None


def job_status(engine: Engine, job_id: int) -> str | None:
    """The job's status; ``None`` if no job has that id (never queued, or purged)."""
    with engine.connect() as connection:
        status = connection.execute(
            select(upload_job.c.status).where(upload_job.c.id == job_id)
        ).scalar_one_or_none()
    return None if status is None else str(status)


@dataclass(frozen=True)
class HourPoint:
    at: datetime  # the end of the hour
    backlog: int  # the peak during the hour
    delivered: int
    latency_p50_s: float | None
    latency_max_s: float | None


HISTORY_MAX_ROWS = 200_000  # bounds the read should the queue ever hold a flood of jobs


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def hourly(engine: Engine, now: datetime, hours: int = 24) -> list[HourPoint]:
    """``hours + 1`` points, one per hour from ``now - hours`` to ``now``: the peak backlog
    during the hour ending at each point, and the latency of the jobs delivered in it."""
    now = now.astimezone(UTC)
    since = now - timedelta(hours=hours)
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                upload_job.c.created_at,
                upload_job.c.delivered_at,
                # a job withdrawn without dying (a revocation with nothing to revoke) ends then
                func.coalesce(upload_job.c.dead_at, upload_job.c.withdrawn_at).label("ended"),
            )
            .where(
                or_(
                    upload_job.c.delivered_at.is_(None)
                    & upload_job.c.dead_at.is_(None)
                    & upload_job.c.withdrawn_at.is_(None),
                    upload_job.c.delivered_at >= since,
                    upload_job.c.dead_at >= since,
                    upload_job.c.withdrawn_at >= since,
                )
            )
            .limit(HISTORY_MAX_ROWS)
        ).all()
    jobs = [(_utc(r.created_at), _utc(r.delivered_at), _utc(r.ended)) for r in rows]
    events: list[tuple[datetime, int]] = [(c, 1) for c, _, _ in jobs if c is not None]
    for created, delivered, dead in jobs:  # a job finishes when it is delivered or dies
        finished = delivered or dead
        if created is not None and finished is not None:
            events.append((finished, -1))
    events.sort()
    points: list[HourPoint] = []
    level = cursor = 0
    for step in range(hours + 1):
        at = since + timedelta(hours=step)
        peak = level
        while cursor < len(events) and events[cursor][0] <= at:
            level += events[cursor][1]
            peak = max(peak, level)
            cursor += 1
        latencies = [
            (delivered - created).total_seconds()
            for created, delivered, _ in jobs
            if created is not None and delivered is not None
            and at - timedelta(hours=1) < delivered <= at
        ]  # fmt: skip
        points.append(
            HourPoint(
                at,
                level if step == 0 else peak,
                len(latencies),
                median(latencies) if latencies else None,
                max(latencies) if latencies else None,
            )
        )
    return points
