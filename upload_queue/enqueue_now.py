"""Enqueue one job on its own, committed on return (no caller transaction).

:func:`enqueue` in :mod:`upload_queue.enqueue` writes in the caller's transaction — the
outbox: the job exists if and only if the caller's own writes do. A caller with nothing
else to write (a tool, a re-send from outside a use case, the benchmark against pgqueuer)
has no transaction to join; :func:`enqueue_now` then writes the job by itself. The
``INSERT`` is atomic on its own, so on PostgreSQL it runs as **one autocommit statement**:
one round trip and one commit, where ``BEGIN``, ``INSERT``, ``COMMIT`` take three. Its
text is fixed, so psycopg prepares it after a few calls and each call only binds values.

Same contract as :func:`~upload_queue.enqueue.enqueue`: the idempotency key is unique (a
key already stored writes nothing and returns the job stored first), jobs of one ordering
key are delivered in the order their inserts commit. SQLite (and any driver without an
autocommit mode) takes the ordinary path in a short write transaction.
"""

from __future__ import annotations

import weakref
from datetime import datetime

from sqlalchemy import Engine, select

from upload_queue.clock import as_utc, utcnow
from upload_queue.enqueue import enqueue, insert_one
from upload_queue.jobs import Job, JobSpec
from upload_queue.metrics import QueueMetrics, metrics_for
from upload_queue.tables import upload_job
from upload_queue.transactions import begin_write, write_transaction

__all__ = ["enqueue_now"]

# One autocommit view of each engine (same pool): building it per call would cost more than
# the statement's own client-side work.
_autocommit: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()


def enqueue_now(
    engine: Engine,
    spec: JobSpec,
    *,
    now: datetime | None = None,
    metrics: QueueMetrics | None = None,
) -> Job:
    """Add ``spec`` and commit; return the stored job (new, or the one stored first)."""
    moment = as_utc(now) if now is not None else utcnow()
    counted = metrics or metrics_for()
    if engine.dialect.name != "postgresql":
        with begin_write(engine) as connection, write_transaction(connection):
            return enqueue(connection, spec, now=moment, metrics=counted)
    autocommit = _autocommit.get(engine)
    if autocommit is None:
        autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        _autocommit[engine] = autocommit
    with autocommit.connect() as connection:
        row = insert_one(connection, spec, moment)
        if row is None:  # the key is stored already (committed: the INSERT waited for it)
            stored = connection.execute(
                select(upload_job).where(upload_job.c.idempotency_key == spec.idempotency_key)
            )
            return Job.from_row(stored.mappings().one())
    # committed by the statement itself: count it now
    counted.enqueued.labels(kind=spec.kind).inc()
    return Job.from_row(row)
