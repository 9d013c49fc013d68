"""The operator's hands: list and filter jobs, read a job's history, re-send, purge.

These are the functions the API, the pages and ``wi-adapter queue`` call. Each takes an
``Engine`` and runs its own short transaction.

* :func:`retry` re-sends a ``dead`` job (or a ``pending`` one waiting out its back-off) now,
  optionally with a corrected payload; the payload it replaces is kept as a
  :class:`~upload_queue.jobs.PayloadRevision`, and the job's payload revision number (which
  each later attempt records) counts up in the same statement. The retry round starts afresh
  (attempt counter and age for the policy), while the attempt history and numbering continue.
* :func:`purge` deletes ``delivered`` jobs (payload and history) delivered before
  ``now - retention``; the delivery ledger keeps that each was delivered
  (:func:`upload_queue.ledger.delivered`), and is trimmed only by
  :func:`upload_queue.ledger.trim`, never below 18 months. Only delivered jobs are ever
  purged; after a purge the same idempotency key can be enqueued again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, func, select, update

from upload_queue import ledger
from upload_queue.deadlines import held_back
from upload_queue.errors import JobChanged, JobNotFound, JobNotRetryable
from upload_queue.jobs import Attempt, Job, PayloadRevision, Status, check_json
from upload_queue.tables import upload_attempt, upload_job, upload_payload_revision
from upload_queue.transactions import begin_write, write_transaction

RETRYABLE: tuple[Status, ...] = ("dead", "pending")


def list_jobs(
    engine: Engine,
    *,
    status: Status | None = None,
    kind: str | None = None,
    ordering_key: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Job]:
    """Jobs matching every filter given, earliest deadline first."""
    statement = select(upload_job).order_by(upload_job.c.deadline, upload_job.c.id)
    if status is not None:
        statement = statement.where(upload_job.c.status == status)
    if kind is not None:
        statement = statement.where(upload_job.c.kind == kind)
    if ordering_key is not None:
        statement = statement.where(upload_job.c.ordering_key == ordering_key)
    with engine.connect() as connection:
        rows = connection.execute(statement.limit(limit).offset(offset)).mappings()
        return [Job.from_row(row) for row in rows]


def held_back_by(engine: Engine, job_ids: Iterable[int]) -> dict[int, int]:
    """For each of ``job_ids`` waiting behind an earlier undelivered job of its ordering key
    (the stay), the earliest such job: it goes first, so IT must see it to it (a dead one
    holds the stay's later uploads back until it is re-sent)."""
    with engine.connect() as connection:
        return held_back(connection, job_ids)


def get_job(engine: Engine, job_id: int) -> Job:
    with engine.connect() as connection:
        row = (
            connection.execute(select(upload_job).where(upload_job.c.id == job_id))
            .mappings()
            .first()
        )
    if row is None:
        raise JobNotFound(f"no upload job {job_id}")
    return Job.from_row(row)


def attempts(engine: Engine, job_id: int) -> list[Attempt]:
    """The job's attempts, oldest first."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(upload_attempt)
            .where(upload_attempt.c.job_id == job_id)
            .order_by(upload_attempt.c.id)
        ).mappings()
        return [
            Attempt(**{name: row[name] for name in Attempt.__dataclass_fields__}) for row in rows
        ]


def revisions(engine: Engine, job_id: int) -> list[PayloadRevision]:
    """The payloads re-sends replaced, oldest first (the first is the original)."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(upload_payload_revision)
            .where(upload_payload_revision.c.job_id == job_id)
            .order_by(upload_payload_revision.c.id)
        ).mappings()
        return [
            PayloadRevision(row["job_id"], row["replaced_at"], row["payload"], row["note"])
            for row in rows
        ]


def retry(
    engine: Engine,
    job_id: int,
    now: datetime,
    *,
    payload: Mapping[str, Any] | None = None,
    note: str | None = None,
    seen_attempts: int | None = None,
) -> Job:
    """Make a dead (or waiting) job due now, optionally with a corrected ``payload``.

    ``seen_attempts``: how many attempts the caller's decision was based on (it read the
    history, :func:`attempts`, before). Should a worker have attempted the job since, the
    retry is refused with :class:`JobChanged`, checked under the job's row lock: a payload
    judged safe to replace stays unsent between the judgement and the replacement."""
    if payload is not None:
        check_json(payload)
    with begin_write(engine) as connection, write_transaction(connection):
        row = (
            connection.execute(
                select(upload_job).where(upload_job.c.id == job_id).with_for_update()
            )
            .mappings()
            .first()
        )
        if row is None:
            raise JobNotFound(f"no upload job {job_id}")
        if row["status"] not in RETRYABLE:
            raise JobNotRetryable(
                f"upload job {job_id} is {row['status']}; only dead or pending jobs can be re-sent"
            )
        if seen_attempts is not None:
            made = connection.execute(
                select(func.count()).where(upload_attempt.c.job_id == job_id)
            ).scalar_one()
            if made != seen_attempts:
                raise JobChanged(
                    f"upload job {job_id} was attempted again meanwhile"
                    f" ({made} attempts, {seen_attempts} seen); look at it again"
                )
        values: dict[str, Any] = {
            "status": "pending",
            "available_at": now,
            "attempts": 0,
            "round_started_at": now,
            "dead_at": None,
        }
        if payload is not None:
            connection.execute(
                upload_payload_revision.insert().values(
                    job_id=job_id, replaced_at=now, payload=row["payload"], note=note
                )
            )
            values["payload"] = dict(payload)
            # in the same statement as the payload: an attempt leased after it carries the
            # new number, one leased before it the old (see upload_queue.withdrawal)
            values["payload_revision"] = upload_job.c.payload_revision + 1
        connection.execute(update(upload_job).where(upload_job.c.id == job_id).values(**values))
        fresh = (
            connection.execute(select(upload_job).where(upload_job.c.id == job_id)).mappings().one()
        )
    return Job.from_row(fresh)


def purge(engine: Engine, retention: timedelta, now: datetime) -> int:
    """Delete the payloads and attempt history of jobs delivered before ``now - retention``;
    give the count. Their delivery stays in the ledger (:mod:`upload_queue.ledger`): an
    entry missing for any of them is written first, in the same transaction."""
    if retention < timedelta(0):
        raise ValueError("retention must not be negative")
    cutoff = now - retention
    old = select(upload_job.c.id).where(
        upload_job.c.status == "delivered", upload_job.c.delivered_at < cutoff
    )
    with begin_write(engine) as connection, write_transaction(connection):
        ids = list(connection.execute(old).scalars())
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            ledger.backfill(connection, chunk)
            connection.execute(delete(upload_attempt).where(upload_attempt.c.job_id.in_(chunk)))
            connection.execute(
                delete(upload_payload_revision).where(upload_payload_revision.c.job_id.in_(chunk))
            )
            connection.execute(delete(upload_job).where(upload_job.c.id.in_(chunk)))
    return len(ids)
