"""The workflows' tables (Core ``Table`` objects on the store's one ``SQLModel.metadata``).

The SQLModel rows hold the encounters, fees and settlements; these hold what only the
workflows need:

``service_upload``
    Every upstream write a use case queued: which encounter (and settlement), which
    transaction (``infno``), its ``msgid`` (the queue's idempotency key) and deadline. The
    encounter view shows them; revocation finds the upload it must follow.
``rehab_plan``
    The current rehab plan (康复方案) of a rehab stay and the ``msgid`` of its upload; a new
    plan replaces the old one and is uploaded again (N§33, B§32).
``manual_claim``
    A stay sent back to the insured place for manual reimbursement (N§38, B§27): why, by
    whom, and the itemised fee list handed to the worker. One per encounter.
``settle_wait``
    Stays waiting for upstream after a full outage at discharge (N§38): re-checked as soon
    as upstream answers, then shown to the billing desk as ready to settle.

A change here needs a migration revision (``adapter/store/migrations``).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Integer,
    String,
    Table,
    Text,
    false,
)
from sqlmodel import SQLModel

from adapter.store.tables._common import BigId
from adapter.store.types import Json, UTCDateTime

metadata = SQLModel.metadata

service_upload = Table(
    "service_upload",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("encounter_id", String(64), nullable=False, index=True),
    Column("settlement_id", String(64), nullable=False, server_default="", index=True),
    Column("infno", String(8), nullable=False),
    Column("msgid", String(30), nullable=False, unique=True),
    Column("job_id", BigInteger, nullable=False),
    Column("deadline", UTCDateTime(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

rehab_plan = Table(
    "rehab_plan",
    metadata,
    Column("encounter_id", String(64), primary_key=True),
    Column("revision", Integer, nullable=False),
    Column("plan", Json, nullable=False),
    Column("msgid", String(30), nullable=False),
    Column("saved_at", UTCDateTime(), nullable=False),
    Column("saved_by", String(64), nullable=False),
)

manual_claim = Table(
    "manual_claim",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("encounter_id", String(64), nullable=False, unique=True),
    Column("reason", String(32), nullable=False),
    Column("detail", Text, nullable=False, server_default=""),
    Column("fee_list", Json, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(64), nullable=False),
    # Recorded at admission because upstream was down (N§38, B§27): it may still switch to
    # direct settlement until its fee list is handed over (``handed_over_at``).
    Column("from_start", Boolean, nullable=False, server_default=false()),
    Column("handed_over_at", UTCDateTime(), nullable=True),
)

# A stay whose discharge settlement met a full upstream outage, and whose billing desk chose
# to wait (N§38): the adapter re-checks identity and filing as soon as upstream answers and
# then tells the desk it can settle (``ready_at``), or why it cannot (``refusal``). Nothing is
# written to the settlement meanwhile. One row per encounter; settling or a manual claim
# removes it.
settle_wait = Table(
    "settle_wait",
    metadata,
    Column("encounter_id", String(64), primary_key=True),
    Column("discharged_at", UTCDateTime(), nullable=False),
    Column("since", UTCDateTime(), nullable=False),
    Column("requested_by", String(64), nullable=False),
    Column("checked_at", UTCDateTime(), nullable=True),
    Column("ready_at", UTCDateTime(), nullable=True),
    Column("refusal", Text, nullable=False, server_default=""),
)
