"""Recording a delivery's outcome: the job's new state, its attempt row, logs and metrics.

:func:`write_outcome` runs inside the caller's write transaction: success → ``delivered``;
transient failure → ``pending`` again at the time the retry policy gives, or ``dead`` when
it gives up; permanent failure → ``dead`` at once, with upstream's message as
``last_error``. It writes only while the worker still holds the job's lease; if the lease
expired meanwhile (the job may already be with another worker), the outcome is discarded
and the attempt is kept as ``lease_lost``. :func:`after_commit` logs and counts what was
recorded, once the transaction has committed. A delivery also writes its entry in the
delivery ledger (:mod:`upload_queue.ledger`), in the same transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, bindparam, select, text

from upload_queue.jobs import Delivery
from upload_queue.leasing import Leased
from upload_queue.ledger import Receipt, entry_values
from upload_queue.ledger import record as record_delivery
from upload_queue.ledger import record_many as record_deliveries
from upload_queue.metrics import QueueMetrics
from upload_queue.retry import DEAD, RetryPolicy
from upload_queue.tables import UTCDateTime, upload_attempt, upload_job

log = logging.getLogger("upload_queue")

Result = Literal["delivered", "transient", "permanent"]

# An outcome is written only while this worker still holds the lease; the statements are
# built once (values bound per call), as they run once per delivery.
_HELD = upload_job.update().where(
    upload_job.c.id == bindparam("job"),
    upload_job.c.status == "in_flight",
    upload_job.c.lease_token == bindparam("token"),
)
_UNLEASED: dict[str, Any] = {
    "leased_by": None,
    "lease_token": None,
    "leased_at": None,
    "lease_expires_at": None,
}
_AT = bindparam("at", type_=UTCDateTime())
_DELIVERED = _HELD.values(status="delivered", delivered_at=_AT, last_error=None, **_UNLEASED)
_RETRY = _HELD.values(status="pending", available_at=_AT, last_error=bindparam("error"),
                      **_UNLEASED)  # fmt: skip
_DEAD = _HELD.values(status="dead", dead_at=_AT, last_error=bindparam("error"), **_UNLEASED)
_BOOKKEEPING = select(
    upload_job.c.attempts, upload_job.c.round_started_at, upload_job.c.created_at
).where(upload_job.c.id == bindparam("job"))
_STATUS = select(upload_job.c.status).where(upload_job.c.id == bindparam("job"))


@dataclass(frozen=True)
class Outcome:
    job_id: int
    result: Result
    status: str
    error: str | None = None


@dataclass(frozen=True)
class Finished:
    """A handler's verdict on one delivery, not yet recorded."""

    delivery: Delivery
    leased: Leased | None
    result: Result
    error: str | None
    started: datetime
    finished: datetime
    duration: float
    receipt: Receipt | None = None  # what the handler returned, if it was a Receipt


@dataclass(frozen=True)
class Recorded:
    finished: Finished
    outcome: Outcome
    kept: bool  # False: the lease had been lost, nothing but the attempt was written
    created_at: datetime | None


def write_outcome(connection: Connection, item: Finished, policy: RetryPolicy) -> Recorded:
    """The job's new state, if this worker still holds its lease (see the module docstring)."""
    delivery, result, error, finished = item.delivery, item.result, item.error, item.finished
    if item.leased is not None:
        attempts = item.leased.attempts
        round_started_at: datetime | None = item.leased.round_started_at
        created_at: datetime | None = item.leased.created_at
    else:
        row = connection.execute(_BOOKKEEPING, {"job": delivery.job_id}).one()
        attempts, round_started_at, created_at = row
    params: dict[str, Any] = {"job": delivery.job_id, "token": delivery.lease_token}
    if result == "delivered":
        statement, status = _DELIVERED, "delivered"
        params["at"] = finished
    else:
        verdict = policy.next_attempt(attempts, result, finished, round_started_at)
        params["error"] = error
        if verdict is DEAD:
            statement, status = _DEAD, "dead"
            params["at"] = finished
        else:
            statement, status = _RETRY, "pending"
            params["at"] = verdict
    if connection.execute(statement, params).rowcount == 1:
        if status == "delivered":  # the ledger keeps it past the job's purge
            record_delivery(connection, delivery, finished, item.receipt)
        outcome = Outcome(delivery.job_id, result, status, error)
        return Recorded(item, outcome, True, created_at)
    return _lost(connection, item)


# PostgreSQL: the deliveries of a batch marked in one statement, each only while its lease
# is held (``RETURNING`` says which were); the ledger and the attempts follow in one round each.
_DELIVERED_MANY = text(
    "UPDATE upload_job SET status = 'delivered', delivered_at = given.at, last_error = NULL, "
    "leased_by = NULL, lease_token = NULL, leased_at = NULL, lease_expires_at = NULL "
    "FROM unnest(CAST(:ids AS bigint[]), CAST(:tokens AS text[]), "
    "CAST(:ats AS timestamptz[])) AS given(id, token, at) "
    "WHERE upload_job.id = given.id AND upload_job.status = 'in_flight' "
    "AND upload_job.lease_token = given.token RETURNING upload_job.id"
)


def write_outcomes(
    connection: Connection, items: list[Finished], policy: RetryPolicy
) -> list[Recorded]:
    """:func:`write_outcome` for each of ``items``, in order; on PostgreSQL the deliveries
    in one statement and their ledger entries in one round."""
    delivered = [item for item in items if item.result == "delivered"]
    batched = len(delivered) > 1 and all(item.leased is not None for item in delivered)
    if connection.dialect.name != "postgresql" or not batched:
        return [write_outcome(connection, item, policy) for item in items]
    kept = set(
        connection.execute(
            _DELIVERED_MANY,
            {
                "ids": [item.delivery.job_id for item in delivered],
                "tokens": [item.delivery.lease_token for item in delivered],
                "ats": [item.finished for item in delivered],
            },
        ).scalars()
    )
    record_deliveries(
        connection,
        [(i.delivery, i.finished, i.receipt) for i in delivered if i.delivery.job_id in kept],
    )
    recorded: list[Recorded] = []
    for item in items:
        if item.result != "delivered":
            recorded.append(write_outcome(connection, item, policy))
        elif item.delivery.job_id in kept:
            outcome = Outcome(item.delivery.job_id, "delivered", "delivered", None)
            created_at = item.leased.created_at if item.leased is not None else None
            recorded.append(Recorded(item, outcome, True, created_at))
        else:
            recorded.append(_lost(connection, item))
    return recorded


# PostgreSQL: the held deliveries of a batch, their ledger entries and their attempt rows in
# one statement (one round trip, one plan, where the three rounds ran 2n + 1 statements).
# Ledger and attempts are written for the rows the UPDATE returned (the leases still held)
# only, in the order given.
_DELIVERED_RECORDED = text(
    "WITH given AS (SELECT * FROM unnest(CAST(:ids AS bigint[]), CAST(:tokens AS text[]), "
    "CAST(:ats AS timestamptz[]), CAST(:references AS text[]), CAST(:codes AS text[]), "
    "CAST(:refs AS text[]), CAST(:numbers AS int[]), CAST(:starts AS timestamptz[]), "
    "CAST(:durations AS float8[])) WITH ORDINALITY "
    "AS g(id, token, at, reference, code, ref, number, started, duration, n)), "
    "done AS (UPDATE upload_job SET status = 'delivered', delivered_at = given.at, "
    "last_error = NULL, leased_by = NULL, lease_token = NULL, leased_at = NULL, "
    "lease_expires_at = NULL FROM given WHERE upload_job.id = given.id "
    "AND upload_job.status = 'in_flight' AND upload_job.lease_token = given.token "
    "RETURNING upload_job.id, upload_job.kind, upload_job.ordering_key, "
    "upload_job.idempotency_key), "
    "ledger AS (INSERT INTO upload_delivery (job_id, kind, ordering_key, idempotency_key, "
    "reference, delivered_at, reply_code, reply_ref) SELECT done.id, done.kind, "
    "done.ordering_key, done.idempotency_key, given.reference, given.at, given.code, "
    "given.ref FROM done JOIN given ON given.id = done.id ORDER BY given.n), "
    "attempts AS (INSERT INTO upload_attempt (job_id, number, worker, started_at, "
    "finished_at, duration_s, outcome, error) SELECT done.id, given.number, :worker, "
    "given.started, given.at, given.duration, 'delivered', NULL FROM done "
    "JOIN given ON given.id = done.id ORDER BY given.n) "
    "SELECT id FROM done"
)


def record_outcomes(
    connection: Connection, items: list[Finished], policy: RetryPolicy, worker_id: str
) -> list[Recorded]:
    """:func:`write_outcomes` and the attempt row of each of ``items`` (in the caller's write
    transaction); on PostgreSQL a batch's deliveries, with their ledger entries and attempt
    rows, in one statement."""
    if not items:
        return []
    delivered = [item for item in items if item.result == "delivered"]
    batched = len(delivered) > 1 and all(item.leased is not None for item in delivered)
    if connection.dialect.name != "postgresql" or not batched:
        each = write_outcomes(connection, items, policy)
        connection.execute(upload_attempt.insert(), [attempt_row(r, worker_id) for r in each])
        return each
    entries = [entry_values(i.delivery, i.finished, i.receipt) for i in delivered]
    kept = set(
        connection.execute(
            _DELIVERED_RECORDED,
            {
                "ids": [item.delivery.job_id for item in delivered],
                "tokens": [item.delivery.lease_token for item in delivered],
                "ats": [item.finished for item in delivered],
                "references": [entry["reference"] for entry in entries],
                "codes": [entry["reply_code"] for entry in entries],
                "refs": [entry["reply_ref"] for entry in entries],
                "numbers": [item.delivery.attempt for item in delivered],
                "starts": [item.started for item in delivered],
                "durations": [item.duration for item in delivered],
                "worker": worker_id,
            },
        ).scalars()
    )
    recorded: list[Recorded] = []
    unwritten: list[Recorded] = []  # their attempt rows are still to write
    for item in items:
        if item.result != "delivered":
            unwritten.append(write_outcome(connection, item, policy))
            recorded.append(unwritten[-1])
        elif item.delivery.job_id in kept:
            outcome = Outcome(item.delivery.job_id, "delivered", "delivered", None)
            created_at = item.leased.created_at if item.leased is not None else None
            recorded.append(Recorded(item, outcome, True, created_at))
        else:
            unwritten.append(_lost(connection, item))
            recorded.append(unwritten[-1])
    if unwritten:
        connection.execute(upload_attempt.insert(), [attempt_row(r, worker_id) for r in unwritten])
    return recorded


def _lost(connection: Connection, item: Finished) -> Recorded:
    """The lease had expired: nothing is written but the attempt (``lease_lost``)."""
    delivery, result, error = item.delivery, item.result, item.error
    created_at = item.leased.created_at if item.leased is not None else None
    status = connection.execute(_STATUS, {"job": delivery.job_id}).scalar_one()
    lost = f"{result} result discarded: the lease had expired" + (f" ({error})" if error else "")
    return Recorded(item, Outcome(delivery.job_id, result, status, lost), False, created_at)


def attempt_row(recorded: Recorded, worker_id: str) -> dict[str, Any]:
    """The ``upload_attempt`` row for a recorded delivery."""
    item = recorded.finished
    return {
        "job_id": item.delivery.job_id,
        "number": item.delivery.attempt,
        "worker": worker_id,
        "started_at": item.started,
        "finished_at": item.finished,
        "duration_s": item.duration,
        "outcome": item.result if recorded.kept else "lease_lost",
        "error": recorded.outcome.error,
    }


def after_commit(recorded: Recorded, worker_id: str, metrics: QueueMetrics) -> None:
    """Log and count a recorded outcome; only once it is committed, so nothing is counted
    for a transaction that rolled back."""
    item, outcome = recorded.finished, recorded.outcome
    kind, job_id = item.delivery.kind, item.delivery.job_id
    if not recorded.kept:
        log.warning(
            "lease_lost job_id=%s kind=%s worker=%s",
            job_id,
            kind,
            worker_id,
            extra={"event": "lease_lost", "job_id": job_id, "kind": kind},
        )
        return
    _observe(metrics, kind, item.result, outcome.status, recorded.created_at, item)
    if outcome.status == "delivered":
        log.info(
            "job_delivered",
            extra={
                "job_id": job_id,
                "kind": kind,
                "encounter": item.delivery.ordering_key,
                "msgid": item.delivery.payload.get("msgid", item.delivery.idempotency_key),
                "attempt": item.delivery.attempt,
            },
        )
    if outcome.status == "dead":
        log.error(
            "job_dead job_id=%s kind=%s error=%s",
            job_id,
            kind,
            outcome.error,
            extra={"event": "job_dead", "job_id": job_id, "kind": kind, "error": outcome.error},
        )


def _observe(
    m: QueueMetrics,
    kind: str,
    result: Result,
    status: str,
    created_at: datetime | None,
    item: Finished,
) -> None:
    if result == "delivered":
        m.delivered.labels(kind=kind).inc()
        if created_at is not None:
            m.delivery_latency.labels(kind=kind).observe(
                max((item.finished - created_at).total_seconds(), 0.0)
            )
        left = (item.delivery.deadline - item.finished).total_seconds()
        m.time_to_deadline.labels(kind=kind).observe(max(left, 0.0))
        if left < 0:
            m.deadline_missed.labels(kind=kind).inc()
        return
    m.failed.labels(kind=kind, error_kind=result).inc()
    if status == "dead":
        m.dead.labels(kind=kind).inc()
