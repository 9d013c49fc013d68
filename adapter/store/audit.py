"""The audit log: append-only and tamper-evident (a SHA-256 hash chain).

Each entry's ``hash`` is SHA-256 over the canonical JSON (sorted keys, no spaces, UTF-8) of
the entry — seq, at, actor, role, action, subject, details — together with ``prev_hash``, the
hash of the entry before it (64 zeros for the first). Editing an entry changes its hash;
deleting or reordering entries breaks a ``prev_hash`` link or the contiguous ``seq``; deleting
the newest entries leaves the chain shorter than the head row says. :func:`verify` reports
the first entry where any of these shows.

Appends run in the caller's transaction, so an action and its audit entry commit together.
The single ``audit_head`` row is updated first (``INSERT … ON CONFLICT DO UPDATE … RETURNING``):
that takes a row lock on PostgreSQL and the write lock on SQLite, so concurrent appends queue
behind each other and the chain never forks.

``details`` must already be masked by the caller (citizen IDs, card numbers, phones: see
:mod:`adapter.domain.people`); the log keeps exactly what it is given.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from adapter.domain.ports import Clock
from adapter.store.sql import table
from adapter.store.tables import AuditEntryRow, AuditHeadRow

GENESIS = "0" * 64
_log = table(AuditEntryRow)
_head = table(AuditHeadRow)


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: datetime
    actor: str
    role: str
    action: str
    subject_type: str
    subject_id: str
    details: Mapping[str, Any]
    prev_hash: str
    hash: str


def canonical(value: Any) -> str:
    """The one JSON text hashed and stored: sorted keys, compact, non-ASCII kept as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def entry_hash(
    *,
    seq: int,
    at: datetime,
    actor: str,
    role: str,
    action: str,
    subject_type: str,
    subject_id: str,
    details: str,
    prev_hash: str,
) -> str:
    body = {
        "seq": seq,
        "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": actor,
        "role": role,
        "action": action,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "details": json.loads(details),
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical(body).encode("utf-8")).hexdigest()


def _claim(insert: Any) -> Any:
    """Take the next seq and the previous hash (the head row, created on first use)."""
    return (
        insert(_head)
        .values(id=1, seq=1, hash=GENESIS)
        .on_conflict_do_update(index_elements=["id"], set_={"seq": _head.c.seq + 1})
        .returning(_head.c.seq, _head.c.hash)
    )


# Built once (every use case appends; building a statement costs more than running it):
# ``_CLAIM[is_postgresql]``; the entry's and the head's columns come with each execution.
_CLAIM = {False: _claim(sqlite.insert), True: _claim(postgresql.insert)}
_INSERT_ENTRY = _log.insert()
_SET_HEAD = _head.update().where(_head.c.id == 1)


class AuditLog:
    """The audit log as seen from inside a unit of work."""

    def __init__(self, session: Session, clock: Clock):
        self._session = session
        self._clock = clock

    def append(
        self,
        *,
        actor: str,
        action: str,
        role: str = "",
        subject_type: str = "",
        subject_id: str = "",
        details: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        """Append one entry in the current transaction; it exists only if the caller commits."""
        at = self._clock.now().astimezone(UTC)
        text = canonical(dict(details or {}))
        claim = _CLAIM[self._session.get_bind().dialect.name == "postgresql"]
        seq, prev_hash = self._session.execute(claim).one()
        values = {
            "seq": seq,
            "at": at,
            "actor": actor,
            "role": role,
            "action": action,
            "subject_type": subject_type,
            "subject_id": subject_id,
            "details": text,
            "prev_hash": prev_hash,
        }
        digest = entry_hash(**values)
        self._session.execute(_INSERT_ENTRY, {**values, "hash": digest})
        self._session.execute(_SET_HEAD, {"hash": digest})
        return AuditEntry(**{**values, "details": json.loads(text)}, hash=digest)

    def query(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        subject_type: str | None = None,
        subject_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 200,
    ) -> list[AuditEntry]:
        """Entries matching every given filter, oldest first; ``until`` is exclusive."""
        query = select(_log)
        for column, wanted in (
            (_log.c.actor, actor),
            (_log.c.action, action),
            (_log.c.subject_type, subject_type),
            (_log.c.subject_id, subject_id),
        ):
            if wanted is not None:
                query = query.where(column == wanted)
        if since is not None:
            query = query.where(_log.c.at >= since)
        if until is not None:
            query = query.where(_log.c.at < until)
        rows = self._session.execute(query.order_by(_log.c.seq).limit(limit))
        return [_entry(row) for row in rows]


def _entry(row: Any) -> AuditEntry:
    return AuditEntry(
        seq=row.seq,
        at=row.at,
        actor=row.actor,
        role=row.role,
        action=row.action,
        subject_type=row.subject_type,
        subject_id=row.subject_id,
        details=json.loads(row.details),
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


@dataclass(frozen=True)
class Verification:
    """The outcome of :func:`verify`: ``ok``, how many entries were checked, and where the
    chain first breaks (``broken_seq``, the entry's seq, or the expected one when missing)."""

    ok: bool
    checked: int
    broken_seq: int | None = None
    problem: str = ""


def verify(engine: Engine, *, batch: int = 5000) -> Verification:
    """Walk the whole chain in seq order and report the first broken entry."""
    expected_seq, prev_hash, checked = 1, GENESIS, 0
    with Session(engine) as session:
        head = session.execute(select(_head.c.seq, _head.c.hash)).one_or_none()
        after = 0
        while True:
            rows = list(
                session.execute(
                    select(_log).where(_log.c.seq > after).order_by(_log.c.seq).limit(batch)
                )
            )
            if not rows:
                break
            for row in rows:
                if row.seq != expected_seq:
                    return Verification(
                        False, checked, expected_seq, f"entry {expected_seq} is missing"
                    )
                if row.prev_hash != prev_hash:
                    return Verification(
                        False, checked, row.seq, f"entry {row.seq} does not follow its predecessor"
                    )
                recomputed = entry_hash(
                    seq=row.seq,
                    at=row.at,
                    actor=row.actor,
                    role=row.role,
                    action=row.action,
                    subject_type=row.subject_type,
                    subject_id=row.subject_id,
                    details=row.details,
                    prev_hash=row.prev_hash,
                )
                if recomputed != row.hash:
                    return Verification(False, checked, row.seq, f"entry {row.seq} was altered")
                checked += 1
                expected_seq, prev_hash = row.seq + 1, row.hash
            after = rows[-1].seq
    head_seq, head_hash = head if head else (0, GENESIS)
    if head_seq != checked or head_hash != prev_hash:
        return Verification(
            False, checked, checked + 1, f"the log ends at {checked} but its head says {head_seq}"
        )
    return Verification(True, checked)
