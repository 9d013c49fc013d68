"""The invariants a soak checks, as a pure function of one snapshot of the system.

A :class:`Snapshot` is read from the adapter's database and the simulator's inspection
endpoint (``/_sim/received``: one record per msgid that took effect upstream, however often
it was re-sent). :func:`violations` compares them and names every breach; it reads nothing
itself, so a test can hand it a deliberately broken snapshot.

* every settlement the desk was given (201) is in the database, settled, with its total;
  no encounter has two active settlements;
* every upload job is delivered (none pending, in flight or dead), and each idempotency key
  (msgid) is queued once;
* upstream holds exactly the jobs' msgids — none missing (lost), none unknown — and every
  one took effect (a refusal would be a dead letter);
* each settlement has exactly one discharge record (WI2301) upstream: a second one under
  another msgid is a duplicate upstream would pay twice;
* the audit chain verifies.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, select

from adapter.store import audit
from adapter.store.sql import table
from adapter.store.tables import SettlementRow
from upload_queue.tables import upload_job

DISCHARGE = "WI2301"
SHOWN = 5  # examples named per violation; the count says how many in all


@dataclass(frozen=True)
class StoredSettlement:
    id: str
    encounter_id: str
    status: str
    total: Decimal


@dataclass(frozen=True)
class StoredJob:
    id: int
    kind: str
    status: str
    idempotency_key: str
    last_error: str | None = None


@dataclass
class Snapshot:
    acked: dict[str, Decimal]  # settlement id → total, as the desks were told (201)
    settlements: list[StoredSettlement]
    jobs: list[StoredJob]
    writes: list[dict[str, Any]]  # /_sim/received
    audit: audit.Verification
    notes: dict[str, int] = field(default_factory=dict)


def read_snapshot(
    engine: Engine, writes: list[dict[str, Any]], acked: dict[str, Decimal]
) -> Snapshot:
    """The database's side of a snapshot (no row limit: the soak's database grows)."""
    settlement = table(SettlementRow)
    with engine.connect() as connection:
        settlements = [
            StoredSettlement(row.id, row.encounter_id, row.status, Decimal(row.total))
            for row in connection.execute(
                select(
                    settlement.c.id,
                    settlement.c.encounter_id,
                    settlement.c.status,
                    settlement.c.total,
                )
            )
        ]
        jobs = [
            StoredJob(row.id, row.kind, row.status, row.idempotency_key, row.last_error)
            for row in connection.execute(
                select(
                    upload_job.c.id,
                    upload_job.c.kind,
                    upload_job.c.status,
                    upload_job.c.idempotency_key,
                    upload_job.c.last_error,
                )
            )
        ]
    return Snapshot(dict(acked), settlements, jobs, writes, audit.verify(engine))


def _named(items: list[Any]) -> str:
    shown = ", ".join(str(item) for item in items[:SHOWN])
    more = f" … and {len(items) - SHOWN} more" if len(items) > SHOWN else ""
    return shown + more


def violations(snapshot: Snapshot) -> list[str]:
    """Every breach of the invariants, one line each naming what was lost or duplicated."""
    found: list[str] = []
    stored = {s.id: s for s in snapshot.settlements}

    missing = sorted(i for i in snapshot.acked if i not in stored)
    if missing:
        found.append(
            f"LOST settlement: {len(missing)} acknowledged (201) but not stored: {_named(missing)}"
        )
    changed = [
        f"{i} ({stored[i].status}, total {stored[i].total} ≠ {total})"
        for i, total in sorted(snapshot.acked.items())
        if i in stored and (stored[i].status != "settled" or stored[i].total != total)
    ]
    if changed:
        found.append(f"CHANGED settlement: {len(changed)}: {_named(changed)}")
    active = Counter(s.encounter_id for s in snapshot.settlements if s.status == "settled")
    twice = sorted(f"encounter {e} ×{n}" for e, n in active.items() if n > 1)
    if twice:
        found.append(f"DUPLICATED settlement: {len(twice)}: {_named(twice)}")

    undelivered = sorted(
        f"job {j.id} {j.kind} {j.status}" + (f" ({j.last_error})" if j.last_error else "")
        for j in snapshot.jobs
        if j.status != "delivered"
    )
    if undelivered:
        found.append(f"UNDELIVERED upload: {len(undelivered)}: {_named(undelivered)}")
    keys = Counter(j.idempotency_key for j in snapshot.jobs)
    queued_twice = sorted(f"{k} ×{n}" for k, n in keys.items() if n > 1)
    if queued_twice:
        found.append(f"DUPLICATED upload job: {len(queued_twice)}: {_named(queued_twice)}")

    upstream = Counter(str(w["msgid"]) for w in snapshot.writes)
    kinds = {j.idempotency_key: j.kind for j in snapshot.jobs}
    lost = sorted(f"{kinds[k]} {k}" for k in keys if k not in upstream)
    if lost:
        found.append(f"LOST upload: {len(lost)} never reached upstream: {_named(lost)}")
    unknown = sorted(k for k in upstream if k not in keys)
    if unknown:
        found.append(
            f"UNKNOWN upload: {len(unknown)} msgids upstream with no job: {_named(unknown)}"
        )
    stored_twice = sorted(f"{k} ×{n}" for k, n in upstream.items() if n > 1)
    if stored_twice:
        found.append(
            f"DUPLICATED upload: {len(stored_twice)} msgids stored twice upstream: "
            f"{_named(stored_twice)}"
        )
    refused = sorted(
        f"{w['infno']} {w['msgid']}: {w.get('reply', {}).get('err_msg')}"
        for w in snapshot.writes
        if not w.get("took_effect", True)
    )
    if refused:
        found.append(f"REFUSED upload: {len(refused)}: {_named(refused)}")

    discharges: dict[str, list[str]] = defaultdict(list)
    for w in snapshot.writes:
        if w["infno"] == DISCHARGE:
            discharges[str(w["input"].get("setl_id", ""))].append(str(w["msgid"]))
    double = sorted(f"settlement {s}: {', '.join(m)}" for s, m in discharges.items() if len(m) > 1)
    if double:
        found.append(f"DUPLICATED discharge record ({DISCHARGE}): {len(double)}: {_named(double)}")
    settled = sorted(s.id for s in snapshot.settlements if s.status == "settled")
    no_record = [i for i in settled if i not in discharges]
    if no_record:
        found.append(
            f"LOST discharge record ({DISCHARGE}): {len(no_record)} settlements: "
            f"{_named(no_record)}"
        )

    if not snapshot.audit.ok:
        found.append(
            f"AUDIT chain broken at entry {snapshot.audit.broken_seq}: {snapshot.audit.problem}"
        )
    return found
