"""The delivery ledger: the queue never forgets that a job was delivered.

A job's row, payload and attempt history are purged after the retention
(:func:`upload_queue.admin.purge`); the fact of its delivery is not. When a worker records a
delivery it also writes one compact :class:`LedgerEntry` in the same transaction (kind,
ordering key, idempotency key, the reference it was sent under, when, upstream's reply), and
the purge first writes the entry of any delivered job that lacks one. Entries are kept for
``months`` (at least :data:`MIN_MONTHS`: the clearing of a year reaches well into the next)
and trimmed only by :func:`trim`.

A handler may return a :class:`Receipt` to fill in the reference and upstream's reply;
otherwise the reference is the idempotency key and the reply is empty.

Readers: :func:`delivered` / :func:`delivered_keys` (was the job with this key delivered,
purged or not?) and :func:`deliveries` (the entries of some kinds since a time).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, exists, select

from upload_queue.jobs import Delivery
from upload_queue.tables import upload_delivery, upload_job
from upload_queue.transactions import begin_write, write_transaction

MIN_MONTHS = 18
DEFAULT_MONTHS = 24
CHUNK = 500  # SQLite limits bound parameters


@dataclass(frozen=True)
class Receipt:
    """What a handler may return on success: the reference the job was sent under (e.g. the
    upstream ``msgid``, which a corrected re-send may have changed) and upstream's reply."""

    reference: str = ""
    reply_code: str = ""
    reply_ref: str = ""


@dataclass(frozen=True)
class LedgerEntry:
    job_id: int
    kind: str
    ordering_key: str | None
    idempotency_key: str
    reference: str
    delivered_at: datetime
    reply_code: str
    reply_ref: str


ENTRY_COLUMNS = (
    "job_id",
    "kind",
    "ordering_key",
    "idempotency_key",
    "reference",
    "delivered_at",
    "reply_code",
    "reply_ref",
)
"""The columns a delivery writes in the ledger: :func:`entry_values` and the batched
statement of :mod:`upload_queue.outcomes` both write exactly these."""


def entry_values(delivery: Delivery, at: datetime, receipt: Receipt | None) -> dict[str, Any]:
    """The ledger row of a delivery (the values of :data:`ENTRY_COLUMNS`)."""
    receipt = receipt or Receipt()
    values = (
        delivery.job_id,
        delivery.kind,
        delivery.ordering_key,
        delivery.idempotency_key,
        (receipt.reference or delivery.idempotency_key)[:200],
        at,
        receipt.reply_code[:32],
        receipt.reply_ref[:200],
    )
    return dict(zip(ENTRY_COLUMNS, values, strict=True))


def record(
    connection: Connection, delivery: Delivery, at: datetime, receipt: Receipt | None
) -> None:
    """Write the entry of a delivery, in the caller's transaction (the worker's)."""
    connection.execute(upload_delivery.insert().values(**entry_values(delivery, at, receipt)))


def backfill(connection: Connection, job_ids: Sequence[int]) -> int:
    """Write the entries of delivered jobs among ``job_ids`` that have none (jobs delivered
    before the ledger existed); give how many were written."""
    written = 0
    for start in range(0, len(job_ids), CHUNK):
        chunk = list(job_ids[start : start + CHUNK])
        missing = connection.execute(
            select(upload_job).where(
                upload_job.c.id.in_(chunk),
                upload_job.c.status == "delivered",
                ~exists().where(
                    and_(
                        upload_delivery.c.job_id == upload_job.c.id,
                        upload_delivery.c.idempotency_key == upload_job.c.idempotency_key,
                    )
                ),
            )
        ).mappings()
        rows = [
            {
                "job_id": row["id"],
                "kind": row["kind"],
                "ordering_key": row["ordering_key"],
                "idempotency_key": row["idempotency_key"],
                "reference": str(row["payload"].get("msgid") or row["idempotency_key"])[:200]
                if isinstance(row["payload"], dict)
                else row["idempotency_key"],
                "delivered_at": row["delivered_at"],
                "reply_code": "",
                "reply_ref": "",
            }
            for row in missing
        ]
        if rows:
            connection.execute(upload_delivery.insert(), rows)
            written += len(rows)
    return written


def delivered_keys(connection: Connection, keys: Iterable[str]) -> set[str]:
    """Those of ``keys`` whose job was delivered: in the ledger, or (not yet in it) a job
    marked delivered."""
    wanted = list(dict.fromkeys(k for k in keys if k))
    found: set[str] = set()
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        found.update(
            connection.execute(
                select(upload_delivery.c.idempotency_key).where(
                    upload_delivery.c.idempotency_key.in_(chunk)
                )
            ).scalars()
        )
        rest = [k for k in chunk if k not in found]
        if rest:
            found.update(
                connection.execute(
                    select(upload_job.c.idempotency_key).where(
                        upload_job.c.idempotency_key.in_(rest), upload_job.c.status == "delivered"
                    )
                ).scalars()
            )
    return found


def delivered(connection: Connection, key: str) -> bool:
    """Was the job with idempotency key ``key`` delivered (purged since or not)?"""
    return key in delivered_keys(connection, [key])


def deliveries(
    connection: Connection, *, kinds: Iterable[str], since: datetime
) -> list[LedgerEntry]:
    """The entries of ``kinds`` delivered at or after ``since``, oldest first."""
    rows = connection.execute(
        select(upload_delivery)
        .where(upload_delivery.c.kind.in_(list(kinds)), upload_delivery.c.delivered_at >= since)
        .order_by(upload_delivery.c.delivered_at, upload_delivery.c.id)
    ).mappings()
    return [_entry(row) for row in rows]


def entries_for(connection: Connection, keys: Iterable[str]) -> dict[str, LedgerEntry]:
    """The latest entry of each of ``keys`` that has one."""
    wanted = list(dict.fromkeys(k for k in keys if k))
    found: dict[str, LedgerEntry] = {}
    for start in range(0, len(wanted), CHUNK):
        rows = connection.execute(
            select(upload_delivery)
            .where(upload_delivery.c.idempotency_key.in_(wanted[start : start + CHUNK]))
            .order_by(upload_delivery.c.id)
        ).mappings()
        found.update((row["idempotency_key"], _entry(row)) for row in rows)
    return found


def _entry(row: Any) -> LedgerEntry:
    return LedgerEntry(
        row["job_id"],
        row["kind"],
        row["ordering_key"],
        row["idempotency_key"],
        row["reference"],
        row["delivered_at"],
        row["reply_code"],
        row["reply_ref"],
    )


def months_before(moment: datetime, months: int) -> datetime:
    """``moment`` ``months`` calendar months earlier (the day clamped to the 28th)."""
    index = moment.year * 12 + moment.month - 1 - months
    return moment.replace(year=index // 12, month=index % 12 + 1, day=min(moment.day, 28))


def check_months(months: int) -> int:
    if months < MIN_MONTHS:
        raise ValueError(
            f"the delivery ledger is kept at least {MIN_MONTHS} months "
            f"(the clearing of a year reaches well into the next); got {months}"
        )
    return months


def trim(engine: Engine, months: int, now: datetime) -> int:
    """Delete entries delivered more than ``months`` (≥ :data:`MIN_MONTHS`) ago; the count."""
    cutoff = months_before(now, check_months(months))
    with begin_write(engine) as connection, write_transaction(connection):
        done = connection.execute(
            delete(upload_delivery).where(upload_delivery.c.delivered_at < cutoff)
        )
    return int(done.rowcount or 0)


def oldest_kept(now: datetime, months: int) -> date:
    """The first day whose deliveries a ledger of ``months`` still holds."""
    return months_before(now, check_months(months)).date()
