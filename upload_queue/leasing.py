"""Leasing: which job a worker may take next.

A lease marks a job ``in_flight`` for one worker until ``lease_expires_at``; the worker's
result counts only while it still holds the lease (checked by ``lease_token``). A job is
leasable when it is ``pending``, due (``available_at <= now``), and no earlier job (lower
``id``) of the same ordering key is ``pending``, ``in_flight`` or ``dead``. Leasable jobs are
taken earliest deadline first (ties: oldest first). Several jobs leased together never share
an ordering key: while the earlier one is still pending it blocks the later one.

Concurrency: on PostgreSQL candidates are selected ``FOR UPDATE SKIP LOCKED``, so several
workers and instances lease disjoint jobs without waiting on each other. On SQLite (one
instance) one leaser at a time holds the write lock (:mod:`upload_queue.transactions`).

A worker that holds leased jobs it has not started yet can renew their leases
(:func:`renew_on`) while it still holds them; a lease that ran out stays lost.

Getting back the jobs of lost workers is :mod:`upload_queue.recovery`.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
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
    Subquery,
    Update,
    any_,
    bindparam,
    exists,
    func,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY

from upload_queue.jobs import Delivery
from upload_queue.metrics import QueueMetrics
from upload_queue.recovery import release_expired
from upload_queue.retry import RetryPolicy
from upload_queue.tables import UTCDateTime, upload_job
from upload_queue.transactions import begin_write, write_transaction

__all__ = ["BLOCKING_STATUSES", "PAGES", "WINDOW", "Leased", "lease", "lease_on", "renew_on"]

BLOCKING_STATUSES = ("pending", "in_flight", "dead")


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
    upload_job.c.payload_revision,
)

_LEASE_VALUES: dict[str, Any] = {
    "status": "in_flight",
    "leased_by": bindparam("worker"),
    "lease_token": bindparam("token"),
    "leased_at": bindparam("now", type_=UTCDateTime()),
    "lease_expires_at": bindparam("expires", type_=UTCDateTime()),
    "attempts": upload_job.c.attempts + 1,
    "total_attempts": upload_job.c.total_attempts + 1,
}

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


def _leasable(
    kinds: bool, among: bool, postgresql: bool, *, among_rows: Subquery | None = None
) -> Select[Any]:
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
    # among ids: the earlier job of the key is found by ``upload_job_ordering`` alone (a
    # status index joined in scans every pending job when statistics are stale)
    earlier_status: ColumnElement[Any] = earlier.c.status.concat("") if among else earlier.c.status
    blocked = exists().where(
        earlier.c.ordering_key == upload_job.c.ordering_key,
        earlier.c.id < upload_job.c.id,
        earlier_status.in_(BLOCKING_STATUSES),
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
    if among_rows is not None:
        # Joined, and taken in the window's own (deadline, id) order: the rows are then
        # checked and locked one by one until ``:limit`` are held, not all sorted first.
        statement = (
            statement.join_from(upload_job, among_rows, among_rows.c.id == upload_job.c.id)
            .order_by(None)
            .order_by(among_rows.c.deadline, among_rows.c.id)
        )
    elif among:
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
        .values(_LEASE_VALUES)
        .returning(*_LEASED_COLUMNS)
    )
    return pick, take


@lru_cache(maxsize=8)
def _windowed(kinds: bool) -> tuple[Update, Select[Any]]:
    """PostgreSQL: the lease in one statement, and the window it looked at.

    ``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED LIMIT :limit) RETURNING``,
    the candidates being the first ``:window`` pending jobs in deadline order (a CTE read
    from the partial index ``upload_job_pending_edf``; whatever the planner's statistics
    say, that is a short ordered index scan), and of those the oldest of each ordering key
    (the others wait behind it): the ordering-key test runs on those rows only, in deadline
    order, until ``:limit`` are locked (the window's rows are not all checked and sorted
    first). ``seen``,
    returned on each row, says how many pending jobs the window held: a full window that
    gave fewer than ``:limit`` jobs sends the caller to page further.
    """
    window = (
        select(upload_job.c.id, upload_job.c.ordering_key, upload_job.c.deadline)
        .where(upload_job.c.status == "pending")
        .order_by(upload_job.c.deadline, upload_job.c.id)
        .limit(bindparam("window", type_=Integer()))
        .cte("lease_window")
    )
    # Of the window's jobs of one ordering key only the oldest can be leasable (it, pending,
    # holds back the others): the ordering-key test runs on those alone.
    first = func.row_number().over(partition_by=window.c.ordering_key, order_by=window.c.id)
    heads = select(
        window.c.id, window.c.ordering_key, window.c.deadline, first.label("nth")
    ).subquery("heads")
    candidates = (
        select(heads.c.id, heads.c.deadline)
        .where(or_(heads.c.nth == 1, heads.c.ordering_key.is_(None)))
        .order_by(heads.c.deadline, heads.c.id)
        .subquery("candidates")
    )
    pick = _leasable(kinds, True, True, among_rows=candidates)
    seen = select(func.count()).select_from(window).scalar_subquery()
    take = (
        update(upload_job)
        .where(upload_job.c.id.in_(pick.scalar_subquery()))
        .values(_LEASE_VALUES)
        .returning(*_LEASED_COLUMNS, seen.label("seen"))
    )
    return take, select(seen)


@dataclass(frozen=True)
class Leased:
    """A leased job: the :class:`Delivery` for its handler, and the bookkeeping the worker
    needs to record the outcome without reading the row again (unchanged while leased)."""

    delivery: Delivery
    attempts: int
    round_started_at: datetime
    created_at: datetime
    expires: datetime  # the lease's end (``lease_expires_at``) as leased or last renewed


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
    if postgresql:
        # one statement per batch; paging below only when a full window fell short
        size = max(4 * WINDOW, 8 * limit)
        windowed, seen = _windowed(kinds is not None)
        rows = list(
            connection.execute(windowed, {**params, "limit": limit, "window": size}).mappings()
        )
        if len(rows) >= limit:
            return _leased(rows, token, params["expires"])
        held = rows[0]["seen"] if rows else connection.execute(seen, {"window": size}).scalar_one()
        if held < size:
            return _leased(rows, token, params["expires"])
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
    return _leased(rows, token, params["expires"])


def _leased(rows: list[Any], token: str, expires: datetime) -> list[Leased]:
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
                payload_revision=row["payload_revision"],
            ),
            attempts=row["attempts"],
            round_started_at=row["round_started_at"],
            created_at=row["created_at"],
            expires=expires,
        )
        for row in sorted(rows, key=lambda r: (r["deadline"], r["id"]))
    ]


# A renewal names each job with the lease it is held by: a job this worker leased again under
# a new token (its old lease ran out and came back) is not renewed through the old one.
_RENEW = (
    update(upload_job)
    .where(
        tuple_(upload_job.c.id, upload_job.c.lease_token).in_(bindparam("held", expanding=True)),
        upload_job.c.status == "in_flight",
        upload_job.c.lease_expires_at > bindparam("now", type_=UTCDateTime()),
    )
    .values(lease_expires_at=bindparam("expires", type_=UTCDateTime()))
    .returning(upload_job.c.id, upload_job.c.lease_token)
)


def renew_on(
    connection: Connection, items: Sequence[Leased], now: datetime, *, lease_for: timedelta
) -> list[Leased]:
    """Extend to ``now + lease_for`` the leases of ``items`` still held at ``now`` (same token,
    not yet expired), in the caller's open write transaction; return those, in order.

    A lease that ran out is not renewed even if nobody took the job yet: from its expiry on,
    any worker may return it to the queue and lease it again.
    """
    if not items:
        return []
    expires = now + lease_for
    held = [(item.delivery.job_id, item.delivery.lease_token) for item in items]
    params = {"held": held, "now": now, "expires": expires}
    kept = {(row.id, row.lease_token) for row in connection.execute(_RENEW, params)}
    return [
        replace(item, expires=expires)
        for item in items
        if (item.delivery.job_id, item.delivery.lease_token) in kept
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
        metrics.of_kind(item.delivery.kind).attempts.inc()
    return [item.delivery for item in leased]
