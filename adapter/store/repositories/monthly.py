"""The monthly work's records (:mod:`adapter.store.tables.monthly`) that the use cases reach
through the unit of work: device fund receipts (B§40) and audit deductions (N§37, B§25).
Reconciliation runs have their own module (:mod:`.reconciliation`)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from adapter.domain.money import ZERO, to_fen
from adapter.domain.settlement import SettlementStatus
from adapter.domain.upstream import AuditDeduction
from adapter.store.sql import table
from adapter.store.tables import EncounterRow, SettlementRow
from adapter.store.tables.monthly import audit_deduction, device_funds_receipt

_settlement = table(SettlementRow)
_encounter = table(EncounterRow)


@dataclass(frozen=True)
class StoredFundsReceipt:
    """A month's device funds recorded as received, and the ``WI3301`` queued for it."""

    month: str
    amount: Decimal
    received_on: date
    note: str
    msgid: str
    job_id: int
    recorded_by: str
    recorded_at: datetime


class DeviceFundsRepository:
    def __init__(self, session: Session):
        self._session = session

    def add(self, receipt: StoredFundsReceipt) -> None:
        """Record the receipt; a month already recorded raises ``IntegrityError``."""
        self._session.execute(
            device_funds_receipt.insert().values(
                month=receipt.month,
                amount=receipt.amount,
                received_on=receipt.received_on,
                note=receipt.note,
                msgid=receipt.msgid,
                job_id=receipt.job_id,
                recorded_by=receipt.recorded_by,
                recorded_at=receipt.recorded_at,
            )
        )

    def get(self, month: str) -> StoredFundsReceipt | None:
        row = self._session.execute(
            select(device_funds_receipt).where(device_funds_receipt.c.month == month)
        ).one_or_none()
        return _receipt(row) if row else None

    def receipts(self) -> list[StoredFundsReceipt]:
        return [_receipt(row) for row in self._session.execute(select(device_funds_receipt))]

    def settled_by_month(self, institution_code: str) -> dict[str, tuple[int, Decimal]]:
        """The institution's settled device fittings per month: how many, and the fund's
        part of them."""
        rows = self._session.execute(
            select(
                _settlement.c.month,
                func.count(),
                func.coalesce(func.sum(_settlement.c.fund_pay), 0),
            )
            .join(_encounter, _encounter.c.id == _settlement.c.encounter_id)
            .where(
                _encounter.c.kind == "device",
                _encounter.c.institution_code == institution_code,
                _settlement.c.status == SettlementStatus.SETTLED.value,
            )
            .group_by(_settlement.c.month)
        ).all()
        return {month: (int(count), to_fen(str(total))) for month, count, total in rows}

    def deducted_by_month(self, institution_code: str) -> dict[str, Decimal]:
        """The audit deductions kept against the institution's settled device fittings, per
        the month upstream files each under (summed here: exact)."""
        d = audit_deduction.c
        rows = self._session.execute(
            select(d.month, d.amount)
            .join(_settlement, _settlement.c.id == d.setl_id)
            .join(_encounter, _encounter.c.id == _settlement.c.encounter_id)
            .where(
                _encounter.c.kind == "device",
                _encounter.c.institution_code == institution_code,
                _settlement.c.status == SettlementStatus.SETTLED.value,
            )
        )
        found: dict[str, Decimal] = {}
        for month, amount in rows:
            found[month] = found.get(month, ZERO) + amount
        return found


def _receipt(row: Any) -> StoredFundsReceipt:
    return StoredFundsReceipt(
        month=row.month,
        amount=row.amount,
        received_on=row.received_on,
        note=row.note,
        msgid=row.msgid,
        job_id=row.job_id,
        recorded_by=row.recorded_by,
        recorded_at=row.recorded_at,
    )


class SettledHere(NamedTuple):
    """A settlement made here, as a deduction's page names it and checks it."""

    slip_no: str
    settled_at: datetime
    fund_pay: Decimal
    revoked: bool


class AuditDeductionRepository:
    """Audit deductions as last fetched from upstream, one row per ``deduction_no``."""

    def __init__(self, session: Session):
        self._session = session

    def replace(
        self, month: str, deductions: Sequence[AuditDeduction], fetched_at: datetime
    ) -> None:
        """Make ``deductions`` the month's: every deduction kept for ``month`` or under one
        of their numbers is removed, then they are stored under ``month``."""
        numbers = [d.deduction_no for d in deductions]
        self._session.execute(
            delete(audit_deduction).where(
                (audit_deduction.c.month == month) | audit_deduction.c.deduction_no.in_(numbers)
            )
        )
        if deductions:
            self._session.execute(
                audit_deduction.insert(),
                [_deduction_values(d, month, fetched_at) for d in deductions],
            )

    def of_month(self, month: str, setl_id: str | None = None) -> list[AuditDeduction]:
        """The month's deductions (optionally one settlement's), by settlement then number."""
        query = select(audit_deduction).where(audit_deduction.c.month == month)
        if setl_id:
            query = query.where(audit_deduction.c.setl_id == setl_id)
        rows = self._session.execute(
            query.order_by(audit_deduction.c.setl_id, audit_deduction.c.deduction_no)
        )
        return [_deduction(row) for row in rows]

    def settlements_here(self, setl_ids: Collection[str]) -> dict[str, SettledHere]:
        """Of ``setl_ids``, the settlements made here, by id."""
        s = _settlement.c
        rows = self._session.execute(
            select(s.id, s.slip_no, s.settled_at, s.fund_pay, s.status).where(
                s.id.in_(sorted(setl_ids))
            )
        )
        return {
            row.id: SettledHere(
                row.slip_no,
                row.settled_at,
                row.fund_pay,
                row.status == SettlementStatus.REVOKED.value,
            )
            for row in rows
        }

    def deducted_elsewhere(self, setl_ids: Collection[str], month: str) -> dict[str, Decimal]:
        """Of ``setl_ids``, what the deductions kept under other months than ``month`` take
        from each settlement (summed here: exact)."""
        found: dict[str, Decimal] = {}
        d = audit_deduction.c
        rows = self._session.execute(
            select(d.setl_id, d.amount).where(d.setl_id.in_(sorted(setl_ids)), d.month != month)
        )
        for setl_id, amount in rows:
            found[setl_id] = found.get(setl_id, ZERO) + amount
        return found


def _deduction_values(d: AuditDeduction, month: str, fetched_at: datetime) -> dict[str, Any]:
    return {
        "deduction_no": d.deduction_no,
        "month": month,
        "setl_id": d.setl_id,
        "psn_no": d.psn_no,
        "item_code": d.item_code,
        "item_name": d.item_name,
        "amount": d.amount,
        "reason": d.reason,
        "fetched_at": fetched_at,
    }


def _deduction(row: Any) -> AuditDeduction:
    return AuditDeduction(
        deduction_no=row.deduction_no,
        month=row.month,
        setl_id=row.setl_id,
        psn_no=row.psn_no,
        item_code=row.item_code,
        item_name=row.item_name,
        amount=row.amount,
        reason=row.reason,
    )
