"""Device fund receipts (B§40): ``GET /api/v1/device-funds`` (device, billing, it) lists the
months with device settlements and whether their funds are confirmed; ``POST
/api/v1/device-funds/{yyyy-mm}/confirm`` (device) records receipt and queues ``WI3301``."""

from __future__ import annotations

from datetime import date, datetime

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from adapter.api.duplicate_keys import ParsedOnce
from adapter.api.monthly.common import Device, DeviceOrIt, MonthlyDep
from adapter.api.routes.common import Money, MoneyIn, Out, examples
from adapter.domain.months import MONTH_PATTERN
from adapter.services.device_funds import FundsReceipt, MonthFunds

router = APIRouter(prefix="/api/v1/device-funds", tags=["device funds"], route_class=ParsedOnce)
MonthPath = Path(pattern=MONTH_PATTERN, examples=["2026-10"], description="YYYY-MM")


class ConfirmIn(BaseModel):
    amount: MoneyIn
    received_on: date | None = Field(None, description="到账日期; default today")
    note: str = Field("", max_length=500)

    model_config = examples({"amount": "29800.00", "received_on": "2026-11-23", "note": ""})


class ReceiptOut(Out):
    month: str
    amount: Money
    received_on: date
    note: str
    msgid: str
    job_id: int
    recorded_by: str
    recorded_at: datetime
    confirmed_upstream: bool

    @classmethod
    def of(cls, r: FundsReceipt) -> ReceiptOut:
        return cls(
            month=r.month,
            amount=r.amount,
            received_on=r.received_on,
            note=r.note,
            msgid=r.msgid,
            job_id=r.job_id,
            recorded_by=r.recorded_by,
            recorded_at=r.recorded_at,
            confirmed_upstream=r.confirmed_upstream,
        )


class MonthFundsOut(Out):
    month: str
    settlements: int
    fund_pay: Money  # the fund's part of the month's fittings, as settled
    deducted: Money  # the agency's audit deductions from them (N§37)
    due: Money  # what the fund owes: fund_pay less deducted
    status: str = Field(
        description="open (the month is not over: not due, nothing to confirm yet, B§40) | "
        "unconfirmed | queued (confirmed, WI3301 on its way) | confirmed"
    )
    overdue: bool
    receipt: ReceiptOut | None

    @classmethod
    def of(cls, m: MonthFunds) -> MonthFundsOut:
        return cls(
            month=m.month,
            settlements=m.settlements,
            fund_pay=m.fund_pay,
            deducted=m.deducted,
            due=m.due,
            status=m.status,
            overdue=m.overdue,
            receipt=ReceiptOut.of(m.receipt) if m.receipt else None,
        )


@router.get("", response_model=list[MonthFundsOut], summary="Months and their fund receipts")
def months(monthly: MonthlyDep, _: DeviceOrIt) -> list[MonthFundsOut]:
    return [MonthFundsOut.of(m) for m in monthly.device_funds.months()]


@router.post(
    "/{month}/confirm",
    response_model=ReceiptOut,
    status_code=201,
    summary="Record the month's funds as received and confirm upstream (WI3301, queued)",
)
def confirm(
    body: ConfirmIn, monthly: MonthlyDep, principal: Device, month: str = MonthPath
) -> ReceiptOut:
    receipt = monthly.device_funds.confirm(
        month, body.amount, actor=principal.name, received_on=body.received_on, note=body.note
    )
    return ReceiptOut.of(receipt)
