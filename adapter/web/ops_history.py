"""The upload queue's recent history, read from its table by name (``upload_job``) — this
package may not import ``upload_queue``.

:func:`history` gives one point per hour for the last ``hours``: the highest backlog during
the hour ending there (jobs created and not yet delivered or dead) and the delivery latency
(created → delivered) of the jobs delivered in that hour, median and maximum.
:func:`job_status` is one job's status.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from statistics import median

from sqlalchemy import DateTime, Engine, Integer, String, column, or_, select, table

_job = table(
    "upload_job",
    column("id", Integer),
    column("status", String),
    column("created_at", DateTime(timezone=True)),
    column("delivered_at", DateTime(timezone=True)),
    column("dead_at", DateTime(timezone=True)),
)
MAX_ROWS = 200_000


@dataclass(frozen=True)
class HourPoint:
    at: datetime  # the end of the hour
    backlog: int  # the peak during the hour
    delivered: int
    latency_p50_s: float | None
    latency_max_s: float | None


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def job_status(engine: Engine, job_id: int) -> str | None:
    """The job's status, so the page can look it up in its status's list; ``None`` if unknown."""
    with engine.connect() as connection:
        status = connection.execute(
            select(_job.c.status).where(_job.c.id == job_id)
        ).scalar_one_or_none()
    return None if status is None else str(status)


def history(engine: Engine, now: datetime, hours: int = 24) -> list[HourPoint]:
    now = now.astimezone(UTC)
    since = now - timedelta(hours=hours)
    with engine.connect() as connection:
        rows = connection.execute(
            select(_job.c.created_at, _job.c.delivered_at, _job.c.dead_at)
            .where(
                or_(
                    _job.c.delivered_at.is_(None) & _job.c.dead_at.is_(None),
                    _job.c.delivered_at >= since,
                    _job.c.dead_at >= since,
                )
            )
            .limit(MAX_ROWS)
        ).all()
    jobs = [(_utc(r.created_at), _utc(r.delivered_at), _utc(r.dead_at)) for r in rows]
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
