"""The audit log: append-only and tamper-evident (a keyed hash chain).

Each entry's ``hash`` is HMAC-SHA256, under the key named by the entry's ``key_id``, over the
canonical JSON (sorted keys, no spaces, UTF-8) of the entry — seq, at, actor, role, action,
subject, details, key_id — together with ``prev_hash``, the hash of the entry before it (64
zeros for the first). The keys live in a file outside the database
(:mod:`adapter.store.audit_keys`), so someone who can write the database but not read that
file cannot recompute a valid chain after changing it. Entries written before the log was
keyed (``key_id`` empty, up to the key file's ``legacy-until``) are plain SHA-256 of the same
JSON without ``key_id``; an unkeyed entry after that point is reported.

Editing an entry changes its hash; deleting or reordering entries breaks a ``prev_hash`` link or
the contiguous ``seq``; deleting the newest entries leaves the chain shorter than the head row
says — unless the head row is rewritten too, which only the anchors written outside the database
reveal (:mod:`adapter.store.audit_anchor`; :func:`verify` takes them). :func:`verify` reports
the first entry where any of these shows.

The keyring is installed once per process (:func:`install_keyring`, at start-up); a process
that appends without one (a CLI command) loads it from the settings on first use.

Appends run in the caller's transaction, so an action and its audit entry commit together.
The single ``audit_head`` row is updated first (``INSERT … ON CONFLICT DO UPDATE … RETURNING``):
that takes a row lock on PostgreSQL and the write lock on SQLite, so concurrent appends queue
behind each other and the chain never forks.

``details`` should already be masked by the caller (citizen IDs, card numbers, phones: see
:mod:`adapter.domain.people`); :meth:`AuditRepository.append` masks them once more
(:func:`adapter.domain.masking.mask_body`), so free text a clerk typed — a claim's detail, a
revocation's reason — never keeps a citizen ID or a mobile number in full.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from adapter.domain.masking import mask_body
from adapter.domain.ports import Clock
from adapter.hot_sql import HotStatement
from adapter.store.audit_keys import AuditKeyError, AuditKeyring, open_keyring
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
    key_id: str = ""


_installed: AuditKeyring | None = None
_loading = threading.Lock()


def install_keyring(keyring: AuditKeyring | None) -> None:
    """Use ``keyring`` for every append in this process (start-up, tests)."""
    global _installed
    _installed = keyring


def installed_keyring(engine: Engine | None = None) -> AuditKeyring:
    """The process's keyring, loaded from the settings (``[audit] key_file``) on first use."""
    global _installed
    if _installed is not None:
        return _installed
    with _loading:
        if _installed is None:
            _installed = keyring_from_settings(engine)
        return _installed


def keyring_from_settings(engine: Engine | None = None) -> AuditKeyring:
    """Open (or on first start create) the key file the settings name."""
    from adapter.settings import load_settings
    from adapter.store.db import make_engine

    settings = load_settings()
    own = engine is None
    bind = engine if engine is not None else make_engine(settings.database.url)
    try:
        return keyring_at(settings.audit.key_path(settings.data_dir), bind)
    finally:
        if own:
            bind.dispose()


def keyring_at(path: Path, engine: Engine) -> AuditKeyring:
    """Start-up: open the key file at ``path`` (or create it when the log has no keyed entry)."""
    return open_keyring(
        path,
        keyed_entries=lambda: _has_keyed_entries(engine),
        head_seq=lambda: _head_seq(engine),
    )


def _has_keyed_entries(engine: Engine) -> bool:
    with engine.connect() as connection:
        found = connection.execute(select(_log.c.seq).where(_log.c.key_id != "").limit(1))
        return found.first() is not None


def _head_seq(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(_head.c.seq)).scalar_one_or_none() or 0)


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
    key_id: str = "",
    key: bytes | None = None,
) -> str:
    """The entry's hash: HMAC-SHA256 under ``key`` (``key_id`` is covered too), or — for an
    entry written before the log was keyed (no ``key_id``) — plain SHA-256."""
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
    if not key_id:
        return hashlib.sha256(canonical(body).encode("utf-8")).hexdigest()
    if key is None:
        raise AuditKeyError(f"no audit key for key id {key_id!r}")
    body["key_id"] = key_id
    return hmac.new(key, canonical(body).encode("utf-8"), hashlib.sha256).hexdigest()


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
_CLAIM = {False: HotStatement(_claim(sqlite.insert)), True: HotStatement(_claim(postgresql.insert))}
_INSERT_ENTRY = HotStatement(_log.insert())
_SET_HEAD = HotStatement(_head.update().where(_head.c.id == 1))


class AuditLog:
    """The audit log as seen from inside a unit of work."""

    def __init__(
        self,
        session: Session,
        clock: Clock,
        keyring: AuditKeyring | None = None,
        *,
        key_source: Engine | None = None,
    ):
        self._session = session
        self._clock = clock
        self._keyring = keyring
        self._key_source = key_source  # where a process without a keyring reads the log

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
        keyring = self._keyring or installed_keyring(
            self._key_source or self._session.get_bind().engine
        )
        at = self._clock.now().astimezone(UTC)
        text = canonical(mask_body(dict(details or {})))
        claim = _CLAIM[self._session.get_bind().dialect.name == "postgresql"]
        seq, prev_hash = claim.one(self._session, {})
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
        digest = entry_hash(**values, key_id=keyring.current, key=keyring.current_key)
        _INSERT_ENTRY.execute(self._session, {**values, "hash": digest, "key_id": keyring.current})
        _SET_HEAD.execute(self._session, {"hash": digest})
        return AuditEntry(
            **{**values, "details": json.loads(text)}, hash=digest, key_id=keyring.current
        )

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
        key_id=row.key_id,
    )


@dataclass(frozen=True)
class Verification:
    """The outcome of :func:`verify`: ``ok``, how many entries were checked, and where the
    chain first breaks (``broken_seq``, the entry's seq, or the expected one when missing)."""

    ok: bool
    checked: int
    broken_seq: int | None = None
    problem: str = ""


@dataclass(frozen=True)
class Anchor:
    """The chain's head as written outside the database at ``at``: ``seq`` entries, the last
    one's ``hash`` (see :mod:`adapter.store.audit_anchor`)."""

    at: str
    seq: int
    hash: str


def verify(
    engine: Engine,
    *,
    keyring: AuditKeyring | None = None,
    anchors: Iterable[Anchor] = (),
    batch: int = 5000,
) -> Verification:
    """Walk the whole chain in seq order and report the first broken entry; then check it
    against ``anchors`` (each anchored entry still there with the anchored hash)."""
    keyring = keyring or installed_keyring(engine)
    wanted: dict[int, list[Anchor]] = {}
    for anchor in anchors:
        wanted.setdefault(anchor.seq, []).append(anchor)
    expected_seq, prev_hash, checked = 1, GENESIS, 0
    with Session(engine) as session:
        stored_head = session.execute(select(_head.c.seq, _head.c.hash)).one_or_none()
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
                problem = _check_row(row, expected_seq, prev_hash, keyring)
                if problem:
                    seq = expected_seq if "missing" in problem else row.seq
                    return Verification(False, checked, seq, problem)
                for anchor in wanted.pop(row.seq, []):
                    if anchor.hash != row.hash:
                        return Verification(
                            False,
                            checked,
                            row.seq,
                            f"entry {row.seq} differs from the anchor written at {anchor.at}",
                        )
                checked += 1
                expected_seq, prev_hash = row.seq + 1, row.hash
            after = rows[-1].seq
    if wanted:
        seq = min(wanted)
        return Verification(
            False,
            checked,
            checked + 1,
            f"the log ends at {checked} but the anchor written at {wanted[seq][0].at} "
            f"says it held {seq} entries",
        )
    head_seq, head_hash = stored_head if stored_head else (0, GENESIS)
    if head_seq != checked or head_hash != prev_hash:
        return Verification(
            False, checked, checked + 1, f"the log ends at {checked} but its head says {head_seq}"
        )
    return Verification(True, checked)


def _check_row(row: Any, expected_seq: int, prev_hash: str, keyring: AuditKeyring) -> str:
    """What is wrong with ``row`` in its place in the chain ("" when nothing)."""
    if row.seq != expected_seq:
        return f"entry {expected_seq} is missing"
    if row.prev_hash != prev_hash:
        return f"entry {row.seq} does not follow its predecessor"
    if not row.key_id and row.seq > keyring.legacy_until:
        return f"entry {row.seq} is not keyed (forged, or written without the audit key)"
    if row.key_id and row.key_id not in keyring.keys:
        return f"entry {row.seq} names audit key {row.key_id!r}, which the key file lacks"
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
        key_id=row.key_id,
        key=keyring.keys.get(row.key_id),
    )
    if not hmac.compare_digest(recomputed, row.hash):
        return f"entry {row.seq} was altered"
    return ""


def head(engine: Engine) -> tuple[int, str]:
    """The chain's head as the log itself shows it: its last entry's seq and hash."""
    with engine.connect() as connection:
        row = connection.execute(
            select(_log.c.seq, _log.c.hash).order_by(_log.c.seq.desc()).limit(1)
        ).first()
    return (int(row.seq), str(row.hash)) if row else (0, GENESIS)
