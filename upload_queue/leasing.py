"""Leasing: which job a worker may take next, and getting back the jobs of lost workers.

A lease marks a job ``in_flight`` for one worker until ``lease_expires_at``; the worker's
result counts only while it still holds the lease (checked by ``lease_token``). A job is
leasable when it is ``pending``, due (``available_at <= now``), and no earlier job (lower
``id``) of the same ordering key is ``pending``, ``in_flight`` or ``dead``. Leasable jobs are
taken earliest deadline first (ties: oldest first). Several jobs leased together never share
an ordering key: while the earlier one is still pending it blocks the later one.

Concurrency: on PostgreSQL candidates are selected ``FOR UPDATE SKIP LOCKED``, so several
workers and instances lease disjoint jobs without waiting on each other. On SQLite (one
instance) the transaction starts with ``BEGIN IMMEDIATE``, so one leaser at a time holds the
write lock from its first read; :func:`write_transaction` also serializes the queue's own
writers of one SQLite file inside the process, so they queue on a lock instead of polling
SQLite's busy handler (which sleeps up to 100 ms between tries).

Recovery: a lease that expired (a worker crashed or hung) is closed with a
``lease_expired`` attempt and its job returns to ``pending`` at once (or goes ``dead`` if
the retry policy says the job has had enough attempts). :func:`recover` also releases, at
start-up, jobs still leased by this instance's own worker ids, expired or not.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Engine,
    Integer,
    Select,
    String,
    Update,
    and_,
    any_,
    bindparam,
    exists,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY

from upload_queue.jobs import Delivery
from upload_queue.metrics import QueueMetrics
from upload_queue.retry import DEAD, RetryPolicy
from upload_queue.tables import UTCDateTime, upload_attempt, upload_job

BLOCKING_STATUSES = ("pending", "in_flight", "dead")


def begin_write(engine: Engine) -> Connection:
    """A connection whose transactions take the write lock up front on SQLite."""
    connection = engine.connect()
    if connection.dialect.name == "sqlite":
        connection.execution_options(sqlite_begin="IMMEDIATE")
    return connection


_file_locks: dict[str, threading.Lock] = {}
_file_locks_guard = threading.Lock()


def _process_lock(connection: Connection) -> threading.Lock | None:
    """The in-process lock of this SQLite database file (``None`` on PostgreSQL)."""
    if connection.dialect.name != "sqlite":
        return None
    name = connection.engine.url.database or ":memory:"
    with _file_locks_guard:
        return _file_locks.setdefault(name, threading.Lock())


@contextmanager
def write_transaction(connection: Connection) -> Iterator[Connection]:
    """A transaction on ``connection`` (from :func:`begin_write`) that commits on success.

    On SQLite the queue's own writers of one file take turns on an in-process lock first.
    """
    lock = _process_lock(connection)
    if lock is None:
        with connection.begin():
            yield connection
        return
    with lock, connection.begin():
        yield connection


def _lockable(statement: Select[Any], connection: Connection) -> Select[Any]:
    if connection.dialect.name == "postgresql":
        return statement.with_for_update(skip_locked=True, of=upload_job)
    return statement


WINDOW = 32
"""How many pending jobs, earliest deadline first, a lease looks at before it looks at all."""

# Leasing runs once or more per delivery: its statements are built once (values are bound
# per call, ``expanding`` for lists), so each call only binds and runs cached SQL.
_LEASED_COLUMNS = (
    upload_job.c.id,
    upload_job.c.kind,
    upload_job.c.payload,
    upload_job.c.idempotency_key,
    upload_job.c.ordering_key,
    upload_job.c.deadline,
    upload_job.c.created_at,
    upload_job.c.attempts,
    upload_job.c.total_attempts,
    upload_job.c.round_started_at,
)

PAGES = 4
"""How many windows a lease pages through before it looks at all pending jobs at once."""

_PENDING = (
    select(upload_job.c.id, upload_job.c.deadline)
    .where(upload_job.c.status == "pending")
    .order_by(upload_job.c.deadline, upload_job.c.id)
    .limit(WINDOW)
)
_AFTER = bindparam("after_deadline", type_=UTCDateTime())
_PENDING_AFTER = _PENDING.where(  # the next window: keyset paging on (deadline, id)
    upload_job.c.deadline >= _AFTER,
    or_(upload_job.c.deadline > _AFTER, upload_job.c.id > bindparam("after_id")),
)


def _leasable(kinds: bool, among: bool, postgresql: bool) -> Select[Any]:
    """The next ``:limit`` leasable jobs at ``:now``, earliest deadline first; of ``:kinds``
    if ``kinds``; only among the ids ``:among`` if ``among``; on PostgreSQL, locked
    ``FOR UPDATE SKIP LOCKED``.

    With ``among``, the status and kind tests are written so that no index serves them
    (``status || ''``): the planner then reads just those rows by primary key. Otherwise,
    when its statistics say few jobs are pending (a fresh table, or a big table after an
    outage), SQLite and PostgreSQL walk a status index and run the ordering-key test on
    every pending job — tens of milliseconds per lease with 10,000 waiting.
    """
    earlier = upload_job.alias("earlier")
    blocked = exists().where(
        earlier.c.ordering_key == upload_job.c.ordering_key,
        earlier.c.id < upload_job.c.id,
        earlier.c.status.in_(BLOCKING_STATUSES),
    )
    status: ColumnElement[Any] = upload_job.c.status
    kind: ColumnElement[Any] = upload_job.c.kind
    if among:
        status, kind = status.concat(""), kind.concat("")
    statement = (
        select(upload_job.c.id)
        .where(
            status == "pending",
            upload_job.c.available_at <= bindparam("now", type_=UTCDateTime()),
            or_(upload_job.c.ordering_key.is_(None), ~blocked),
        )
        .order_by(upload_job.c.deadline, upload_job.c.id)
        .limit(bindparam("limit", type_=Integer()))
    )
    # PostgreSQL gets arrays (one SQL text whatever the length, so its plans are reused);
    # SQLite, which has none, an IN list.
    if kinds:
        statement = statement.where(
            kind == any_(bindparam("kinds", type_=ARRAY(String())))
            if postgresql
            else kind.in_(bindparam("kinds", expanding=True))
        )
    if among:
        statement = statement.where(
            upload_job.c.id == any_(bindparam("among", type_=ARRAY(BigInteger())))
            if postgresql
            else upload_job.c.id.in_(bindparam("among", expanding=True))
        )
    if postgresql:
        statement = statement.with_for_update(skip_locked=True, of=upload_job)
    return statement


@lru_cache(maxsize=16)
def _statements(kinds: bool, among: bool, postgresql: bool) -> tuple[Select[Any], Update]:
    """(the leasable ids, the lease of those ids returning what a delivery needs)."""
    pick = _leasable(kinds, among, postgresql)
    take = (
        update(upload_job)
        .where(upload_job.c.id.in_(pick.scalar_subquery()))
        .values(
            status="in_flight",
            leased_by=bindparam("worker"),
            lease_token=bindparam("token"),
            leased_at=bindparam("now", type_=UTCDateTime()),
            lease_expires_at=bindparam("expires", type_=UTCDateTime()),
            attempts=upload_job.c.attempts + 1,
            total_attempts=upload_job.c.total_attempts + 1,
        )
        .returning(*_LEASED_COLUMNS)
    )
    return pick, take


def leasable_ids(
    connection: Connection, now: datetime, limit: int, kinds: Iterable[str] | None = None
) -> list[int]:
    """Ids of the jobs to lease next, earliest deadline first (locked on PostgreSQL).

    ``kinds`` limits the choice to kinds this worker can deliver (``None``: any kind); a job
    of another kind stays pending, and still holds back later jobs of its ordering key.
    """
    pick, _ = _statements(kinds is not None, False, connection.dialect.name == "postgresql")
    params: dict[str, Any] = {"now": now, "limit": limit}
    if kinds is not None:
        params["kinds"] = sorted(kinds)
    return list(connection.execute(pick, params).scalars())


@dataclass(frozen=True)
class Leased:
    """A leased job: the :class:`Delivery` for its handler, and the bookkeeping the worker
    needs to record the outcome without reading the row again (unchanged while leased)."""

    delivery: Delivery
    attempts: int
    round_started_at: datetime
    created_at: datetime


def lease_on(
    connection: Connection,
    worker_id: str,
    now: datetime,
    *,
    lease_for: timedelta,
    limit: int,
    kinds: Iterable[str] | None = None,
) -> list[Leased]:
    """Lease up to ``limit`` jobs in the caller's open write transaction.

    Returns them earliest deadline first. The caller counts the attempts once it commits.
    """
    if limit < 1:
        return []
    token = secrets.token_hex(16)
    postgresql = connection.dialect.name == "postgresql"
    params: dict[str, Any] = {
        "now": now,
        "worker": worker_id,
        "token": token,
        "expires": now + lease_for,
    }
    if kinds is not None:
        params["kinds"] = sorted(kinds)

    def take(count: int, among: list[int] | None) -> list[Any]:
        _, statement = _statements(kinds is not None, among is not None, postgresql)
        extra = {"limit": count} if among is None else {"limit": count, "among": among}
        return list(connection.execute(statement, {**params, **extra}).mappings())

    # The leasable jobs that come first are among the first pending ones in deadline order:
    # look a window at a time (other workers' leases under way, back-off, a key's earlier
    # job can make a window fall short), and after PAGES windows at all pending jobs at once.
    # Either way the result is the first ``limit`` leasable jobs.
    rows: list[Any] = []
    window: list[Any] = []
    for page in range(PAGES):
        if page == 0:
            window = list(connection.execute(_PENDING))
        else:
            last_id, last_deadline = window[-1]
            after = {"after_deadline": last_deadline, "after_id": last_id}
            window = list(connection.execute(_PENDING_AFTER, after))
        if window:
            rows += take(limit - len(rows), [job_id for job_id, _ in window])
        if len(rows) >= limit or len(window) < WINDOW:
            break
    else:
        rows += take(limit - len(rows), None)
    return [
        Leased(
            Delivery(
                job_id=row["id"],
                kind=row["kind"],
                payload=row["payload"],
                idempotency_key=row["idempotency_key"],
                attempt=row["total_attempts"],
                deadline=row["deadline"],
                ordering_key=row["ordering_key"],
                lease_token=token,
            ),
            attempts=row["attempts"],
            round_started_at=row["round_started_at"],
            created_at=row["created_at"],
        )
        for row in sorted(rows, key=lambda r: (r["deadline"], r["id"]))
    ]


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
    with begin_write(engine) as connection, write_transaction(connection):
        release_expired(connection, now, policy, metrics)
        leased = lease_on(connection, worker_id, now, lease_for=lease_for, limit=limit, kinds=kinds)
    for item in leased:
        metrics.attempts.labels(kind=item.delivery.kind).inc()
    return [item.delivery for item in leased]


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
            )
        )
        metrics.lease_expired.labels(kind=row["kind"]).inc()
        if verdict is DEAD:
            metrics.dead.labels(kind=row["kind"]).inc()
        released.append(row["id"])
    return released
