"""Enqueue inside the caller's transaction (the transactional outbox).

``enqueue(connection_or_session, JobSpec(...))`` (or :func:`enqueue_many` for several jobs
in one ``INSERT``) writes the job with the caller's own
SQLAlchemy ``Connection`` or ORM ``Session``, in the caller's open transaction: the job
exists if and only if the caller commits. The queue opens no connection of its own here.

The idempotency key is unique: enqueueing a key that is already present writes nothing and
returns the job already stored (even if its payload differs — the first one wins). Jobs
of one ordering key are delivered in ``id`` order, which is the order of the inserts; a
caller that enqueues for one key from concurrent transactions must serialize those
transactions itself (the use cases do, by locking the encounter). After a delivered job is
purged its key can be enqueued again.

Since a key's jobs go in order, an earlier one not yet delivered is due when the earliest
due job queued after it is (:func:`inherit_deadlines`): a rehab plan due within a day,
followed by its stay's discharge record due in 30 minutes, is due in those 30 minutes —
else, in a backlog, it would wait behind every job due sooner, and the record behind it.
"""

from __future__ import annotations

import json
import weakref
from collections import Counter
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Text, func, select, text, type_coerce, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from upload_queue.clock import as_utc, utcnow
from upload_queue.jobs import Job, JobSpec
from upload_queue.metrics import QueueMetrics, metrics_for
from upload_queue.tables import upload_job


def enqueue(
    target: Connection | Session,
    spec: JobSpec,
    *,
    now: datetime | None = None,
    metrics: QueueMetrics | None = None,
) -> Job:
    """Add ``spec`` in the caller's transaction; return the stored job (new or existing)."""
    connection = target.connection() if isinstance(target, Session) else target
    moment = as_utc(now) if now is not None else utcnow()
    dialect = connection.dialect.name
    row: Any
    if dialect == "postgresql":
        row = insert_one(connection, spec, moment)
    else:
        values = _values(spec, moment)
        columns = list(upload_job.c)
        if spec.encoded is not None:  # the caller's one encoding: stored as is, not read back
            values["payload"] = type_coerce(spec.encoded, Text)
            columns = _RETURNED
        statement = (
            sqlite.insert(upload_job)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
        )
        row = connection.execute(statement.returning(*columns)).mappings().first()
    created = row is not None
    if row is not None and spec.encoded is not None and "payload" not in row:
        row = {**row, "payload": spec.payload}
    if row is None:
        row = (
            connection.execute(
                select(upload_job).where(upload_job.c.idempotency_key == spec.idempotency_key)
            )
            .mappings()
            .one()
        )
    if created:
        _count_on_commit(connection, metrics or metrics_for(), spec.kind)
        if dialect != "postgresql":  # there, the INSERT did (see _INSERT_ONE)
            inherit_deadlines(connection, [spec.ordering_key])
    return Job.from_row(row)


_later = upload_job.alias("later")
_EARLIEST_LATER = (
    select(func.min(_later.c.deadline))
    .where(_later.c.ordering_key == upload_job.c.ordering_key, _later.c.id > upload_job.c.id)
    .scalar_subquery()
)


def inherit_deadlines(connection: Connection, ordering_keys: Iterable[str | None]) -> bool:
    """Bring forward the deadline of each undelivered job of ``ordering_keys`` to the
    earliest deadline of the jobs queued after it under the same key: they cannot go before
    it, so it is due when they are (and the earliest-deadline-first lease takes it then)."""
    keys = sorted({key for key in ordering_keys if key is not None})
    if not keys:
        return False
    brought_forward = connection.execute(
        update(upload_job)
        .where(
            upload_job.c.ordering_key.in_(keys),
            upload_job.c.status.in_(("pending", "in_flight", "dead")),
            upload_job.c.deadline > _EARLIEST_LATER,
        )
        .values(deadline=_EARLIEST_LATER)
    )
    return brought_forward.rowcount > 0


# RETURNING without the payload when the caller encoded it: it has the payload already
_RETURNED = [column for column in upload_job.c if column.name != "payload"]

# PostgreSQL: one fixed SQL text (compiled once by SQLAlchemy, prepared by psycopg after a
# few calls): building the INSERT per call cost more client time than the round trip.
# The same statement brings forward the deadlines of the key's earlier undelivered jobs
# (:func:`inherit_deadlines`; the earlier ones already have theirs from the jobs after them).
_RETURNED_NAMES = ", ".join(column.name for column in upload_job.c if column.name != "payload")
_INSERT_ONE = text(
    "WITH inserted AS (INSERT INTO upload_job (kind, payload, idempotency_key, ordering_key, "
    "deadline, created_at, status, available_at, attempts, total_attempts, round_started_at) "
    "VALUES (:kind, CAST(:payload AS jsonb), :key, :ordering, :deadline, :now, 'pending', "
    ":now, 0, 0, :now) ON CONFLICT (idempotency_key) DO NOTHING RETURNING "
    + _RETURNED_NAMES
    + "), inherited AS (UPDATE upload_job SET deadline = inserted.deadline FROM inserted "
    "WHERE upload_job.ordering_key = inserted.ordering_key AND upload_job.id < inserted.id "
    "AND upload_job.status IN ('pending', 'in_flight', 'dead') "
    "AND upload_job.deadline > inserted.deadline) "
    "SELECT " + _RETURNED_NAMES + " FROM inserted"
).columns(*(column for column in upload_job.c if column.name != "payload"))


def insert_one(connection: Connection, spec: JobSpec, moment: datetime) -> dict[str, Any] | None:
    """PostgreSQL: insert ``spec`` unless its key is stored; the new row (its payload the
    JSON just written, decoded), or ``None`` when the key was taken."""
    if spec.encoded is not None:  # the caller's one encoding: stored as is, not decoded back
        payload = spec.encoded
    else:
        dumps = getattr(connection.dialect, "_json_serializer", None) or json.dumps
        payload = dumps(dict(spec.payload))
    params = {
        "kind": spec.kind,
        "payload": payload,
        "key": spec.idempotency_key,
        "ordering": spec.ordering_key,
        "deadline": spec.deadline,
        "now": moment,
    }
    row = connection.execute(_INSERT_ONE, params).mappings().first()
    if row is None:
        return None
    written = spec.payload if spec.encoded is not None else json.loads(payload)
    return {**row, "payload": written}


CHUNK = 500
"""Jobs per INSERT statement of :func:`enqueue_many` on SQLite (at most 32,766 bound values);
PostgreSQL takes any batch in one statement (arrays)."""


def enqueue_many(
    target: Connection | Session,
    specs: Iterable[JobSpec],
    *,
    now: datetime | None = None,
    metrics: QueueMetrics | None = None,
) -> list[Job]:
    """Add several jobs in the caller's transaction with one ``INSERT`` (per :data:`CHUNK`).

    The same contract as :func:`enqueue`, job by job: returns the stored job for each spec,
    in the order given; a key already stored (or repeated in ``specs``) writes nothing and
    returns the job stored first. Jobs get ids in the order given, so jobs of one ordering
    key are delivered in that order, after the key's jobs enqueued before (and are due when
    the earliest due of those after them is: :func:`inherit_deadlines`).
    """
    connection = target.connection() if isinstance(target, Session) else target
    moment = as_utc(now) if now is not None else utcnow()
    specs = list(specs)
    fresh: dict[str, JobSpec] = {}
    for spec in specs:
        fresh.setdefault(spec.idempotency_key, spec)
    stored: dict[str, Job] = {}
    created: Counter[str] = Counter()
    batch = list(fresh.values())
    on_postgresql = connection.dialect.name == "postgresql"
    size = len(batch) if on_postgresql else CHUNK
    for start in range(0, len(batch), max(size, 1)):
        chunk = batch[start : start + size]
        rows: Iterable[Any] = ()
        if on_postgresql:
            arrays = _arrays(connection, chunk, moment)
            written = dict(zip(arrays["keys"], arrays["payloads"], strict=True))
            for job_id, key in connection.execute(_UNNEST, arrays):
                job = _new_job(job_id, fresh[key], json.loads(written[key]), moment)
                stored[key] = job
                created[job.kind] += 1
        else:
            statement = (
                sqlite.insert(upload_job)
                .values([_values(spec, moment) for spec in chunk])
                .on_conflict_do_nothing(index_elements=["idempotency_key"])
                .returning(*upload_job.c)
            )
            rows = connection.execute(statement).mappings()
        for row in rows:
            job = Job.from_row(row)
            stored[job.idempotency_key] = job
            created[job.kind] += 1
        missing = [spec.idempotency_key for spec in chunk if spec.idempotency_key not in stored]
        if missing:
            existing = connection.execute(
                select(upload_job).where(upload_job.c.idempotency_key.in_(missing))
            ).mappings()
            for row in existing:
                job = Job.from_row(row)
                stored[job.idempotency_key] = job
    if created:
        counted = metrics or metrics_for()
        for kind, count in created.items():
            _count_on_commit(connection, counted, kind, count)
        if inherit_deadlines(connection, (spec.ordering_key for spec in batch)):
            _read_deadlines(connection, stored)
    return [stored[spec.idempotency_key] for spec in specs]


def _read_deadlines(connection: Connection, stored: dict[str, Job]) -> None:
    """The deadlines of ``stored`` as :func:`inherit_deadlines` left them."""
    ids = [job.id for job in stored.values()]
    deadlines: dict[int, datetime] = {}
    for start in range(0, len(ids), CHUNK):
        rows = connection.execute(
            select(upload_job.c.id, upload_job.c.deadline).where(
                upload_job.c.id.in_(ids[start : start + CHUNK])
            )
        )
        deadlines.update((job_id, deadline) for job_id, deadline in rows)
    for key, job in stored.items():
        stored[key] = replace(job, deadline=deadlines[job.id])


def _new_job(job_id: int, spec: JobSpec, payload: Any, moment: datetime) -> Job:
    """A job just inserted, as stored: only its id is read back (the rest is what was
    written; reading back and converting every column cost more than the insert itself)."""
    return Job(job_id, spec.kind, payload, spec.idempotency_key, spec.ordering_key,
               spec.deadline, moment, "pending", moment, 0, 0)  # fmt: skip


# PostgreSQL: one statement whatever the batch size (arrays, not one bind per value), so
# its text is compiled and planned once; rows are inserted, and get their ids, in order.
_UNNEST = text(
    "INSERT INTO upload_job (kind, payload, idempotency_key, ordering_key, deadline, "
    "created_at, status, available_at, attempts, total_attempts, round_started_at) "
    "SELECT k, CAST(p AS jsonb), i, o, d, :now, 'pending', :now, 0, 0, :now "
    "FROM unnest(CAST(:kinds AS text[]), CAST(:payloads AS text[]), CAST(:keys AS text[]), "
    "CAST(:orderings AS text[]), CAST(:deadlines AS timestamptz[])) "
    "WITH ORDINALITY AS given(k, p, i, o, d, n) ORDER BY n "
    "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id, idempotency_key"
)


def _arrays(connection: Connection, specs: list[JobSpec], moment: datetime) -> dict[str, Any]:
    dumps = getattr(connection.dialect, "_json_serializer", None) or json.dumps
    return {
        "now": moment,
        "kinds": [spec.kind for spec in specs],
        "payloads": [dumps(dict(spec.payload)) for spec in specs],
        "keys": [spec.idempotency_key for spec in specs],
        "orderings": [spec.ordering_key for spec in specs],
        "deadlines": [as_utc(spec.deadline) for spec in specs],
    }


def _values(spec: JobSpec, moment: datetime) -> dict[str, Any]:
    return {
        "kind": spec.kind,
        "payload": dict(spec.payload),
        "idempotency_key": spec.idempotency_key,
        "ordering_key": spec.ordering_key,
        "deadline": spec.deadline,
        "created_at": moment,
        "status": "pending",
        "available_at": moment,
        "attempts": 0,
        "total_attempts": 0,
        "round_started_at": moment,
    }


# Enqueued jobs are counted when the caller's transaction commits, not when it writes.
_pending: weakref.WeakKeyDictionary[Connection, tuple[QueueMetrics, Counter[str]]] = (
    weakref.WeakKeyDictionary()
)


def _count_on_commit(
    connection: Connection, metrics: QueueMetrics, kind: str, count: int = 1
) -> None:
    from sqlalchemy import event

    entry = _pending.get(connection)
    if entry is None or entry[0] is not metrics:
        if entry is not None:
            _flush(connection)
        entry = (metrics, Counter())
        _pending[connection] = entry
        if not event.contains(connection, "commit", _flush):
            event.listen(connection, "commit", _flush)
            event.listen(connection, "rollback", _forget)
    entry[1][kind] += count


def _flush(connection: Connection) -> None:
    entry = _pending.pop(connection, None)
    if entry is not None:
        metrics, counts = entry
        for kind, count in counts.items():
            metrics.enqueued.labels(kind=kind).inc(count)


def _forget(connection: Connection) -> None:
    _pending.pop(connection, None)
