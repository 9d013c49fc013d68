"""Per-day service standards against the stay's days: the fund pays a bed, nursing or
ward-round day only for a day of the stay (N§32, N§37, B§30).

N§32 and B§30 pay a stay's bed, nursing and ward-round fees by the treatment place's
住院服务标准, a standard *per day* (its unit 日); a day the worker was not in hospital is no
day of the standard, and N§37 has the fund's reviewer deduct it. An item of that kind billed,
net of its reversals, for more days than the stay has cannot be the stay's: a line posted
twice by the HIS, or a discharge time typed too early. It is refused at settlement, as a fee
after the discharge is (``DISCHARGE_BEFORE_FEES``), rather than charged to the worker: the
worker was not in that bed either, and the HIS corrects it by a reversal.

The stay's days are its calendar days in the institution's time zone, the admission's and the
discharge's both counted: the sources fix no 计入不计出 convention, so a hospital billing both
end days is not refused (its reviewer may still deduct one under N§37). Only the days the
fund pays for count: a non-work-injury (B§29) or out-of-catalogue day is the worker's already.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import Decimal

from adapter.domain.errors import PricingError

ARTICLE = "N§32, N§37, B§30"
# the units of a standard paid per day of the stay, as catalogues write them
PER_DAY_UNITS = ("日", "天", "床日")


@dataclass(frozen=True)
class DayItem:
    """One per-day service standard as a stay bills it: its catalogue code and name, and
    how many days the fund is asked to pay (quantities net of reversals)."""

    code: str
    name: str
    days: Decimal


def stay_days(admitted_at: datetime, discharged_at: datetime, zone: tzinfo) -> int:
    """The stay's calendar days in ``zone``, admission and discharge day both counted."""
    first = admitted_at.astimezone(zone).date()
    return (discharged_at.astimezone(zone).date() - first).days + 1


def first_over(items: Sequence[DayItem], days: int) -> DayItem | None:
    """The first item billed for more days than ``days``, if any."""
    return next((item for item in items if item.days > days), None)


def refuse_days_over_stay(
    item: DayItem,
    line_ids: Sequence[str],
    admitted_at: datetime,
    discharged_at: datetime,
    zone: tzinfo,
) -> None:
    """Raise the refusal of ``item``, billed by ``line_ids``, for more days than the stay."""
    days = stay_days(admitted_at, discharged_at, zone)
    admitted = admitted_at.astimezone(zone).date()
    discharged = discharged_at.astimezone(zone).date()
    raise PricingError(
        f"费用明细{'、'.join(line_ids)}的{item.name}（{item.code}）按日支付，共计"
        f"{item.days.normalize():f}日，超过本次住院的{days}天（{admitted}入院至{discharged}出院，"
        "入院、出院当日均计）：住院服务标准按住院天数支付，基金不能支付住院以外的天数"
        f"（N§32、N§37、B§30）。请冲销多计或重复的{item.name}明细，或核对出院时间",
        code="FEE_DAYS_OVER_STAY",
        article=ARTICLE,
        field="discharged_at",
    )
