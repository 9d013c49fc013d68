"""Audit deductions (审核扣款): what the fund refused on audit, and why (N§37, B§25).

The district agency audits each month's settlements and deducts non-compliant fees —
treatment of a non-work injury, fees over the standard or outside the catalogue, treatment
against clinical norms — and uploads the deductions (N§37, B§25). :meth:`Deductions.fetch`
reads them (``WI3202``) and keeps them, one row per ``deduction_no`` (a later fetch replaces
upstream's words); :meth:`Deductions.month` shows them per settlement, with the local
settlement's slip number when it is ours, and the month's totals.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select

from adapter.domain.money import ZERO
from adapter.domain.settlement import settlement_day
from adapter.domain.upstream import AuditDeduction
from adapter.services.context import ServiceContext
from adapter.services.reconciliation import require_month
from adapter.store.sql import table
from adapter.store.tables import SettlementRow
from adapter.store.tables.monthly import audit_deduction

_settlement = table(SettlementRow)


@dataclass(frozen=True)
class SettlementDeductions:
    """One settlement's deductions; ``slip_no`` is empty when the settlement is not ours."""

    setl_id: str
    psn_no: str
    slip_no: str
    settles_on: date | None
    known_here: bool
    total: Decimal
    deductions: tuple[AuditDeduction, ...]


@dataclass(frozen=True)
class MonthDeductions:
    month: str
    count: int
    total: Decimal
    settlements: tuple[SettlementDeductions, ...]


class Deductions:
    def __init__(self, ctx: ServiceContext):
        self._ctx = ctx

    def fetch(self, month: str, *, actor: str) -> MonthDeductions:
        """Read the month's deductions upstream (``WI3202``), keep them, return the month.

        A deduction upstream no longer lists for the month is removed: upstream's list is
        the truth of what the fund deducted.
        """
        ctx = self._ctx
        require_month(month, ctx.local_date(ctx.now()))
        found = ctx.gateway.audit_deductions(month, context=f"deductions:{month}")
        now = ctx.now()
        with ctx.uow() as uow:
            rows = {d.deduction_no: d for d in found if d.month in ("", month)}
            uow.session.execute(
                delete(audit_deduction).where(
                    (audit_deduction.c.month == month)
                    | audit_deduction.c.deduction_no.in_(list(rows))
                )
            )
            if rows:
                uow.session.execute(
                    audit_deduction.insert(),
                    [_values(d, month, now) for d in rows.values()],
                )
            uow.audit.append(
                actor=actor,
                action="deductions.fetch",
                subject_type="month",
                subject_id=month,
                details={
                    "count": len(rows),
                    "total": str(sum((d.amount for d in rows.values()), ZERO)),
                },
            )
            uow.commit()
        return self.month(month)

    def month(self, month: str, *, setl_id: str | None = None) -> MonthDeductions:
        """The kept deductions of ``month`` (optionally one settlement's), per settlement."""
        ctx = self._ctx
        require_month(month, ctx.local_date(ctx.now()))
        query = select(audit_deduction).where(audit_deduction.c.month == month)
        if setl_id:
            query = query.where(audit_deduction.c.setl_id == setl_id)
        with ctx.uow() as uow:
            rows = uow.session.execute(
                query.order_by(audit_deduction.c.setl_id, audit_deduction.c.deduction_no)
            ).all()
            ids = sorted({row.setl_id for row in rows})
            ours = {
                row.id: row
                for row in uow.session.execute(
                    select(_settlement.c.id, _settlement.c.slip_no, _settlement.c.settled_at).where(
                        _settlement.c.id.in_(ids)
                    )
                )
            }
        grouped: dict[str, list[AuditDeduction]] = defaultdict(list)
        for row in rows:
            grouped[row.setl_id].append(_deduction(row))
        settlements = []
        for sid, items in grouped.items():
            local = ours.get(sid)
            settlements.append(
                SettlementDeductions(
                    setl_id=sid,
                    psn_no=items[0].psn_no,
                    slip_no=local.slip_no if local else "",
                    settles_on=settlement_day(local.settled_at, ctx.zone) if local else None,
                    known_here=local is not None,
                    total=sum((d.amount for d in items), ZERO),
                    deductions=tuple(items),
                )
            )
        return MonthDeductions(
            month=month,
            count=len(rows),
            total=sum((s.total for s in settlements), ZERO),
            settlements=tuple(settlements),
        )


def _values(d: AuditDeduction, month: str, now: Any) -> dict[str, Any]:
    return {
        "deduction_no": d.deduction_no,
        "month": month,
        "setl_id": d.setl_id,
        "psn_no": d.psn_no,
        "item_code": d.item_code,
        "item_name": d.item_name,
        "amount": d.amount,
        "reason": d.reason,
        "fetched_at": now,
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
