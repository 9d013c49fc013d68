"""``GET /api/v1/deductions/{yyyy-mm}`` and ``POST …/fetch`` (billing, it): audit deductions
(审核扣款, N§37, B§25) per settlement with upstream's reasons, and the month's totals."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Path, Query

from adapter.api.duplicate_keys import ParsedOnce
from adapter.api.monthly.common import BillingOrIt, MonthlyDep
from adapter.api.routes.common import Money, Out
from adapter.domain.months import MONTH_PATTERN
from adapter.services.deductions import MonthDeductions

router = APIRouter(prefix="/api/v1/deductions", tags=["audit deductions"], route_class=ParsedOnce)
MonthPath = Path(pattern=MONTH_PATTERN, examples=["2026-10"], description="YYYY-MM")


class DeductionOut(Out):
    deduction_no: str
    item_code: str
    item_name: str
    amount: Money
    reason: str


class SettlementDeductionsOut(Out):
    setl_id: str
    psn_no: str
    slip_no: str
    settles_on: date | None
    known_here: bool  # False: upstream names a settlement this adapter does not hold
    total: Money
    deductions: list[DeductionOut]
    warning: str  # more deducted than the fund paid, or from a revoked settlement; else ""


class MonthDeductionsOut(Out):
    month: str
    count: int
    total: Money
    settlements: list[SettlementDeductionsOut]

    @classmethod
    def of(cls, month: MonthDeductions) -> MonthDeductionsOut:
        return cls(
            month=month.month,
            count=month.count,
            total=month.total,
            settlements=[
                SettlementDeductionsOut(
                    setl_id=s.setl_id,
                    psn_no=s.psn_no,
                    slip_no=s.slip_no,
                    settles_on=s.settles_on,
                    known_here=s.known_here,
                    total=s.total,
                    warning=s.warning,
                    deductions=[
                        DeductionOut(
                            deduction_no=d.deduction_no,
                            item_code=d.item_code,
                            item_name=d.item_name,
                            amount=d.amount,
                            reason=d.reason,
                        )
                        for d in s.deductions
                    ],
                )
                for s in month.settlements
            ],
        )


@router.get("/{month}", response_model=MonthDeductionsOut, summary="The month's deductions")
def month_deductions(
    monthly: MonthlyDep,
    _: BillingOrIt,
    month: str = MonthPath,
    settlement: str | None = Query(None, description="only this settlement (setl_id)"),
) -> MonthDeductionsOut:
    return MonthDeductionsOut.of(monthly.deductions.month(month, setl_id=settlement))


@router.post(
    "/{month}/fetch",
    response_model=MonthDeductionsOut,
    summary="Fetch the month's deductions from upstream (WI3202) and keep them",
)
def fetch(
    monthly: MonthlyDep, principal: BillingOrIt, month: str = MonthPath
) -> MonthDeductionsOut:
    return MonthDeductionsOut.of(monthly.deductions.fetch(month, actor=principal.name))
