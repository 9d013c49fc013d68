"""The HL7 message log's tables (:mod:`connectors.hl7.message_log` reads and writes them).

They live on this module's own :data:`metadata` (Alembic migrations are generated from it):

``hl7_message``
    One row per message received (raw bytes, sender MSH-3/MSH-4, MSH-10, peer, received time,
    type, visit number when readable) and its latest outcome and exact ACK bytes.
    ``dedupe_key`` (``sender|control id``) is unique while it is set: it is what makes a
    repeated MSH-10 from the same sender get the first ACK. A message whose outcome is not
    final (AR, or a transient failure) gives its key up, so the sender may send it again.
    A repeat answered from the log is itself logged, with ``duplicate_of`` naming the first.
``hl7_message_attempt``
    One row per processing attempt (the first, and each operator re-process): history kept.

Times are stored in UTC.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()
_Id = BigInteger().with_variant(Integer(), "sqlite")

hl7_message = Table(
    "hl7_message",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("peer", String(64), nullable=False, server_default=""),
    Column("sender_application", String(180), nullable=False, server_default=""),
    Column("sender_facility", String(180), nullable=False, server_default=""),
    Column("control_id", String(199), nullable=True),
    Column("message_type", String(20), nullable=False, server_default=""),
    Column("version", String(10), nullable=False, server_default=""),
    Column("charset", String(40), nullable=False, server_default=""),
    Column("visit_number", String(64), nullable=True),
    Column("size", Integer, nullable=False),
    Column("raw", LargeBinary, nullable=False),
    Column("dedupe_key", String(400), nullable=True, unique=True),
    Column("duplicate_of", _Id, ForeignKey("hl7_message.id"), nullable=True),
    Column("ack_code", String(2), nullable=True),
    Column("outcome", String(16), nullable=True),
    Column("detail", Text, nullable=True),
    Column("ack", LargeBinary, nullable=True),
    Column("processed_at", DateTime(timezone=True), nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Index("ix_hl7_message_control_id", "control_id"),
    Index("ix_hl7_message_visit_number", "visit_number"),
    Index("ix_hl7_message_received_at", "received_at"),
    Index("ix_hl7_message_type_outcome", "message_type", "outcome"),
)

hl7_message_attempt = Table(
    "hl7_message_attempt",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("message_id", _Id, ForeignKey("hl7_message.id"), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=False),
    Column("actor", String(120), nullable=False, server_default=""),
    Column("ack_code", String(2), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("detail", Text, nullable=False, server_default=""),
    Column("ack", LargeBinary, nullable=False),
    UniqueConstraint("message_id", "attempt", name="uq_hl7_message_attempt"),
)


def create_tables(engine: Engine) -> None:
    """Create the tables (tests and the demo; production uses the lead's Alembic migrations)."""
    metadata.create_all(engine)
