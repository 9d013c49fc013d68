"""The monthly work's records (:mod:`adapter.store.tables.monthly`) that the use cases reach
through the unit of work: device fund receipts (B§40)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from adapter.domain.money import to_fen
from adapter.domain.settlement import SettlementStatus
from adapter.store.sql import table
from adapter.store.tables import EncounterRow, SettlementRow
from adapter.store.tables.monthly import device_funds_receipt

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
