"""The HL7 message log: every inbound message, durably, before its ACK.

:class:`MessageLog` reads and writes the tables of :mod:`connectors.hl7.message_tables` (what
each column and the ``dedupe_key`` mean is explained there): the inbound pipeline stores each
message on arrival (:meth:`~MessageLog.receive`) and each processing attempt's outcome and
exact ACK bytes (:meth:`~MessageLog.record`); the operator CLI and REST look messages and their
attempts up (:meth:`~MessageLog.get`, :meth:`~MessageLog.search`, :meth:`~MessageLog.attempts`).

A repeated MSH-10 from the same sender gets the first ACK while the first holds the dedupe key;
a message whose outcome is not final (:data:`FINAL_OUTCOMES`) gives its key up, so the sender
may send it again. A repeat answered from the log is itself logged, with ``duplicate_of``
naming the first.

Each write is its own committed transaction, unless ``joined`` names a transaction this thread
is inside (several messages committed together, :mod:`connectors.hl7.group_commit`, on
SQLite): then each write runs in it, and reads see what it wrote. No savepoint is needed there:
SQLite undoes a statement that fails (a dedupe key already held) and keeps the transaction, and
anything else that fails rolls the whole group back. Times are stored in UTC.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from adapter.hot_sql import HotStatement
from connectors.hl7.message_tables import hl7_message, hl7_message_attempt

# Outcomes, as an operator reads them.
ACCEPTED = "accepted"  # AA
REFUSED = "refused"  # AE: a business rule said no (final)
REJECTED = "rejected"  # AR: malformed or unsupported (the sender may fix and resend)
TRANSIENT = "transient"  # AE: upstream unavailable; the sender should resend later
FAILED = "failed"  # AE: an unexpected error in the adapter (re-process after a fix)
DUPLICATE = "duplicate"  # answered with the first message's ACK, not processed
OUTCOMES = (ACCEPTED, REFUSED, REJECTED, TRANSIENT, FAILED, DUPLICATE)
FINAL_OUTCOMES = (ACCEPTED, REFUSED)


@dataclass(frozen=True)
class Receipt:
    """What is known of a message the moment it arrives."""

    raw: bytes
    peer: str
    received_at: datetime
    sender_application: str = ""
    sender_facility: str = ""
    control_id: str | None = None
    message_type: str = ""
    version: str = ""
    charset: str = ""
    visit_number: str | None = None

    @property
    def dedupe_key(self) -> str | None:
        if not self.control_id:
            return None
        return f"{self.sender_application}^{self.sender_facility}|{self.control_id}"[:400]


@dataclass(frozen=True)
class Result:
    """One processing attempt's result."""

    ack_code: str
    outcome: str
    ack: bytes
    detail: str = ""


@dataclass(frozen=True)
class LoggedMessage:
    id: int
    received_at: datetime
    peer: str
    sender_application: str
    sender_facility: str
    control_id: str | None
    message_type: str
    version: str
    charset: str
    visit_number: str | None
    size: int
    raw: bytes
    duplicate_of: int | None
    ack_code: str | None
    outcome: str | None
    detail: str | None
    ack: bytes | None
    processed_at: datetime | None
    attempts: int


@dataclass(frozen=True)
class Attempt:
    attempt: int
    started_at: datetime
    finished_at: datetime
    actor: str
    ack_code: str
    outcome: str
    detail: str
    ack: bytes


# Every message runs these: on the driver, compiled once (adapter.hot_sql). The columns to set
# come from each execution's parameters.
_INSERT_MESSAGE = HotStatement(insert(hl7_message).returning(hl7_message.c.id))
_INSERT_ATTEMPT = HotStatement(insert(hl7_message_attempt))
_RECORD_OUTCOME = HotStatement(
    update(hl7_message)
    .where(hl7_message.c.id == bindparam("message_id"))
    .values(attempts=hl7_message.c.attempts + 1)
    .returning(hl7_message.c.attempts)
)


class MessageLog:
    """Reads and writes the log; every method commits its own transaction (or writes in the
    joined one)."""

    def __init__(
        self, engine: Engine, *, joined: Callable[[], Connection | None] = lambda: None
    ) -> None:
        self.engine = engine
        # made once, not per write (connectors do not import adapter.store's ``immediate``)
        self._immediate = engine.execution_options(sqlite_begin="IMMEDIATE")
        self._joined = joined

    def receive(self, receipt: Receipt, *, keyed: bool = True, **extra: Any) -> int | None:
        """Store a message; its id, or ``None`` when another row holds its dedupe key."""
        values: dict[str, Any] = {
            "received_at": _utc(receipt.received_at),
            "peer": receipt.peer[:64],
            "sender_application": receipt.sender_application[:180],
            "sender_facility": receipt.sender_facility[:180],
            "control_id": (receipt.control_id or None) and receipt.control_id[:199],
            "message_type": receipt.message_type[:20],
            "version": receipt.version[:10],
            "charset": receipt.charset[:40],
            "visit_number": receipt.visit_number and receipt.visit_number[:64],
            "size": len(receipt.raw),
            "raw": receipt.raw,
            "dedupe_key": receipt.dedupe_key if keyed else None,
            **extra,
        }
        try:
            with self._write() as connection:
                row = _INSERT_MESSAGE.one(connection, values)
        except IntegrityError:
            if not keyed or receipt.dedupe_key is None:
                raise
            return None
        return int(row.id)

    def holder(self, dedupe_key: str) -> LoggedMessage | None:
        """The message currently holding ``dedupe_key``."""
        with self._read() as connection:
            row = connection.execute(
                select(hl7_message).where(hl7_message.c.dedupe_key == dedupe_key)
            ).first()
        return _message(row) if row else None

    def release(self, message_id: int, *, only_unanswered: bool = False) -> bool:
        """Give up a message's dedupe key; with ``only_unanswered``, only if it has no ACK."""
        statement = update(hl7_message).where(hl7_message.c.id == message_id)
        if only_unanswered:
            statement = statement.where(hl7_message.c.ack.is_(None))
        with self._write() as connection:
            return connection.execute(statement.values(dedupe_key=None)).rowcount > 0

    def record(
        self, message_id: int, result: Result, *, started_at: datetime, actor: str, keep_key: bool
    ) -> None:
        """Store an attempt's outcome and ACK (history row + latest state) in one transaction."""
        now = datetime.now(UTC)
        changes: dict[str, Any] = {
            "message_id": message_id,
            "ack_code": result.ack_code,
            "outcome": result.outcome,
            "detail": result.detail,
            "ack": result.ack,
            "processed_at": now,
        }
        if not keep_key:
            changes["dedupe_key"] = None
        with self._write() as connection:
            # Write first: the row lock (SQLite: the write lock) is taken before any read.
            attempts = _RECORD_OUTCOME.one(connection, changes).attempts
            _INSERT_ATTEMPT.execute(
                connection,
                {
                    "message_id": message_id,
                    "attempt": attempts,
                    "started_at": _utc(started_at),
                    "finished_at": now,
                    "actor": actor[:120],
                    "ack_code": result.ack_code,
                    "outcome": result.outcome,
                    "detail": result.detail,
                    "ack": result.ack,
                },
            )

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A write transaction (``BEGIN IMMEDIATE`` on SQLite), or the joined one."""
        joined = self._joined()
        if joined is None:
            with self._immediate.begin() as connection:
                yield connection
        else:
            yield joined

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        joined = self._joined()
        if joined is not None:
            yield joined
            return
        with self.engine.connect() as connection:
            yield connection

    def record_duplicate(self, receipt: Receipt, first: LoggedMessage) -> int:
        """Log a repeat answered with ``first``'s ACK (not processed)."""
        message_id = self.receive(
            receipt,
            keyed=False,
            duplicate_of=first.id,
            ack_code=first.ack_code,
            outcome=DUPLICATE,
            detail=f"duplicate of message {first.id}",
            ack=first.ack,
            processed_at=datetime.now(UTC),
        )
        assert message_id is not None
        return message_id

    def claim_key(self, message_id: int, dedupe_key: str) -> bool:
        """Give ``message_id`` the dedupe key again if nobody holds it (after a re-process)."""
        try:
            with self._write() as connection:
                connection.execute(
                    update(hl7_message)
                    .where(hl7_message.c.id == message_id)
                    .values(dedupe_key=dedupe_key)
                )
        except IntegrityError:
            return False
        return True

    def get(self, message_id: int) -> LoggedMessage | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                select(hl7_message).where(hl7_message.c.id == message_id)
            ).first()
        return _message(row) if row else None

    def attempts(self, message_id: int) -> list[Attempt]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(hl7_message_attempt)
                .where(hl7_message_attempt.c.message_id == message_id)
                .order_by(hl7_message_attempt.c.attempt)
            ).all()
        return [
            Attempt(
                attempt=row.attempt,
                started_at=_aware(row.started_at),
                finished_at=_aware(row.finished_at),
                actor=row.actor,
                ack_code=row.ack_code,
                outcome=row.outcome,
                detail=row.detail,
                ack=row.ack,
            )
            for row in rows
        ]

    def search(
        self,
        *,
        control_id: str | None = None,
        visit_number: str | None = None,
        message_type: str | None = None,
        outcome: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> list[LoggedMessage]:
        """Newest first. ``message_type`` matches ``ADT^A01`` exactly or ``ADT`` as a prefix."""
        query = select(hl7_message)
        if control_id:
            query = query.where(hl7_message.c.control_id == control_id)
        if visit_number:
            query = query.where(hl7_message.c.visit_number == visit_number)
        if message_type:
            wanted = message_type.upper()
            query = query.where(
                (hl7_message.c.message_type == wanted)
                | (func.substr(hl7_message.c.message_type, 1, len(wanted) + 1) == wanted + "^")
            )
        if outcome:
            query = query.where(hl7_message.c.outcome == outcome)
        if since:
            query = query.where(hl7_message.c.received_at >= _utc(since))
        if until:
            query = query.where(hl7_message.c.received_at < _utc(until))
        query = query.order_by(hl7_message.c.id.desc()).limit(limit)
        with self.engine.connect() as connection:
            return [_message(row) for row in connection.execute(query).all()]

    def count(self) -> int:
        with self.engine.connect() as connection:
            return int(
                connection.execute(select(func.count()).select_from(hl7_message)).scalar_one()
            )


def _message(row: Any) -> LoggedMessage:
    return LoggedMessage(
        id=row.id,
        received_at=_aware(row.received_at),
        peer=row.peer,
        sender_application=row.sender_application,
        sender_facility=row.sender_facility,
        control_id=row.control_id,
        message_type=row.message_type,
        version=row.version,
        charset=row.charset,
        visit_number=row.visit_number,
        size=row.size,
        raw=bytes(row.raw),
        duplicate_of=row.duplicate_of,
        ack_code=row.ack_code,
        outcome=row.outcome,
        detail=row.detail,
        ack=bytes(row.ack) if row.ack is not None else None,
        processed_at=_aware(row.processed_at) if row.processed_at else None,
        attempts=row.attempts,
    )


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _aware(value: datetime) -> datetime:
    """SQLite returns naive datetimes; the log stores UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


__all__: Sequence[str] = (
    "OUTCOMES",
    "Attempt",
    "LoggedMessage",
    "MessageLog",
    "Receipt",
    "Result",
)
