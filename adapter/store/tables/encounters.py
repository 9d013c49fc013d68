"""Encounters and their fee lines.

``encounter.version`` is the optimistic lock: every update says which version it read and
bumps it; an update that finds another version changed nothing and is refused.
``uq_encounter_open_stay`` keeps one open stay (admitted, or settlement revoked) per worker
and kind at an institution, so two concurrent admissions of one worker cannot both win.
``fee_line`` is unique on (encounter_id, line_id) so an HIS message delivered twice adds its
lines once. A line whose item the adapter cannot map is still kept, flagged ``unmapped``.
"""

from __future__ import annotations

from datetime import datetime
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

# One open stay per worker and kind at an institution: a stay is open while admitted or while
# its settlement is revoked (it will be settled again). Device fittings are never "open".
OPEN_STAY = text("status IN ('admitted', 'revoked') AND kind IN ('medical', 'rehab')")


class EncounterRow(SQLModel, table=True):
    __tablename__ = "encounter"
    __table_args__ = (
        UniqueConstraint("institution_code", "his_visit_id", name="uq_encounter_visit"),
        Index(
            "uq_encounter_open_stay",
            "institution_code",
            "psn_no",
            "kind",
            unique=True,
            sqlite_where=OPEN_STAY,
            postgresql_where=OPEN_STAY,
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
    )

    id: int | None = pk_id()
    encounter_id: str = key_field()
    mapping_status: str = text_field(16, default="mapped")  # mapped | unmapped
    catalogue_code: str = text_field(64)  # the catalogue code the HIS item maps to
    received_at: datetime = utc()
