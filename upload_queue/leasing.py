"""Leasing: which job a worker may take next, and getting back the jobs of lost workers.

A lease marks a job ``in_flight`` for one worker until ``lease_expires_at``; the worker's
result counts only while it still holds the lease (checked by ``lease_token``). A job is
leasable when it is ``pending``, due (``available_at <= now``), and no earlier job (lower
``id``) of the same ordering key is ``pending``, ``in_flight`` or ``dead``. Leasable jobs are
taken earliest deadline first (ties: oldest first).

Concurrency: on PostgreSQL candidates are selected ``FOR UPDATE SKIP LOCKED``, so several
workers and instances lease disjoint jobs without waiting on each other. On SQLite (one
instance) the transaction starts with ``BEGIN IMMEDIATE``, so one leaser at a time holds the
write lock from its first read.

Recovery: a lease that expired (a worker crashed or hung) is closed with a
``lease_expired`` attempt and its job returns to ``pending`` at once (or goes ``dead`` if
the retry policy says the job has had enough attempts). :func:`recover` also releases, at
start-up, jobs still leased by this instance's own worker ids, expired or not.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Select, and_, exists, or_, select, update

from upload_queue.jobs import Delivery
from upload_queue.metrics import QueueMetrics
from upload_queue.retry import DEAD, RetryPolicy
from upload_queue.tables import upload_attempt, upload_job

BLOCKING_STATUSES = ("pending", "in_flight", "dead")


def begin_write(engine: Engine) -> Connection:
    """A connection whose transactions take the write lock up front on SQLite."""
    connection = engine.connect()
    if connection.dialect.name == "sqlite":
        connection.execution_options(sqlite_begin="IMMEDIATE")
    return connection


def _lockable(statement: Select[Any], connection: Connection) -> Select[Any]:
    if connection.dialect.name == "postgresql":
        return statement.with_for_update(skip_locked=True, of=upload_job)
    return statement


def leasable_ids(
    connection: Connection, now: datetime, limit: int, kinds: Iterable[str] | None = None
) -> list[int]:
    """Ids of the jobs to lease next, earliest deadline first (locked on PostgreSQL).

    ``kinds`` limits the choice to kinds this worker can deliver (``None``: any kind); a job
    of another kind stays pending, and still holds back later jobs of its ordering key.
    """
    earlier = upload_job.alias("earlier")
    blocked = exists().where(
        earlier.c.ordering_key == upload_job.c.ordering_key,
        earlier.c.id < upload_job.c.id,
        earlier.c.status.in_(BLOCKING_STATUSES),
    )
    statement = (
        select(upload_job.c.id)
        .where(
            upload_job.c.status == "pending",
            upload_job.c.available_at <= now,
            or_(upload_job.c.ordering_key.is_(None), ~blocked),
        )
        .order_by(upload_job.c.deadline, upload_job.c.id)
        .limit(limit)
    )
    if kinds is not None:
        statement = statement.where(upload_job.c.kind.in_(sorted(kinds)))
    return list(connection.execute(_lockable(statement, connection)).scalars())


def lease(
    engine: Engine,
    worker_id: str,
    now: datetime,
    *,
    lease_for: timedelta,
    limit: int = 1,
    kinds: Iterable[str] | None = None,
    policy: RetryPolicy,
    metrics: QueueMetrics,
) -> list[Delivery]:
    """Recover expired leases, then lease up to ``limit`` jobs for ``worker_id``."""
    with begin_write(engine) as connection, connection.begin():
        _release(connection, now, policy, metrics, expired_only=True, owners=())
        ids = leasable_ids(connection, now, limit, kinds)
        if not ids:
            return []
        token = secrets.token_hex(16)
        connection.execute(
            update(upload_job)
            .where(upload_job.c.id.in_(ids))
            .values(
                status="in_flight",
                leased_by=worker_id,
                lease_token=token,
                leased_at=now,
                lease_expires_at=now + lease_for,
                attempts=upload_job.c.attempts + 1,
                total_attempts=upload_job.c.total_attempts + 1,
            )
        )
        rows = connection.execute(select(upload_job).where(upload_job.c.id.in_(ids))).mappings()
        by_id = {row["id"]: row for row in rows}
    deliveries = [
        Delivery(
            job_id=row["id"],
            kind=row["kind"],
            payload=row["payload"],
            idempotency_key=row["idempotency_key"],
            attempt=row["total_attempts"],
            deadline=row["deadline"],
            ordering_key=row["ordering_key"],
            lease_token=token,
        )
        for row in (by_id[job_id] for job_id in ids)
    ]
    for delivery in deliveries:
        metrics.attempts.labels(kind=delivery.kind).inc()
    return deliveries


def recover(
    engine: Engine,
    now: datetime,
    *,
    policy: RetryPolicy,
    metrics: QueueMetrics,
    owners: Iterable[str] = (),
) -> list[int]:
    """Return expired leases, and every lease held by ``owners``, to the queue; give the ids."""
    with begin_write(engine) as connection, connection.begin():
        return _release(connection, now, policy, metrics, expired_only=False, owners=owners)


def _release(
    connection: Connection,
    now: datetime,
    policy: RetryPolicy,
    metrics: QueueMetrics,
    *,
    expired_only: bool,
    owners: Iterable[str],
) -> list[int]:
    condition = upload_job.c.lease_expires_at <= now
    owner_list = list(owners)
    if not expired_only and owner_list:
        condition = or_(condition, upload_job.c.leased_by.in_(owner_list))
    stuck = (
        connection.execute(
            _lockable(
                select(upload_job).where(upload_job.c.status == "in_flight", condition),
                connection,
            )
        )
        .mappings()
        .all()
    )
    released = []
    for row in stuck:
        message = f"lease of worker {row['leased_by']} ended without a result"
        verdict = policy.next_attempt(row["attempts"], "transient", now, row["round_started_at"])
        values: dict[str, Any] = {
            "leased_by": None,
            "lease_token": None,
            "leased_at": None,
            "lease_expires_at": None,
            "last_error": message,
        }
        if verdict is DEAD:
            values.update(status="dead", dead_at=now)
        else:
            values.update(status="pending", available_at=now)
        changed = connection.execute(
            update(upload_job)
            .where(
                and_(upload_job.c.id == row["id"], upload_job.c.lease_token == row["lease_token"])
            )
            .values(**values)
        ).rowcount
        if changed != 1:
            continue
        connection.execute(
            upload_attempt.insert().values(
                job_id=row["id"],
                number=row["total_attempts"],
                worker=row["leased_by"],
                started_at=row["leased_at"],
                finished_at=now,
                duration_s=max((now - row["leased_at"]).total_seconds(), 0.0),
                outcome="lease_expired",
                error=message,
            )
        )
        metrics.lease_expired.labels(kind=row["kind"]).inc()
        if verdict is DEAD:
            metrics.dead.labels(kind=row["kind"]).inc()
        released.append(row["id"])
    return released
