"""The queue's tables, on its own :data:`metadata` (Alembic migrations are generated from it).

``upload_job``
    One row per job: what to deliver (``kind``, ``payload``, ``idempotency_key``), in what
    order (``ordering_key``; within one key, ``id`` order), by when (``deadline``), and where
    it stands (``status`` plus the lease and retry bookkeeping). ``attempts`` and
    ``round_started_at`` count the current round (reset by a re-send, they feed the retry
    policy); ``total_attempts`` counts every attempt ever made (the handler's attempt number).
    A ``withdrawn`` job (``withdrawn_at``, the reason in ``last_error``) is one its caller
    took back unsent: it will never be sent, and holds no later job of its key back.
    ``payload_revision`` numbers the job's payload: 0 the original, one more with each re-send
    that replaced it.
``upload_attempt``
    The history: one row per attempt, with its outcome, error message and duration;
    ``refused`` marks a permanent failure the receiver answered as a refusal;
    ``payload_revision`` the job's payload revision the attempt was leased with (``NULL`` for
    attempts recorded before migration 0019).
``upload_payload_revision``
    Each payload a re-send replaced, so the original is never lost: in ``id`` order, the
    job's payload revisions 0, 1, … (its current payload is the last).
``upload_delivery``
    The delivery ledger: one compact row per delivered job (kind, ordering key, idempotency
    key, the reference it was sent under, when, upstream's reply). Written in the same
    transaction that marks the job delivered, and kept far longer than the jobs: the purge
    removes payloads and attempt history, never this (see :mod:`upload_queue.ledger`).

Times are stored in UTC and read back aware (:class:`UTCDateTime`), on SQLite as on PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import DateTime

from upload_queue.clock import as_utc

metadata = MetaData()

STATUSES = ("pending", "in_flight", "delivered", "dead", "withdrawn")
OUTCOMES = ("delivered", "transient", "permanent", "lease_expired", "lease_lost")


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime stored as UTC (``timestamptz`` on PostgreSQL, text on SQLite)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        utc = as_utc(value)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


_Id = BigInteger().with_variant(Integer(), "sqlite")
_Json = JSON().with_variant(JSONB(), "postgresql")

upload_job = Table(
    "upload_job",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("kind", String(64), nullable=False),
    Column("payload", _Json, nullable=False),
    Column("idempotency_key", String(200), nullable=False, unique=True),
    Column("ordering_key", String(200), nullable=True),
    Column("deadline", UTCDateTime(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("status", String(16), nullable=False, default="pending"),
    Column("available_at", UTCDateTime(), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("total_attempts", Integer, nullable=False, default=0),
    Column("round_started_at", UTCDateTime(), nullable=False),
    Column("leased_by", String(100), nullable=True),
    Column("lease_token", String(32), nullable=True),
    Column("leased_at", UTCDateTime(), nullable=True),
    Column("lease_expires_at", UTCDateTime(), nullable=True),
    Column("delivered_at", UTCDateTime(), nullable=True),
    Column("dead_at", UTCDateTime(), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("at_risk_reported_at", UTCDateTime(), nullable=True),
    Column("missed_reported_at", UTCDateTime(), nullable=True),
    Column("withdrawn_at", UTCDateTime(), nullable=True),
    # which payload the job holds (see upload_queue.withdrawal): attempts are told apart by
    # this number, never by comparing clocks of different instances
    Column("payload_revision", Integer, nullable=False, server_default=text("0")),
    CheckConstraint(
        "status IN ('pending', 'in_flight', 'delivered', 'dead', 'withdrawn')",
        name="upload_job_status",
    ),
    Index("upload_job_due", "status", "available_at"),
    Index("upload_job_deadline", "status", "deadline"),
    Index("upload_job_ordering", "ordering_key", "id"),
    Index("upload_job_kind", "kind", "status"),
    # the lease's candidates: pending jobs, earliest deadline first (see upload_queue.leasing)
    Index(
        "upload_job_pending_edf",
        "deadline",
        "id",
        postgresql_where=text("status = 'pending'"),
        sqlite_where=text("status = 'pending'"),
    ),
)

upload_attempt = Table(
    "upload_attempt",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column(
        "job_id",
        _Id,
        ForeignKey("upload_job.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("number", Integer, nullable=False),
    Column("worker", String(100), nullable=True),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime(), nullable=False),
    Column("duration_s", Float, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("error", Text, nullable=True),
    # the receiver answered that it did not act on the job (a business refusal), as opposed
    # to a permanent failure whose effect is unknown (see upload_queue.withdrawal)
    Column("refused", Boolean, nullable=False, server_default=false()),
    # the job's payload_revision when leased: the payload this attempt went out with
    Column("payload_revision", Integer, nullable=True),
    CheckConstraint(
        "outcome IN ('delivered', 'transient', 'permanent', 'lease_expired', 'lease_lost')",
        name="upload_attempt_outcome",
    ),
)

upload_payload_revision = Table(
    "upload_payload_revision",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column(
        "job_id",
        _Id,
        ForeignKey("upload_job.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("replaced_at", UTCDateTime(), nullable=False),
    Column("payload", _Json, nullable=False),
    Column("note", Text, nullable=True),
)

upload_delivery = Table(
    "upload_delivery",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    # no foreign key: the job is purged long before this row (and SQLite may reuse its id)
    Column("job_id", _Id, nullable=False),
    Column("kind", String(64), nullable=False),
    Column("ordering_key", String(200), nullable=True),
    Column("idempotency_key", String(200), nullable=False),
    Column("reference", String(200), nullable=False),  # what it was sent under (the msgid)
    Column("delivered_at", UTCDateTime(), nullable=False),
    Column("reply_code", String(32), nullable=False, server_default=""),
    Column("reply_ref", String(200), nullable=False, server_default=""),
    Index("upload_delivery_key", "idempotency_key"),
    Index("upload_delivery_job", "job_id"),
    Index("upload_delivery_kind", "kind", "delivered_at"),
)
