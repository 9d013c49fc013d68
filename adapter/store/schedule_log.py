"""The scheduled jobs' run log (``schedule_run``): written by the scheduler at the
composition root, read by IT through the API. No scheduler here, only the records.

A run is for one *slot* (the scheduled time it stands for) and one attempt; (job, slot,
attempt) is unique, so two instances can never both record the same run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from adapter.store.tables.monthly import schedule_run

OUTCOMES = ("running", "ok", "failed", "abandoned")


@dataclass(frozen=True)
class ScheduleRun:
    id: int
    job: str
    slot: datetime
    attempt: int
    instance: str
    trigger: str  # schedule | startup | retry | manual
    started_at: datetime
    finished_at: datetime | None
    outcome: str
    message: str


def _run(row: Any) -> ScheduleRun:
    return ScheduleRun(
        row.id,
        row.job,
        row.slot,
        row.attempt,
        row.instance,
        row.trigger,
        row.started_at,
        row.finished_at,
        row.outcome,
        row.message,
    )


def runs_of_slot(connection: Connection, job: str, slot: datetime) -> list[ScheduleRun]:
    rows = connection.execute(
        select(schedule_run)
        .where(schedule_run.c.job == job, schedule_run.c.slot == slot)
        .order_by(schedule_run.c.attempt)
    )
    return [_run(row) for row in rows]


def begin(
    connection: Connection,
    *,
    job: str,
    slot: datetime,
    attempt: int,
    instance: str,
    trigger: str,
    now: datetime,
) -> int:
    return int(
        connection.execute(
            schedule_run.insert()
            .values(
                job=job,
                slot=slot,
                attempt=attempt,
                instance=instance,
                trigger=trigger,
                started_at=now,
                outcome="running",
                message="",
            )
            .returning(schedule_run.c.id)
        ).scalar_one()
    )


def finish(
    connection: Connection, run_id: int, *, outcome: str, message: str, now: datetime
) -> None:
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    connection.execute(
        update(schedule_run)
        .where(schedule_run.c.id == run_id)
        .values(outcome=outcome, message=message[:4000], finished_at=now)
    )


def abandon_running(
    connection: Connection, *, job: str | None = None, instance: str | None = None, now: datetime
) -> int:
    """Mark runs left ``running`` (their process died) ``abandoned``; returns how many."""
    statement = update(schedule_run).where(schedule_run.c.outcome == "running")
    if job is not None:
        statement = statement.where(schedule_run.c.job == job)
    if instance is not None:
        statement = statement.where(schedule_run.c.instance == instance)
    result = connection.execute(
        statement.values(outcome="abandoned", finished_at=now, message="进程中断，运行未完成")
    )
    return int(result.rowcount)


def recent(
    engine: Engine, *, job: str | None = None, outcome: str | None = None, limit: int = 100
) -> list[ScheduleRun]:
    """Runs, newest first (what IT sees)."""
    query = select(schedule_run).order_by(
        schedule_run.c.started_at.desc(), schedule_run.c.id.desc()
    )
    if job:
        query = query.where(schedule_run.c.job == job)
    if outcome:
        query = query.where(schedule_run.c.outcome == outcome)
    with engine.connect() as connection:
        return [_run(row) for row in connection.execute(query.limit(limit))]
