"""Withdrawing a refused job together with the jobs queued only to undo it.

A dead job holds back every later job of its ordering key. When its caller no longer wants it
sent — the adapter's clerk revoked the settlement it carried — and the jobs queued after it
only to undo it (the revocation) have nothing to undo, all of them can be taken back, and the
key's later jobs go. That is safe only when the receiver certainly holds nothing of the job:
every attempt of it was answered with a refusal (``refused`` attempts, see
:mod:`upload_queue.errors`). A time-out, a transport error, a 5xx, a lost lease or a permanent
failure that is not a refusal may have reached the receiver and taken effect; then the undoing
jobs are still owed, and nothing is withdrawn — unless the receiver has since undone what
such an attempt may have done: the caller's ``undone`` says so of the payload it was made with
(the adapter: a reversal, WI2601, of its msgid that upstream acknowledged). Each attempt is
judged with the payload it went out with: the payload revision it was leased with
(``upload_attempt.payload_revision``, the job's number when leased; a re-send that replaces the
payload raises the job's number in the same statement), read from the job's replaced payloads
(``upload_payload_revision``, revision 0 first) or, for the last, the job's payload now. Never
by comparing times: the attempt's start is stamped by the worker's instance, the replacement by
IT's, and two instances' clocks differ — an attempt with a payload upstream may hold, taken for
one with a payload it has undone, would withdraw a settlement upstream holds. Only attempts
recorded before that number was kept (``NULL``, before migration 0019) are placed by time: the
first payload replaced after the attempt started.

:func:`withdraw_refused` decides and withdraws in the caller's transaction, with the job's row
locked (``FOR UPDATE`` on PostgreSQL; SQLite's writer holds the database): a re-send by IT
(:func:`upload_queue.admin.retry`) or a lease cannot slip between the look and the write.
Withdrawn jobs are ``withdrawn`` (``withdrawn_at``, the reason as ``last_error``); their
payload and attempt history stay, they are never sent, retried nor purged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, func, select, update

from upload_queue.tables import upload_attempt, upload_job, upload_payload_revision

Certainty = Literal["refused", "undone", "never_sent", "uncertain", "not_dead"]
"""``refused``: every attempt refused; ``undone``: every attempt refused or undone since by the
receiver (and at least one undone); ``never_sent``: none made; ``uncertain``: some attempt may
have taken effect; ``not_dead``: not a dead job (or no job)."""

Undone = Callable[[Mapping[str, Any]], bool]
"""Whether the receiver has undone whatever an attempt made with this payload did."""


@dataclass(frozen=True)
class Withdrawal:
    """What :func:`withdraw_refused` found: ``certainty`` of the job's refusal, and the ids
    withdrawn (the job first; empty when nothing was)."""

    job_id: int
    certainty: Certainty
    withdrawn: tuple[int, ...] = ()
    attempts: int = 0
    uncertain: int = 0  # attempts whose effect is unknown
    undone: int = 0  # attempts not refused whose effect the receiver has undone since


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


def certainty(
    connection: Connection, job_id: int, status: str, undone: Undone | None = None
) -> tuple[Certainty, int, int, int]:
    """Whether the receiver certainly holds nothing of job ``job_id`` (``refused``: every
    attempt refused; ``undone``: the others undone since, see ``undone``; ``never_sent``:
    none made), with the attempts made, how many of them may have taken effect and how many
    of them were undone. Only a dead job is judged: a pending or in-flight one may be sent
    yet."""
    made, refused = connection.execute(
        select(
            func.count(),
            func.count().filter(
                upload_attempt.c.outcome == "permanent", upload_attempt.c.refused.is_(True)
            ),
        ).where(upload_attempt.c.job_id == job_id)
    ).one()
    if status != "dead":
        return "not_dead", made, made - refused, 0
    if made == 0:
        return "never_sent", 0, 0, 0
    if refused == made:
        return "refused", made, 0, 0
    reversed_ = _undone_attempts(connection, job_id, undone) if undone is not None else 0
    uncertain = made - refused - reversed_
    return ("undone" if uncertain == 0 else "uncertain"), made, uncertain, reversed_


def _undone_attempts(connection: Connection, job_id: int, undone: Undone) -> int:
    """How many attempts of job ``job_id`` that were not refusals were made with a payload
    ``undone`` holds undone: each with the payload of the revision it was leased with (see
    the module; one recorded before that was kept, with the payload replaced first after it
    started, else the job's payload now)."""
    made = connection.execute(
        select(upload_attempt.c.payload_revision, upload_attempt.c.started_at).where(
            upload_attempt.c.job_id == job_id,
            ~((upload_attempt.c.outcome == "permanent") & upload_attempt.c.refused.is_(True)),
        )
    ).all()
    # the replaced payloads in the order they were replaced: revision 0, 1, …
    revisions = connection.execute(
        select(upload_payload_revision.c.replaced_at, upload_payload_revision.c.payload)
        .where(upload_payload_revision.c.job_id == job_id)
        .order_by(upload_payload_revision.c.id)
    ).all()
    current = connection.execute(
        select(upload_job.c.payload).where(upload_job.c.id == job_id)
    ).scalar_one()
    payloads = [payload for _, payload in revisions] + [current]
    verdicts: dict[int, bool] = {}  # one look per payload, however many attempts it had

    def sent_with(revision: int | None, started: datetime) -> int:
        if revision is None:  # recorded before the number was kept: by time, as then
            return next((n for n, (at, _) in enumerate(revisions) if started < at), len(revisions))
        return min(revision, len(revisions))

    def was_undone(revision: int | None, started: datetime) -> bool:
        index = sent_with(revision, started)
        if index not in verdicts:
            verdicts[index] = undone(payloads[index])
        return verdicts[index]

    return sum(1 for revision, started in made if was_undone(revision, started))


def withdraw_refused(
    connection: Connection,
    job_id: int,
    undoing: Iterable[int],
    *,
    reason: str | Callable[[Certainty], str],
    now: datetime,
    undone: Undone | None = None,
) -> Withdrawal:
    """Withdraw dead job ``job_id`` and the jobs of ``undoing`` (queued to undo it) if every
    attempt of it was refused, or undone since (``undone``, see the module); else change
    nothing. In the caller's transaction. ``reason`` (or ``reason(certainty)``) is recorded
    as the jobs' ``last_error``.

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
    verdict, made, uncertain, reversed_ = certainty(connection, job_id, row["status"], undone)
    if verdict not in ("refused", "undone"):
        return Withdrawal(job_id, verdict, (), made, uncertain, reversed_)
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
            return Withdrawal(job_id, verdict, (), made, uncertain, reversed_)
    ids = [job_id, *others]
    why = reason if isinstance(reason, str) else reason(verdict)
    connection.execute(
        update(upload_job)
        .where(upload_job.c.id.in_(ids))
        .values(status="withdrawn", withdrawn_at=now, last_error=why)
    )
    return Withdrawal(job_id, verdict, tuple(ids), made, 0, reversed_)
