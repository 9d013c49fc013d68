"""Per-day service standards against the stay's days: the fund pays a bed, nursing or
ward-round day only for a day of the stay, and once (N§32, N§37, B§30).

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

**A day two stays share.** A worker discharged at 10:00 and readmitted here at 14:00 the same
day (one stay at a time, N§33: the two do not overlap) has that day in both stays, each
counting it. Billed in both, the day's bed was paid twice. So a stay's bound for a standard
also takes in the worker's other stays here that share a calendar day with it and whose days
are paid already — settled (the fund) or claimed by hand (the insured place), its
:class:`Neighbour` s: the days billed in the stay and in a neighbour may not exceed the
calendar days of the two together. As a bound on this stay: its days, less, for each
neighbour sharing ``S`` days with it, the shared days the neighbour certainly billed —
what it billed beyond its ``days − S`` days of its own, at most ``S``
(:meth:`Neighbour.holds`). A neighbour billing 计入不计出 (not its discharge day) holds no
shared day, and the readmission bills it. Refused as ``FEE_DAYS_SHARED_WITH_STAY``, naming
the neighbour, the shared day and what each billed; the HIS reverses the readmission's line
of that day and it settles.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from decimal import Decimal

from adapter.domain.errors import PricingError

ARTICLE = "N§32, N§37, B§30"
SHARED_ARTICLE = "N§32, N§33, N§37, B§30"
# the units of a standard paid per day of the stay, as catalogues write them
PER_DAY_UNITS = ("日", "天", "床日")
_NONE = Decimal(0)


@dataclass(frozen=True)
class DayItem:
    """One per-day service standard as a stay bills it: its catalogue code and name, and
    how many days the fund is asked to pay (quantities net of reversals)."""

    code: str
    name: str
    days: Decimal


@dataclass(frozen=True)
class StaySpan:
    """A stay's calendar days in the institution's zone, its first and last both counted."""

    first: date
    last: date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def shared(self, other: StaySpan) -> int:
        """How many calendar days this stay and ``other`` both have."""
        return max(0, (min(self.last, other.last) - max(self.first, other.first)).days + 1)

    def shared_dates(self, other: StaySpan) -> str:
        """The days both have, as the clerk reads them (one day, or the first to the last)."""
        first, last = max(self.first, other.first), min(self.last, other.last)
        return f"{first}" if first == last else f"{first}至{last}"


def stay_span(admitted_at: datetime, ended_at: datetime, zone: tzinfo) -> StaySpan:
    """The stay's calendar days in ``zone``, admission and discharge day both counted."""
    return StaySpan(admitted_at.astimezone(zone).date(), ended_at.astimezone(zone).date())


@dataclass(frozen=True)
class Neighbour:
    """Another stay of the worker here sharing calendar days with the one settling, whose
    per-day standards are paid already: by the fund (settled) or by the insured place by
    hand (``claimed``)."""

    span: StaySpan
    # what it is, its numbers, admission, end and status, as the clerk reads them:
    # 住院工伤医疗（就诊编号…，HIS住院号…，… 入院至 … 出院，状态“已结算”）
    described: str
    claimed: bool
    billed: Mapping[str, Decimal]  # days billed per catalogue code, net of reversals

    def holds(self, span: StaySpan, code: str) -> Decimal:
        """How many of the days it shares with ``span`` it certainly billed ``code`` for:
        the days it billed beyond its days not shared, at most the shared days."""
        shared = span.shared(self.span)
        beyond = self.billed.get(code, _NONE) - (self.span.days - shared)
        return max(_NONE, min(Decimal(shared), beyond))


@dataclass(frozen=True)
class SharedOver:
    """A standard the stay billed for more days than its neighbours leave it."""

    item: DayItem
    bound: Decimal  # the days left to this stay
    holders: tuple[Neighbour, ...]  # the neighbours holding shared days of it


def first_over(items: Sequence[DayItem], days: int) -> DayItem | None:
    """The first item billed for more days than ``days``, if any."""
    return next((item for item in items if item.days > days), None)


def first_shared_over(
    items: Sequence[DayItem], span: StaySpan, neighbours: Sequence[Neighbour]
) -> SharedOver | None:
    """The first item billed for more days than ``span`` has once the days its neighbours
    hold of it are taken away, if any."""
    for item in items:
        holders = tuple(n for n in neighbours if n.holds(span, item.code) > 0)
        # neighbours holding more days than the stay has leave it none (not fewer: a
        # standard reversed to nothing is not over)
        bound = max(_NONE, span.days - sum((n.holds(span, item.code) for n in holders), _NONE))
        if item.days > bound:
            return SharedOver(item, bound, holders)
    return None


def refuse_days_over_stay(item: DayItem, line_ids: Sequence[str], span: StaySpan) -> None:
    """Raise the refusal of ``item``, billed by ``line_ids``, for more days than the stay."""
    raise PricingError(
        f"费用明细{'、'.join(line_ids)}的{item.name}（{item.code}）按日支付，共计"
        f"{_days(item.days)}日，超过本次住院的{span.days}天（{span.first}入院至{span.last}出院，"
        "入院、出院当日均计）：住院服务标准按住院天数支付，基金不能支付住院以外的天数"
        f"（N§32、N§37、B§30）。请冲销多计或重复的{item.name}明细，或核对出院时间",
        code="FEE_DAYS_OVER_STAY",
        article=ARTICLE,
        field="discharged_at",
    )


def refuse_days_shared(over: SharedOver, line_ids: Sequence[str], span: StaySpan) -> None:
    """Raise the refusal of ``over``, billed by ``line_ids``, for days its neighbours hold."""
    item = over.item
    shared = "、".join(span.shared_dates(n.span) for n in over.holders)
    others = "；".join(
        f"该工伤职工在本机构的另一次{n.described}也有{span.shared_dates(n.span)}这一天，该次住院{n.span.days}天计"
        f"{_days(n.billed.get(item.code, _NONE))}日{item.name}，"
        f"{span.shared_dates(n.span)}的{item.name}已在该次住院"
        f"{'转手工报销' if n.claimed else '由基金支付'}"
        for n in over.holders
    )
    raise PricingError(
        f"费用明细{'、'.join(line_ids)}的{item.name}（{item.code}）按日支付，本次住院（"
        f"{span.first}入院至{span.last}出院，{span.days}天）共计{_days(item.days)}日；{others}"
        f"：同一天的住院服务标准只能支付一次（N§32、N§37、B§30），同一时间只能有一次住院"
        f"（N§33），本次住院最多计{_days(over.bound)}日。请冲销本次住院{shared}的{item.name}"
        "明细后重新结算",
        code="FEE_DAYS_SHARED_WITH_STAY",
        article=SHARED_ARTICLE,
        field="discharged_at",
    )


def _days(days: Decimal) -> str:
    return f"{days.normalize():f}"
