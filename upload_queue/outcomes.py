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

import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, Table, TextClause, bindparam, select, text
from sqlalchemy.dialects import postgresql

from upload_queue.clock import as_utc
from upload_queue.handlers import Registration
from upload_queue.jobs import Delivery
from upload_queue.leasing import Leased
from upload_queue.ledger import ENTRY_COLUMNS, Receipt, entry_values
from upload_queue.ledger import record as record_delivery
from upload_queue.metrics import QueueMetrics
from upload_queue.retry import DEAD, RetryPolicy
from upload_queue.tables import UTCDateTime, upload_attempt, upload_delivery, upload_job

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
    refused: bool = False  # a permanent failure the receiver answered as a refusal


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


ATTEMPT_COLUMNS = (
    "job_id",
    "number",
    "worker",
    "started_at",
    "finished_at",
    "duration_s",
    "outcome",
    "error",
    "refused",
    "payload_revision",
)
"""The columns an attempt row holds: :func:`attempt_row` and the batched statement below both
write exactly these."""


def _sql_type(table: Table, column: str) -> str:
    """The PostgreSQL type of ``column``'s values, without a length: a cast to ``VARCHAR(n)``
    would cut a long value silently where the ``INSERT`` refuses it."""
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]  # SQLAlchemy: unannotated
    return re.sub(r"\(\d+\)", "", table.c[column].type.compile(dialect=dialect))


def _insert_given(table: Table, prefix: str, columns: tuple[str, ...]) -> str:
    """``INSERT`` of ``columns`` from the ``given`` rows' fields named ``prefix + column``, for
    the rows whose lease was still held (``done``), in the order given. Rows are matched by
    their place in ``given`` (``n``), not by job: one job can come twice, under a lease that was
    lost and the one it was leased again under."""
    values = ", ".join(f"given.{prefix}{column}" for column in columns)
    return (
        f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT {values} "
        "FROM done JOIN given ON given.n = done.n ORDER BY given.n"
    )


def _delivered_recorded() -> TextClause:
    """PostgreSQL: the held deliveries of a batch, their ledger entries and their attempt rows
    in one statement (one round trip, one plan, where three rounds ran 2n + 1 statements).

    The batch is bound as one JSON array of rows (``json_to_recordset``): the driver writes one
    text, where an array per column cost it two regular expressions per element. Each row holds
    ``n`` (its place, from 1), ``id`` and ``token`` (the lease the outcome needs held), and the
    ledger and attempt columns (:data:`~upload_queue.ledger.ENTRY_COLUMNS`,
    :data:`ATTEMPT_COLUMNS`) as ``l_<column>`` and ``a_<column>``, from
    :func:`~upload_queue.ledger.entry_values` and :func:`attempt_row`: a new column is added in
    one place."""
    given = [("n", "bigint"), ("id", "bigint"), ("token", "text")]
    given += [(f"l_{c}", _sql_type(upload_delivery, c)) for c in ENTRY_COLUMNS]
    given += [(f"a_{c}", _sql_type(upload_attempt, c)) for c in ATTEMPT_COLUMNS]
    fields = ", ".join(f"{name} {type_name}" for name, type_name in given)
    return text(
        f"WITH given AS (SELECT * FROM json_to_recordset(CAST(:rows AS json)) AS g({fields})), "
        "done AS (UPDATE upload_job SET status = 'delivered', delivered_at = given.l_delivered_at, "
        "last_error = NULL, leased_by = NULL, lease_token = NULL, leased_at = NULL, "
        "lease_expires_at = NULL FROM given WHERE upload_job.id = given.id "
        "AND upload_job.status = 'in_flight' AND upload_job.lease_token = given.token "
        "RETURNING given.n), "
        f"ledger AS ({_insert_given(upload_delivery, 'l_', ENTRY_COLUMNS)}), "
        f"attempts AS ({_insert_given(upload_attempt, 'a_', ATTEMPT_COLUMNS)}) "
        "SELECT n FROM done"
    )


def _json_value(value: Any) -> str:
    """A datetime as ISO 8601 in UTC, which ``timestamptz`` reads back exactly."""
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    raise TypeError(f"{type(value).__name__} is not a column value of the outcome batch")


def _given_rows(delivered: list[Finished], held: list[Recorded], worker_id: str) -> str:
    rows = []
    for n, (item, recorded) in enumerate(zip(delivered, held, strict=True), start=1):
        row: dict[str, Any] = {
            "n": n,
            "id": item.delivery.job_id,
            "token": item.delivery.lease_token,
        }
        entry = entry_values(item.delivery, item.finished, item.receipt)
        row.update((f"l_{c}", entry[c]) for c in ENTRY_COLUMNS)
        attempt = attempt_row(recorded, worker_id)
        row.update((f"a_{c}", attempt[c]) for c in ATTEMPT_COLUMNS)
        rows.append(row)
    return json.dumps(rows, default=_json_value, ensure_ascii=False)


_DELIVERED_RECORDED = _delivered_recorded()


def record_outcomes(
    connection: Connection, items: list[Finished], policy: RetryPolicy, worker_id: str
) -> list[Recorded]:
    """:func:`write_outcome` and the attempt row of each of ``items``, in order (in the
    caller's write transaction); on PostgreSQL a batch's deliveries, with their ledger entries
    and attempt rows, in one statement."""
    if not items:
        return []
    delivered = [item for item in items if item.result == "delivered"]
    batched = len(delivered) > 1 and all(item.leased is not None for item in delivered)
    if connection.dialect.name != "postgresql" or not batched:
        each = [write_outcome(connection, item, policy) for item in items]
        connection.execute(upload_attempt.insert(), [attempt_row(r, worker_id) for r in each])
        return each
    # Written as if every lease were still held; the statement keeps the rows of those that
    # were, the others are recorded as lost below.
    held = [_held(item) for item in delivered]
    rows = _given_rows(delivered, held, worker_id)
    # the places (from 1) in ``delivered`` of those whose lease was held
    kept = set(connection.execute(_DELIVERED_RECORDED, {"rows": rows}).scalars())
    recorded: list[Recorded] = []
    unwritten: list[Recorded] = []  # their attempt rows are still to write
    place = 0
    for item in items:
        if item.result != "delivered":
            unwritten.append(write_outcome(connection, item, policy))
            recorded.append(unwritten[-1])
            continue
        place += 1
        if place in kept:
            recorded.append(held[place - 1])
        else:
            unwritten.append(_lost(connection, item))
            recorded.append(unwritten[-1])
    if unwritten:
        connection.execute(upload_attempt.insert(), [attempt_row(r, worker_id) for r in unwritten])
    return recorded


def _held(item: Finished) -> Recorded:
    """A delivery recorded while its lease was held."""
    outcome = Outcome(item.delivery.job_id, "delivered", "delivered", None)
    created_at = item.leased.created_at if item.leased is not None else None
    return Recorded(item, outcome, True, created_at)


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
    values = (
        item.delivery.job_id,
        item.delivery.attempt,
        worker_id,
        item.started,
        item.finished,
        item.duration,
        item.result if recorded.kept else "lease_lost",
        recorded.outcome.error,
        recorded.kept and item.result == "permanent" and item.refused,
        item.delivery.payload_revision,
    )
    return dict(zip(ATTEMPT_COLUMNS, values, strict=True))


def dead_on_refusal(recorded: Recorded) -> bool:
    """The job went dead on the receiver's refusal (its kind's ``on_refused`` hook is told)."""
    return recorded.kept and recorded.outcome.status == "dead" and recorded.finished.refused


def tell_hooks(recorded: Recorded, registration: Registration) -> bool:
    """Tell the kind's hooks of a committed outcome: ``on_refused`` of a death on refusal,
    ``on_delivered`` of a delivery; whether one ran (it may have changed the queue)."""
    delivery = recorded.finished.delivery
    if dead_on_refusal(recorded):
        return registration.tell_refused(delivery)
    if recorded.kept and recorded.outcome.status == "delivered":
        return registration.tell_delivered(delivery)
    return False


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
    # a dead job's line names what a delivered one does: IT is alerted on it, and the stay
    # and msgid say which record to correct and re-send
    fields = {
        "job_id": job_id,
        "kind": kind,
        "encounter": item.delivery.ordering_key,
        "msgid": item.delivery.payload.get("msgid", item.delivery.idempotency_key),
        "attempt": item.delivery.attempt,
    }
    if outcome.status == "delivered":
        log.info("job_delivered", extra=fields)
    if outcome.status == "dead":
        log.error(
            "job_dead job_id=%s kind=%s error=%s",
            job_id,
            kind,
            outcome.error,
            extra={"event": "job_dead", **fields, "error": outcome.error},
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
        series = m.of_kind(kind)
        series.delivered.inc()
        if created_at is not None:
            series.delivery_latency.observe(max((item.finished - created_at).total_seconds(), 0.0))
        left = (item.delivery.deadline - item.finished).total_seconds()
        series.time_to_deadline.observe(max(left, 0.0))
        if left < 0:
            series.deadline_missed.inc()
        return
    m.failed.labels(kind=kind, error_kind=result).inc()
    if status == "dead":
        m.dead.labels(kind=kind).inc()
