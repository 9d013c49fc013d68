"""Settlements, their line snapshots, excluded lines, and the daily slip-number sequence.

A settlement keeps a snapshot of every priced line (the fee line, the catalogue item that
priced it, the rule and the split), so the slip can be reprinted exactly even after the
catalogue or the HIS lines change: the insured place's agency may check the bills against it
(票据核查, N§49, B§53), and what was uploaded stays true (N§47, B§50). At most one settlement per
encounter is ``settled`` at a time: a partial unique index enforces it in the database, so two
clerks settling at once get one settlement and one clear refusal.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ForeignKeyConstraint, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from adapter.store.tables._common import flag, json_list, key_field, money, pk_id, text_field, utc
from adapter.store.tables.encounters import FeeLineColumns

ACTIVE = text("status = 'settled'")


class SettlementRow(SQLModel, table=True):
    __tablename__ = "settlement"
    __table_args__ = (
        ForeignKeyConstraint(["encounter_id"], ["encounter.id"], name="fk_settlement_encounter"),
        UniqueConstraint("slip_no", name="uq_settlement_slip_no"),
        Index(
            "uq_settlement_active_encounter",
            "encounter_id",
            unique=True,
            sqlite_where=ACTIVE,
            postgresql_where=ACTIVE,
        ),
    )

    id: str = key_field(primary_key=True)
    encounter_id: str = key_field(index=True)
    slip_no: str = key_field()
    settled_at: datetime = utc(index=True)  # reconciliation scans a month by it
    # The local discharge (fitting) date: the stay's end, not the settlement's date.
    discharged_on: date
    # YYYY-MM of the settlement time in the institution's zone (settlement_month, N§35):
    # the month the settlement is listed, reconciled and (a device) paid in.
    month: str = key_field(7, index=True)
    total: Decimal = money()
    fund_pay: Decimal = money()
    personal_pay: Decimal = money()
    out_of_catalogue: Decimal = money()
    over_limit: Decimal = money()
    non_work_injury: Decimal = money()
    excluded_total: Decimal = money()
    crosses_year: bool = flag()
    notes: list[str] = json_list()
    operator: str = text_field(64)
    status: str = Field(
        max_length=16, nullable=False, index=True, sa_column_kwargs={"server_default": "settled"}
    )
    revoked_at: datetime | None = utc(nullable=True)
    revoke_reason: str = text_field(500)


class SettlementLineRow(FeeLineColumns, table=True):
    """One :class:`~adapter.domain.pricing.PricedLine`, frozen at settlement time."""

    __tablename__ = "settlement_line"
    __table_args__ = (
        UniqueConstraint("settlement_id", "position", name="uq_settlement_line_position"),
        ForeignKeyConstraint(
            ["settlement_id"], ["settlement.id"], name="fk_settlement_line_settlement"
        ),
    )

    id: int | None = pk_id()
    settlement_id: str = key_field()
    position: int = Field(nullable=False)
    fund_pay: Decimal = money()
    personal_pay: Decimal = money()
    reason: str = text_field(24)  # PersonalReason value, '' when the fund pays all
    rule_code: str = key_field(48)
    rule_article: str = text_field(64)
    rule_template: str = text_field(500)  # Rule.message, with its {placeholders}
    message: str = text_field(500)  # the message as the clerk saw it
    in_catalogue: bool = flag()
    # The catalogue item that priced the line (all empty/NULL when out of catalogue).
    cat_kind: str = text_field(24)
    cat_code: str = text_field(64)
    cat_name: str = text_field(300)
    cat_region: str = text_field(12)
    cat_unit: str = text_field(32)
    cat_price_cap: Decimal | None = money(nullable=True)
    cat_limit: Decimal | None = money(nullable=True)
    cat_version: str = text_field(32)
    cat_valid_from: date | None = None
    cat_valid_to: date | None = None
    # The device limit the line was priced against (N§34, B§35), NULL for any other line:
    # what the slip says the fund paid against when printed again (migration 0014).
    priced_limit: Decimal | None = money(nullable=True)


class ExcludedLineRow(FeeLineColumns, table=True):
    """A line kept out of the bill (meal subsidy, transport: N§3, B§30), listed on the slip."""

    __tablename__ = "settlement_excluded_line"
    __table_args__ = (
        UniqueConstraint("settlement_id", "position", name="uq_settlement_excluded_position"),
        ForeignKeyConstraint(
            ["settlement_id"], ["settlement.id"], name="fk_settlement_excluded_settlement"
        ),
    )

    id: int | None = pk_id()
    settlement_id: str = key_field()
    position: int = Field(nullable=False)


class SlipSequenceRow(SQLModel, table=True):
    """The last slip sequence number used per institution and day (slips restart daily)."""

    __tablename__ = "slip_sequence"

    institution_code: str = Field(primary_key=True, max_length=32)
    day: date = Field(primary_key=True)
    last: int = Field(nullable=False)
