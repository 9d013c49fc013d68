"""Encounters and their fee lines.

``encounter.version`` is the optimistic lock: every update says which version it read and
bumps it; an update that finds another version changed nothing and is refused.
``uq_encounter_admitted_stay`` keeps one admitted stay per worker and kind at an institution,
so two concurrent admissions of one worker and kind cannot both win. A stay whose settlement
was revoked is open too, but may stand beside a readmission (the first settlement revoked
after the worker came back); no new stay beside an open one of either kind is the admission's
own check (``services.admission``).
``fee_line`` is unique on (encounter_id, line_id) so an HIS message delivered twice adds its
lines once. A line whose item the adapter cannot map is still kept, flagged ``unmapped``.

Each fee line carries its price as of ``priced_as_of`` (the split, the rule and the catalogue
item, as a settlement snapshot line does), so a batch or a settlement never re-prices the
stay: a line is re-priced only when its mapping changes, or when a catalogue item of its
``price_code`` was loaded after ``priced_as_of`` (``catalogue_item.loaded_at``). A batch
checks duplicates and reversals by index — (encounter_id, line_id), (encounter_id,
item_code), (encounter_id, reverses) — never by reading the stay; a page of the stay's lines
(``GET …/fees``) is read by (encounter_id, id), in arrival order.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ForeignKeyConstraint, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from adapter.store.tables._common import (
    flag,
    json_list,
    key_field,
    money,
    pk_id,
    quantity_field,
    text_field,
    utc,
)

# One admitted stay per worker and kind at an institution. Device fittings are never admitted
# stays; a revoked settlement's stay, though open, lies in the past (migration 0020).
ADMITTED_STAY = text("status = 'admitted' AND kind IN ('medical', 'rehab')")


class EncounterRow(SQLModel, table=True):
    __tablename__ = "encounter"
    __table_args__ = (
        UniqueConstraint("institution_code", "his_visit_id", name="uq_encounter_visit"),
        Index(
            "uq_encounter_admitted_stay",
            "institution_code",
            "psn_no",
            "kind",
            unique=True,
            sqlite_where=ADMITTED_STAY,
            postgresql_where=ADMITTED_STAY,
        ),
    )

    id: str = key_field(primary_key=True)
    kind: str = key_field(16)
    psn_no: str = key_field(index=True)
    filing_no: str = key_field(index=True)
    institution_code: str = key_field(32)
    his_visit_id: str = key_field()
    admitted_at: datetime = utc()
    discharged_at: datetime | None = utc(nullable=True)
    status: str = Field(
        max_length=16, nullable=False, index=True, sa_column_kwargs={"server_default": "admitted"}
    )
    insured_admdvs: str = text_field(12)
    department: str = text_field(100)
    diagnoses: list[str] = json_list()
    injury_parts: list[str] = json_list()
    version: int = Field(default=1, nullable=False, sa_column_kwargs={"server_default": text("1")})
    ready_to_settle: bool = flag()  # set by the HL7 A03 (discharge) path
    created_at: datetime = utc()
    updated_at: datetime = utc()


class FeeLineColumns(SQLModel):
    """A :class:`~adapter.domain.fees.FeeLine`'s fields; shared with the settlement snapshot."""

    line_id: str = key_field()
    item_code: str = key_field()
    item_name: str = text_field(300)
    category: str = key_field(16)
    quantity: Decimal = quantity_field()
    unit_price: Decimal = quantity_field()
    amount: Decimal = money()
    occurred_at: datetime = utc()
    work_injury: bool = flag(default=True)
    reverses: str = text_field(64)
    department: str = text_field(100)
    unit: str = text_field(32)


class FeeLineRow(FeeLineColumns, table=True):
    __tablename__ = "fee_line"
    __table_args__ = (
        UniqueConstraint("encounter_id", "line_id", name="uq_fee_line_encounter_line"),
        ForeignKeyConstraint(["encounter_id"], ["encounter.id"], name="fk_fee_line_encounter"),
        Index("ix_fee_line_unmapped", "encounter_id", "mapping_status"),
        Index("ix_fee_line_item", "encounter_id", "item_code"),
        Index("ix_fee_line_reverses", "encounter_id", "reverses"),
        # a stay's lines in arrival order: a page of them is read from here, wherever it starts
        Index("ix_fee_line_stay_order", "encounter_id", "id"),
    )

    id: int | None = pk_id()
    encounter_id: str = key_field()
    mapping_status: str = text_field(16, default="mapped")  # mapped | unmapped
    catalogue_code: str = text_field(64)  # the catalogue code the HIS item maps to
    received_at: datetime = utc()
    # The stored price. NULL priced_as_of: not priced yet (a line stored before prices were
    # kept), priced when next read. Catalogue loads at or after it may not be reflected.
    priced_as_of: datetime | None = utc(nullable=True)
    price_code: str = text_field(64)  # the code pricing looked up (a reversal: its original's)
    excluded: bool = flag()  # meal subsidy, transport: listed apart, not billed (N§3)
    fund_pay: Decimal | None = money(nullable=True)
    personal_pay: Decimal | None = money(nullable=True)
    reason: str = text_field(24)
    rule_code: str = text_field(48)
    rule_article: str = text_field(64)
    rule_template: str = text_field(500)
    message: str = text_field(500)
    in_catalogue: bool = flag()
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
