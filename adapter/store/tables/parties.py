"""Who and where, as last seen upstream: person, filing (with its devices), suspension,
institution. These rows are caches of upstream truth, refreshed on every check, so each
carries ``seen_at``; the domain objects are rebuilt from them by the repositories."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ForeignKeyConstraint, Index
from sqlmodel import Field, SQLModel

from adapter.store.tables._common import flag, json_list, key_field, money, pk_id, text_field, utc


class PersonRow(SQLModel, table=True):
    __tablename__ = "person"

    psn_no: str = key_field(primary_key=True)
    citizen_id: str = text_field(32, index=True)
    name: str = text_field(100)
    gender: str = text_field(2, default="9")
    birth_date: date | None = None
    insured_admdvs: str = text_field(12)
    card_no: str = text_field(64)
    card_sn: str = text_field(64)
    card_status: str = text_field(16, default="normal")
    seen_at: datetime = utc()


class FilingRow(SQLModel, table=True):
    """Every field of :class:`adapter.domain.filings.Filing`; devices in ``filing_device``."""

    __tablename__ = "filing"

    filing_no: str = key_field(primary_key=True)
    psn_no: str = key_field(index=True)
    purpose: str = key_field(16)
    category: str = key_field(32)
    treatment_admdvs: str = key_field(12)
    valid_from: date
    valid_to: date
    filed_on: date
    status: str = text_field(16, default="active")
    name: str = text_field(100)
    gender: str = text_field(8)
    citizen_id: str = text_field(32)
    injury_parts: list[str] = json_list()
    injury_decision_no: str = text_field(100)
    phone: str = text_field(32)
    address: str = text_field(300)
    filing_type: str = text_field(16, default="new")
    applicant: str = text_field(16, default="self")
    relative_name: str = text_field(100)
    relative_citizen_id: str = text_field(32)
    relative_phone: str = text_field(32)
    employer_name: str = text_field(200)
    employer_credit_code: str = text_field(32)
    employer_contact: str = text_field(100)
    employer_phone: str = text_field(32)
    treatment_province: str = text_field(12)
    insured_admdvs: str = text_field(12)
    agency_opinion: str = text_field(500)
    terminated_on: date | None = None
    successor_no: str = text_field(64)
    third_party_liability: bool = flag()
    device_assessment_no: str = text_field(100)
    approval_notice_no: str = text_field(100)
    seen_at: datetime = utc()


class FilingDeviceRow(SQLModel, table=True):
    """One device item of a device filing (附表2), in the filing's order."""

    __tablename__ = "filing_device"
    __table_args__ = (
        ForeignKeyConstraint(
            ["filing_no"], ["filing.filing_no"], name="fk_filing_device_filing", ondelete="CASCADE"
        ),
    )

    filing_no: str = Field(primary_key=True, max_length=64)
    position: int = Field(primary_key=True)
    device_code: str = key_field()
    device_name: str = text_field(200)
    min_years: int = Field(nullable=False)
    limit_amount: Decimal = money()


class SuspensionRow(SQLModel, table=True):
    """Direct settlement suspended for a worker (N§49, B§52); replaced wholesale per person."""

    __tablename__ = "suspension"
    __table_args__ = (Index("ix_suspension_psn_no_since", "psn_no", "since"),)

    id: int | None = pk_id()
    psn_no: str = key_field()
    since: date
    until: date | None = None
    reason: str = text_field(500)
    seen_at: datetime = utc()


class InstitutionRow(SQLModel, table=True):
    __tablename__ = "institution"

    code: str = key_field(32, primary_key=True)
    name: str = text_field(200)
    kinds: list[str] = json_list()
    admdvs: str = key_field(12)
    status: str = text_field(16, default="enabled")
    seen_at: datetime = utc()
