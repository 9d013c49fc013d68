"""Withdrawing a refused job together with the jobs queued only to undo it.

A dead job holds back every later job of its ordering key. When its caller no longer wants it
sent — the adapter's clerk revoked the settlement it carried — and the jobs queued after it
only to undo it (the revocation) have nothing to undo, all of them can be taken back, and the
key's later jobs go. That is safe only when the receiver certainly holds nothing of the job:
every attempt of it was answered with a refusal (``refused`` attempts, see
:mod:`upload_queue.errors`). A time-out, a transport error, a 5xx, a lost lease or a permanent
failure that is not a refusal may have reached the receiver and taken effect; then the undoing
jobs are still owed, and nothing is withdrawn.

:func:`withdraw_refused` decides and withdraws in the caller's transaction, with the job's row
locked (``FOR UPDATE`` on PostgreSQL; SQLite's writer holds the database): a re-send by IT
(:func:`upload_queue.admin.retry`) or a lease cannot slip between the look and the write.
Withdrawn jobs are ``withdrawn`` (``withdrawn_at``, the reason as ``last_error``); their
payload and attempt history stay, they are never sent, retried nor purged.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import Connection, func, select, update

from upload_queue.tables import upload_attempt, upload_job

Certainty = Literal["refused", "never_sent", "uncertain", "not_dead"]


@dataclass(frozen=True)
class Withdrawal:
    """What :func:`withdraw_refused` found: ``certainty`` of the job's refusal, and the ids
    withdrawn (the job first; empty when nothing was)."""

    job_id: int
    certainty: Certainty
    withdrawn: tuple[int, ...] = ()
    attempts: int = 0
    uncertain: int = 0  # attempts whose effect is unknown


def ids_of(connection: Connection, keys: Iterable[str]) -> dict[str, int]:
    """The job id of each of ``keys`` that names a job."""
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return {}
    rows = connection.execute(
        select(upload_job.c.idempotency_key, upload_job.c.id).where(
            upload_job.c.idempotency_key.in_(wanted)
        )
    )
    return {str(key): int(job_id) for key, job_id in rows}


def certainty(connection: Connection, job_id: int, status: str) -> tuple[Certainty, int, int]:
    """Whether the receiver certainly holds nothing of job ``job_id`` (``refused``: every
    attempt refused; ``never_sent``: none made), with the attempts made and how many of them
    were not refusals. Only a dead job is judged: a pending or in-flight one may be sent yet."""
    made, refused = connection.execute(
        select(
            func.count(),
            func.count().filter(
                upload_attempt.c.outcome == "permanent", upload_attempt.c.refused.is_(True)
            ),
        ).where(upload_attempt.c.job_id == job_id)
    ).one()
    if status != "dead":
        return "not_dead", made, made - refused
    if made == 0:
        return "never_sent", 0, 0
    return ("refused" if refused == made else "uncertain"), made, made - refused


def withdraw_refused(
    connection: Connection,
    job_id: int,
    undoing: Iterable[int],
    *,
    reason: str,
    now: datetime,
) -> Withdrawal:
    """Withdraw dead job ``job_id`` and the jobs of ``undoing`` (queued to undo it) if every
    attempt of it was refused; else change nothing. In the caller's transaction.

    A job of ``undoing`` is withdrawn only while it is pending or dead (not in flight, not
    delivered), and only together with ``job_id``: one that is not (it may have reached the
    receiver) keeps everything as it is."""
    row = (
        connection.execute(
            select(upload_job.c.status).where(upload_job.c.id == job_id).with_for_update()
        )
        .mappings()
        .first()
    )
    if row is None:
        return Withdrawal(job_id, "not_dead")
    verdict, made, uncertain = certainty(connection, job_id, row["status"])
    if verdict != "refused":
        return Withdrawal(job_id, verdict, (), made, uncertain)
    others = sorted(set(undoing) - {job_id})
    if others:
        states = dict(
            connection.execute(
                select(upload_job.c.id, upload_job.c.status)
                .where(upload_job.c.id.in_(others))
                .with_for_update()
            ).all()
        )
        if any(states.get(other) not in ("pending", "dead") for other in others):
            return Withdrawal(job_id, verdict, (), made, uncertain)
    ids = [job_id, *others]
    connection.execute(
        update(upload_job)
        .where(upload_job.c.id.in_(ids))
        .values(status="withdrawn", withdrawn_at=now, last_error=reason)
    )
    return Withdrawal(job_id, verdict, tuple(ids), made, 0)
