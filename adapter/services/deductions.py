"""Audit deductions (审核扣款): what the fund refused on audit, and why (N§37, B§25).

The district agency audits each month's settlements and deducts non-compliant fees —
treatment of a non-work injury, fees over the standard or outside the catalogue, treatment
against clinical norms — and uploads the deductions (N§37, B§25). :meth:`Deductions.fetch`
reads them (``WI3202``) and keeps them, one row per ``deduction_no`` (a later fetch replaces
upstream's words); :meth:`Deductions.month` shows them per settlement, with the local
settlement's slip number when it is ours, and the month's totals.

The fund deducts from what it pays: a settlement of ours whose deductions, in this month and
the others kept, come to more than its fund part — the same fee deducted twice — or that was
revoked (the fund pays nothing for it) carries a warning for the clerk to take up with the
agency (:func:`warning_of`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from adapter.domain.money import ZERO
from adapter.domain.settlement import settlement_day
from adapter.domain.upstream import AuditDeduction
from adapter.services.context import ServiceContext
from adapter.services.reconciliation import require_month
from adapter.store.repositories import SettledHere


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
    warning: str = ""  # why these deductions cannot stand (Chinese), else ""


def warning_of(total: Decimal, elsewhere: Decimal, local: SettledHere | None) -> str:
    """What is wrong with deducting ``total`` this month and ``elsewhere`` in other months
    from ``local`` (N§37, B§25): the fund deducts only from what it paid."""
    if local is None:
        return ""
    if local.revoked:
        return "该结算已撤销，基金未支付，不应审核扣款：请与区级经办机构核对（N§37、B§25）"
    deducted = total + elsewhere
    if deducted <= local.fund_pay:
        return ""
    months = f"（本月{total}元，其他月份{elsewhere}元）" if elsewhere else ""
    return (
        f"该结算审核扣款合计{deducted}元{months}，超过基金支付{local.fund_pay}元：可能重复扣款，"
        "请与区级经办机构核对（N§37、B§25）"
    )


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
            uow.audit_deductions.replace(month, list(rows.values()), now)
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
        with ctx.uow() as uow:
            rows = uow.audit_deductions.of_month(month, setl_id)
            ours = uow.audit_deductions.settlements_here({d.setl_id for d in rows})
            elsewhere = uow.audit_deductions.deducted_elsewhere(ours, month)
        grouped: dict[str, list[AuditDeduction]] = defaultdict(list)
        for deduction in rows:
            grouped[deduction.setl_id].append(deduction)
        settlements = []
        for sid, items in grouped.items():
            local = ours.get(sid)
            total = sum((d.amount for d in items), ZERO)
            settlements.append(
                SettlementDeductions(
                    setl_id=sid,
                    psn_no=items[0].psn_no,
                    slip_no=local.slip_no if local else "",
                    settles_on=settlement_day(local.settled_at, ctx.zone) if local else None,
                    known_here=local is not None,
                    total=total,
                    deductions=tuple(items),
                    warning=warning_of(total, elsewhere.get(sid, ZERO), local),
                )
            )
        return MonthDeductions(
            month=month,
            count=len(rows),
            total=sum((s.total for s in settlements), ZERO),
            settlements=tuple(settlements),
        )
