"""The monthly work's tables (Core ``Table`` objects on the store's one ``SQLModel.metadata``).

``reconciliation_run``
    One reconciliation of one month (对账, N§35, B§33): when, by whom, the outcome, both
    sides' totals. The latest run of a month is what the API shows; earlier runs stay as
    history.
``reconciliation_line``
    The month's local settlements as a run compared them, one row each in the order read
    (a month may hold 50,000: rows, written and read in bulk, not one JSON value).
``reconciliation_difference``
    The differences a run found, in order: kind, settlement, both sides' amounts, what
    differs and what to do (Chinese).
``audit_deduction``
    Audit deductions (审核扣款, N§37, B§25) fetched from upstream (``WI3202``), one row per
    ``deduction_no``; fetching again replaces a row with upstream's current words.
``device_funds_receipt``
    A device institution's record that a month's settlement funds arrived, and the
    ``WI3301`` confirmation queued for it (B§40). One per month.
``catalogue_update``
    Every catalogue download (``WI1401``) or CSV import: kind, region, the version it
    brought, how many items. The latest download's version is the next ``since_version``.
``schedule_run``
    Every run of a scheduled job: the slot it ran for, the instance, start, end, outcome and
    message. Unique on (job, slot, attempt), so two instances never record one run twice.

A change here needs a migration revision (``adapter/store/migrations``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlmodel import SQLModel

from adapter.store.tables._common import BigId
from adapter.store.types import Money, UTCDateTime

metadata = SQLModel.metadata


def _amount_columns(prefix: str) -> list[Column[Any]]:
    return [
        Column(f"{prefix}_count", Integer, nullable=False),
        Column(f"{prefix}_total", Money(), nullable=False),
        Column(f"{prefix}_fund_pay", Money(), nullable=False),
        Column(f"{prefix}_personal_pay", Money(), nullable=False),
    ]


reconciliation_run = Table(
    "reconciliation_run",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("month", String(7), nullable=False, index=True),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime(), nullable=False),
    Column("actor", String(64), nullable=False),
    # balanced | differences | failed
    Column("outcome", String(16), nullable=False),
    Column("message", Text, nullable=False, server_default=""),
    Column("totals_match", Boolean, nullable=False),
    *_amount_columns("local"),
    *_amount_columns("upstream"),
    Column("difference_count", Integer, nullable=False),
)

reconciliation_line = Table(
    "reconciliation_line",
    metadata,
    # the order the run read them in (settlement time): ids are given in that order
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column(
        "run_id",
        BigId,
        ForeignKey("reconciliation_run.id", name="fk_reconciliation_line_run"),
        nullable=False,
    ),
    Column("setl_id", String(64), nullable=False),
    Column("slip_no", String(64), nullable=False),
    Column("psn_no", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("settles_on", Date, nullable=False),
    Column("total", Money(), nullable=False),
    Column("fund_pay", Money(), nullable=False),
    Column("personal_pay", Money(), nullable=False),
    Column("revoked", Boolean, nullable=False),
    Column("crosses_year", Boolean, nullable=False),
    Column("upload_msgid", String(30), nullable=False),
    # True acknowledged upstream, False still queued or failed, NULL no upload found
    Column("upload_delivered", Boolean, nullable=True),
    Index("ix_reconciliation_line_run", "run_id", "id"),
)

reconciliation_difference = Table(
    "reconciliation_difference",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column(
        "run_id",
        BigId,
        ForeignKey("reconciliation_run.id", name="fk_reconciliation_difference_run"),
        nullable=False,
    ),
    Column("position", Integer, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("setl_id", String(64), nullable=False, index=True),
    Column("psn_no", String(64), nullable=False),
    Column("settles_on", Date, nullable=True),
    Column("local_total", Money(), nullable=True),
    Column("local_fund_pay", Money(), nullable=True),
    Column("local_personal_pay", Money(), nullable=True),
    Column("upstream_total", Money(), nullable=True),
    Column("upstream_fund_pay", Money(), nullable=True),
    Column("upstream_personal_pay", Money(), nullable=True),
    Column("message", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("article", String(64), nullable=False),
    UniqueConstraint("run_id", "position", name="uq_reconciliation_difference_position"),
)

audit_deduction = Table(
    "audit_deduction",
    metadata,
    Column("deduction_no", String(64), primary_key=True),
    Column("month", String(7), nullable=False, index=True),
    Column("setl_id", String(64), nullable=False, index=True),
    Column("psn_no", String(64), nullable=False),
    Column("item_code", String(64), nullable=False),
    Column("item_name", String(300), nullable=False),
    Column("amount", Money(), nullable=False),
    Column("reason", Text, nullable=False),
    Column("fetched_at", UTCDateTime(), nullable=False),
)

device_funds_receipt = Table(
    "device_funds_receipt",
    metadata,
    Column("month", String(7), primary_key=True),
    Column("amount", Money(), nullable=False),
    Column("received_on", Date, nullable=False),
    Column("note", Text, nullable=False, server_default=""),
    Column("msgid", String(30), nullable=False, unique=True),
    Column("job_id", BigInteger, nullable=False),
    Column("recorded_by", String(64), nullable=False),
    Column("recorded_at", UTCDateTime(), nullable=False),
)

catalogue_update = Table(
    "catalogue_update",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("kind", String(24), nullable=False),
    Column("region", String(12), nullable=False),
    Column("version", String(32), nullable=False),
    Column("source", String(16), nullable=False),  # download | import
    Column("items", Integer, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Index("ix_catalogue_update_kind_region", "kind", "region"),
)

schedule_run = Table(
    "schedule_run",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("job", String(48), nullable=False),
    Column("slot", UTCDateTime(), nullable=False),  # the scheduled time this run is for
    Column("attempt", Integer, nullable=False),
    Column("instance", String(128), nullable=False),
    Column("trigger", String(16), nullable=False),  # schedule | startup | retry | manual
    Column("started_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime(), nullable=True),
    # running | ok | failed | abandoned
    Column("outcome", String(16), nullable=False),
    Column("message", Text, nullable=False, server_default=""),
    UniqueConstraint("job", "slot", "attempt", name="uq_schedule_run_slot_attempt"),
    Index("ix_schedule_run_started", "started_at"),
)
