"""Where some jobs stand, by idempotency key, in a few statements: a caller's report of many
jobs (a month's reconciliation differences) is one look, not one per job.

:func:`progress_of` gives each key that names a job its :class:`Progress`: status, the
reference it was (or will be) sent under, attempts, when it is next tried, when it was
delivered, the last error, and the earlier job of its ordering key it waits behind. A job
purged after its delivery is still ``delivered``, from the delivery ledger (its job id,
reference and time kept there). A key naming no job, in the queue or the ledger, is left out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import Connection, select

from upload_queue import ledger
from upload_queue.deadlines import held_back
from upload_queue.tables import upload_job


@dataclass(frozen=True)
class Progress:
    job_id: int
    status: str  # pending, in_flight, delivered, dead, withdrawn
    reference: str  # the msgid it was (or is to be) sent under: a re-send may have changed it
    attempts: int  # every attempt ever made
    next_attempt_at: datetime | None  # pending: not before then
    delivered_at: datetime | None
    last_error: str  # dead: the receiver's reason; withdrawn: why
    held_back_by: int | None = None  # pending behind this earlier undelivered job of its key


def progress_of(connection: Connection, keys: Iterable[str]) -> dict[str, Progress]:
    """:class:`Progress` of each of ``keys`` that names a job (see the module)."""
    wanted = list(dict.fromkeys(k for k in keys if k))
    found: dict[str, Progress] = {}
    job = upload_job.c
    for start in range(0, len(wanted), ledger.CHUNK):
        rows = connection.execute(
            select(
                job.id, job.idempotency_key, job.status, job.payload, job.total_attempts,
                job.available_at, job.delivered_at, job.last_error,
            ).where(job.idempotency_key.in_(wanted[start : start + ledger.CHUNK]))
        )  # fmt: skip
        for row in rows:
            payload = row.payload if isinstance(row.payload, dict) else {}
            found[row.idempotency_key] = Progress(
                int(row.id), row.status, str(payload.get("msgid") or row.idempotency_key),
                int(row.total_attempts), row.available_at if row.status == "pending" else None,
                row.delivered_at, row.last_error or "",
            )  # fmt: skip
    # the ledger: when and under what a delivered job went, and the purged ones
    entries = ledger.entries_for(
        connection, [k for k in wanted if k not in found or found[k].status == "delivered"]
    )
    for key, entry in entries.items():
        had = found.get(key)
        found[key] = Progress(
            entry.job_id, "delivered", entry.reference or key,
            had.attempts if had else 0, None, entry.delivered_at, "",
        )  # fmt: skip
    waiting = [(p.job_id, key) for key, p in found.items() if p.status == "pending"]
    for start in range(0, len(waiting), ledger.CHUNK):
        chunk = dict(waiting[start : start + ledger.CHUNK])
        for job_id, first in held_back(connection, chunk).items():
            found[chunk[job_id]] = replace(found[chunk[job_id]], held_back_by=first)
    return found
