"""Device fund receipts (月度结算收款确认, B§40).

A device-fitting institution, once a month's settlement funds have arrived, confirms the
receipt in the national system. :meth:`DeviceFunds.confirm` records the receipt and queues
the confirmation (``WI3301``) in the same transaction, through the :class:`Outbox` port —
the ``msgid`` is the job's idempotency key, so a retry can never confirm twice.

A month *needs* a confirmation, once it is over, when this institution settled at least one
device fitting in it and the fund owes part of them once the agency's audit deductions of
the month are taken off (N§37, B§25: a month of fittings the workers paid alone, or deducted
in full, awaits no funds); what it owes is what the counter is told to expect. The month not
yet over is listed as not due (``open``, 本月未结束，待清算): it is cleared after it ends and
its funds follow, so there is nothing to confirm yet. It is *overdue* from
``remind_after_day`` of the following month (the district agency pushes the month's data on
the 20th, B§37, and the funds follow). :meth:`DeviceFunds.remind` logs
``device_funds_unconfirmed`` for each overdue month; :meth:`DeviceFunds.health` is a
``/healthz`` probe that lists them without failing the check.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError

from adapter.domain.errors import Conflict, DomainError, InvalidMessage
from adapter.domain.money import ZERO, is_fen
from adapter.domain.months import first_day, month_of, next_month
from adapter.domain.upstream import Infno
from adapter.services.context import ServiceContext
from adapter.services.payloads import job_payload, money
from adapter.services.reconciliation import require_month
from adapter.store.repositories import StoredFundsReceipt

log = logging.getLogger("adapter")
ARTICLE = "B§40"


@dataclass(frozen=True)
class FundsReceipt:
    month: str
    amount: Decimal
    received_on: date
    note: str
    msgid: str
    job_id: int
    recorded_by: str
    recorded_at: datetime
    confirmed_upstream: bool  # the WI3301 was acknowledged


@dataclass(frozen=True)
class MonthFunds:
    """A month with device settlements: what the fund owes, and whether receipt is confirmed."""

    month: str
    settlements: int
    fund_pay: Decimal  # the fund's part of the month's fittings, as settled
    receipt: FundsReceipt | None
    overdue: bool  # unconfirmed past the reminder day
    deducted: Decimal = ZERO  # the agency's audit deductions from them, for the month (N§37)
    # The month is not over: its fittings are cleared after it ends and the funds follow, so
    # there is nothing to confirm yet (B§37, B§40) — not due, never "unconfirmed".
    open: bool = False

    @property
    def due(self) -> Decimal:
        """What the fund owes for the month: its part, less the audit deductions."""
        return self.fund_pay - self.deducted

    @property
    def awaits_funds(self) -> bool:
        """The fund owes something for the month, or a receipt was recorded (B§40)."""
        return self.due > 0 or self.receipt is not None

    @property
    def status(self) -> str:
        """``open`` (the month is not over: not due yet), ``unconfirmed``, ``queued`` (the
        confirmation is on its way upstream) or ``confirmed``."""
        if self.receipt is None:
            return "open" if self.open else "unconfirmed"
        return "confirmed" if self.receipt.confirmed_upstream else "queued"


class DeviceFunds:
    def __init__(
        self,
        ctx: ServiceContext,
        *,
        remind_after_day: int = 25,
        confirm_within: timedelta = timedelta(days=1),
    ):
        if not 1 <= remind_after_day <= 28:
            raise ValueError("remind_after_day must be 1..28")
        self._ctx = ctx
        self.remind_after_day = remind_after_day
        self.confirm_within = confirm_within

    def _require_device_institution(self) -> None:
        if "device" not in self._ctx.institution.kinds:
            raise DomainError(
                "本机构不是辅助器具配置直接结算协议机构，无需进行月度结算收款确认",
                code="NOT_DEVICE_INSTITUTION",
                article=ARTICLE,
            )

    def confirm(
        self,
        month: str,
        amount: Decimal,
        *,
        actor: str,
        received_on: date | None = None,
        note: str = "",
    ) -> FundsReceipt:
        """Record that ``month``'s funds (``amount``) arrived and queue ``WI3301``.

        The same month and amount again returns the first receipt (a repeated click);
        another amount for a confirmed month is a :class:`Conflict`.
        """
        ctx = self._ctx
        self._require_device_institution()
        now = ctx.now()
        today = ctx.local_date(now)
        require_month(month, today)
        if month >= month_of(today):
            raise InvalidMessage(
                f"{month}尚未结束，月度结算资金须在次月到账后确认", field="month", code="MONTH_OPEN"
            )
        if amount <= 0 or not is_fen(amount):
            raise InvalidMessage("到账金额须大于0并精确到分", field="amount", code="AMOUNT_INVALID")
        received_on = received_on or today
        if received_on > today or received_on < first_day(next_month(month)):
            raise InvalidMessage(
                f"到账日期须在{next_month(month)}-01至今天之间", field="received_on"
            )
        existing = self.receipt(month)
        if existing is not None:
            return self._replay(existing, amount)
        msgid = ctx.msgids.next()
        input = {
            "fixmedins_code": ctx.institution.code,
            "month": month,
            "amount": money(amount),
            "received_on": received_on.isoformat(),
            "note": note,
        }
        context = f"device-funds:{month}"
        try:
            with ctx.uow() as uow:
                queued = ctx.outbox.enqueue(
                    uow.session,
                    kind=Infno.DEVICE_FUNDS_CONFIRM.value,
                    payload=job_payload(
                        Infno.DEVICE_FUNDS_CONFIRM, msgid, input, insuplc_admdvs="", context=context
                    ),
                    idempotency_key=msgid,
                    ordering_key=context,
                    deadline=now + self.confirm_within,
                )
                uow.device_funds.add(
                    StoredFundsReceipt(
                        month=month,
                        amount=amount,
                        received_on=received_on,
                        note=note,
                        msgid=queued.msgid,
                        job_id=queued.job_id,
                        recorded_by=actor,
                        recorded_at=now,
                    )
                )
                uow.audit.append(
                    actor=actor,
                    action="device_funds.confirm",
                    subject_type="month",
                    subject_id=month,
                    details={"amount": money(amount), "msgid": queued.msgid, "article": ARTICLE},
                )
                uow.commit()
        except IntegrityError:  # another clerk confirmed the month a moment ago
            existing = self.receipt(month)
            if existing is None:
                raise
            return self._replay(existing, amount)
        found = self.receipt(month)
        assert found is not None
        return found

    def _replay(self, existing: FundsReceipt, amount: Decimal) -> FundsReceipt:
        if existing.amount != amount:
            # the day the clerk confirmed it, where the institution is (stored in UTC)
            confirmed_on = self._ctx.local_date(existing.recorded_at)
            raise Conflict(
                f"{existing.month}的月度结算资金已于{confirmed_on}确认到账"
                f"（{existing.amount}元），不能再次确认为{amount}元",
                code="DEVICE_FUNDS_ALREADY_CONFIRMED",
                article=ARTICLE,
            )
        return existing

    def receipt(self, month: str) -> FundsReceipt | None:
        with self._ctx.uow() as uow:
            row = uow.device_funds.get(month)
            return (
                _receipt(row, self._ctx.outbox.delivered(uow.session, row.msgid)) if row else None
            )

    def months(self, *, limit: int = 24) -> list[MonthFunds]:
        """Months with device settlements (and any month with a receipt), newest first."""
        ctx = self._ctx
        today = ctx.local_date(ctx.now())
        with ctx.uow() as uow:
            settled = uow.device_funds.settled_by_month(ctx.institution.code)
            deducted = uow.device_funds.deducted_by_month(ctx.institution.code)
            receipts = {
                row.month: _receipt(row, ctx.outbox.delivered(uow.session, row.msgid))
                for row in uow.device_funds.receipts()
            }
        found = []
        for month in sorted(set(settled) | set(receipts), reverse=True)[:limit]:
            count, total = settled.get(month, (0, ZERO))
            receipt = receipts.get(month)
            due = first_day(next_month(month)).replace(day=self.remind_after_day)
            taken = deducted.get(month, ZERO)
            # A month whose fittings the fund paid nothing (the workers paid every item, N§34),
            # or whose part the agency deducted in full (N§37), has no funds to arrive, and a
            # receipt must be more than 0.00: nothing is overdue.
            overdue = receipt is None and total - taken > 0 and today >= due
            is_open = month >= month_of(today)  # confirmed only once it is over (B§40)
            found.append(MonthFunds(month, count, total, receipt, overdue, taken, is_open))
        return found

    def overdue(self) -> list[MonthFunds]:
        if "device" not in self._ctx.institution.kinds:
            return []
        return [m for m in self.months() if m.overdue]

    def remind(self) -> list[str]:
        """Log ``device_funds_unconfirmed`` for each overdue month; returns those months."""
        months = self.overdue()
        for m in months:
            log.warning(
                "device_funds_unconfirmed month=%s fund_pay=%s",
                m.month,
                m.fund_pay,
                extra={"event": "device_funds_unconfirmed", "month": m.month, "article": ARTICLE},
            )
        return [m.month for m in months]

    def health(self) -> dict[str, Any]:
        """A ``/healthz`` probe: overdue months are reported, never a failure."""
        months = [m.month for m in self.overdue()]
        body: dict[str, Any] = {"ok": True, "unconfirmed_months": months}
        if months:
            body["message"] = f"{'、'.join(months)}的月度结算资金尚未确认到账（B§40）"
        return body


def _receipt(row: StoredFundsReceipt, delivered: bool) -> FundsReceipt:
    return FundsReceipt(
        month=row.month,
        amount=row.amount,
        received_on=row.received_on,
        note=row.note,
        msgid=row.msgid,
        job_id=row.job_id,
        recorded_by=row.recorded_by,
        recorded_at=row.recorded_at,
        confirmed_upstream=delivered,
    )
