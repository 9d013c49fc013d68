"""Getting back the jobs of lost workers.

A lease that expired (a worker crashed or hung) is closed with a ``lease_expired`` attempt
and its job returns to ``pending`` at once (or goes ``dead`` if the retry policy says the job
has had enough attempts). :func:`recover` also releases, at start-up, jobs still leased by
this instance's own worker ids, expired or not. On PostgreSQL the stuck jobs are claimed
``FOR UPDATE SKIP LOCKED``, so two instances recovering at once do not wait on each other.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Select, and_, or_, select, update

from upload_queue.metrics import QueueMetrics
from upload_queue.retry import DEAD, RetryPolicy
from upload_queue.tables import upload_attempt, upload_job
from upload_queue.transactions import begin_write, write_transaction


def _lockable(statement: Select[Any], connection: Connection) -> Select[Any]:
    if connection.dialect.name == "postgresql":
        return statement.with_for_update(skip_locked=True, of=upload_job)
    return statement


def recover(
    engine: Engine,
    now: datetime,
    *,
    policy: RetryPolicy,
    metrics: QueueMetrics,
    owners: Iterable[str] = (),
) -> list[int]:
    """Return expired leases, and every lease held by ``owners``, to the queue; give the ids."""
    with begin_write(engine) as connection, write_transaction(connection):
        return _release(connection, now, policy, metrics, expired_only=False, owners=owners)


def release_expired(
    connection: Connection, now: datetime, policy: RetryPolicy, metrics: QueueMetrics
) -> list[int]:
    """Return expired leases to the queue, in the caller's open write transaction."""
    return _release(connection, now, policy, metrics, expired_only=True, owners=())


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
                payload_revision=row["payload_revision"],
            )
        )
        metrics.lease_expired.labels(kind=row["kind"]).inc()
        if verdict is DEAD:
            metrics.dead.labels(kind=row["kind"]).inc()
        released.append(row["id"])
    return released
