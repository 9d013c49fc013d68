"""The audit log: an append-only hash chain, and its head.

``audit_log`` rows are chained: each ``hash`` covers the entry and the previous entry's hash,
so an edited, deleted or reordered entry breaks the chain from that point. ``audit_head`` is a
single row (id = 1) holding the last sequence number and hash: appends update it first, which
serialises concurrent appends (a row lock on PostgreSQL, the write lock on SQLite), and it
lets verification notice entries deleted from the end of the log. ``key_id`` names the key
(kept outside the database) whose HMAC is the entry's ``hash``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, Text
from sqlmodel import Field, SQLModel

from adapter.store.tables._common import key_field, text_field, utc

_Seq = BigInteger().with_variant(Integer(), "sqlite")


class AuditEntryRow(SQLModel, table=True):
    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_subject", "subject_type", "subject_id"),
        Index("ix_audit_log_actor_at", "actor", "at"),
        Index("ix_audit_log_action_at", "action", "at"),
    )

    # Assigned by the appender from audit_head, not by the database: the chain needs it first.
    seq: int = Field(primary_key=True, sa_type=_Seq, sa_column_kwargs={"autoincrement": False})
    at: datetime = utc(index=True)
    actor: str = key_field()
    role: str = text_field(32)
    action: str = key_field(64)
    subject_type: str = text_field(32)
    subject_id: str = text_field(64)
    details: str = Field(sa_type=Text, nullable=False)  # canonical JSON, exactly as hashed
    prev_hash: str = key_field()
    hash: str = key_field()
    # the audit key that signed this entry (adapter.store.audit_keys); "" before keying
    key_id: str = text_field(16)


class AuditHeadRow(SQLModel, table=True):
    __tablename__ = "audit_head"

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    seq: int = Field(sa_type=_Seq, nullable=False)
    hash: str = key_field()
