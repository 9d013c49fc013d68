"""Settlement: a stay's (or a fitting's) priced lines totalled into one bill.

The totals are sums of the priced lines, so fund + personal = total holds to the fen for
every bill. The personal part is split three ways, as the slip shows it: out of catalogue,
over the standard or limit, non-work injury. Excluded lines (meal subsidy, transport) are
listed apart and are not in the total (N§3, B§30). A stay that crosses a calendar year is
settled as one bill at the discharge date (N§36, B§41).

Two dates, two meanings:

* :attr:`Bill.discharged_on` — the local discharge date (the fitting date for a device): the
  end of the stay, what ``crosses_year`` and the slip's 出院日期 are about;
* :func:`settlement_day` — the day the *settlement* belongs to: the local calendar day of its
  settlement time (结算时间). Its month, the ``setl_date`` upstream is sent, its slip number,
  the device-fund month, the monthly lists and reconciliation all use this one rule (N§35,
  as upstream counts ``setl_time``). A stay discharged at 23:00 on 31 January and settled at
  00:20 on 1 February is February's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from decimal import Decimal
from enum import StrEnum

from adapter.domain.encounters import Encounter
from adapter.domain.fees import FeeCategory, FeeLine
from adapter.domain.money import ZERO
from adapter.domain.pricing import PersonalReason, PricedBill, PricedLine
from adapter.domain.rules import Rule

ONE_BILL_ACROSS_YEARS = Rule(
    "ST_ONE_BILL_ACROSS_YEARS",
    "N§36, B§41",
    "住院跨自然年度，以出院结算日期为结算时点，按一笔费用整体结算",
)


@dataclass(frozen=True)
class Breakdown:
    total: Decimal
    fund_pay: Decimal
    personal_pay: Decimal
    out_of_catalogue: Decimal  # 目录外
    over_limit: Decimal  # 超标准/超限额
    non_work_injury: Decimal  # 非工伤
    excluded_total: Decimal = ZERO  # meal subsidy, transport: not in the bill

    @classmethod
    def of(cls, lines: Iterable[PricedLine], excluded: Iterable[FeeLine] = ()) -> Breakdown:
        total = fund = ZERO
        personal: dict[PersonalReason | None, Decimal] = defaultdict(lambda: ZERO)
        for line in lines:
            total += line.amount
            fund += line.fund_pay
            personal[line.reason] += line.personal_pay
        return cls._summed(total, fund, personal, excluded)

    @classmethod
    def of_groups(cls, groups: Iterable[LineGroup], excluded: Iterable[FeeLine] = ()) -> Breakdown:
        """The same sums as :meth:`of`, from the lines' sums per category and reason."""
        total = fund = ZERO
        personal: dict[PersonalReason | None, Decimal] = defaultdict(lambda: ZERO)
        for group in groups:
            total += group.total
            fund += group.fund_pay
            personal[group.reason] += group.personal_pay
        return cls._summed(total, fund, personal, excluded)

    @classmethod
    def _summed(
        cls,
        total: Decimal,
        fund: Decimal,
        personal: dict[PersonalReason | None, Decimal],
        excluded: Iterable[FeeLine],
    ) -> Breakdown:
        return cls(
            total=total,
            fund_pay=fund,
            personal_pay=total - fund,
            out_of_catalogue=personal[PersonalReason.OUT_OF_CATALOGUE],
            over_limit=personal[PersonalReason.OVER_LIMIT],
            non_work_injury=personal[PersonalReason.NON_WORK_INJURY],
            excluded_total=sum((line.amount for line in excluded), ZERO),
        )


@dataclass(frozen=True)
class LineGroup:
    """Priced lines of one fee category and one reason for a personal part, summed (the
    store sums a long stay's stored prices; see :func:`summed_bill`)."""

    category: FeeCategory
    reason: PersonalReason | None
    count: int
    total: Decimal
    fund_pay: Decimal
    personal_pay: Decimal


@dataclass(frozen=True)
class CategoryTotal:
    category: str
    total: Decimal
    fund_pay: Decimal
    personal_pay: Decimal


@dataclass(frozen=True)
class Sums:
    """A bill summed without its priced lines: how many there are, and their category totals
    in the order the categories first appear."""

    lines: int
    categories: tuple[CategoryTotal, ...]


@dataclass(frozen=True)
class Bill:
    """What a settlement computes; nothing is written until the service settles it.

    A stay's settlement is summed from its stored prices (:func:`summed_bill`): it carries its
    totals and ``sums``, and of its priced lines, which the settlement's snapshot keeps (a
    90-day stay has 10,000), at most the first few its answer shows. Every other bill carries
    all its lines."""

    lines: tuple[PricedLine, ...]
    excluded: tuple[FeeLine, ...]
    breakdown: Breakdown
    discharged_on: date  # the local discharge (fitting) date: the stay's, not the settlement's
    crosses_year: bool
    notes: tuple[str, ...] = ()
    sums: Sums | None = None

    @property
    def line_count(self) -> int:
        """How many priced lines the bill has (carried or summed)."""
        return self.sums.lines if self.sums is not None else len(self.lines)

    def by_category(self) -> tuple[CategoryTotal, ...]:
        """Totals per fee category, in the order categories first appear on the bill."""
        if self.sums is not None:
            return self.sums.categories
        # keyed by the member (a str: hashed in C), its value read once per category, not
        # once per line: an enum's ``value`` is a Python-level descriptor, 10,000 calls a bill
        sums: dict[FeeCategory, list[Decimal]] = {}
        for line in self.lines:
            category = line.line.category
            entry = sums.get(category)
            if entry is None:
                entry = sums[category] = [ZERO, ZERO, ZERO]
            entry[0] += line.amount
            entry[1] += line.fund_pay
            entry[2] += line.personal_pay
        return tuple(CategoryTotal(k.value, *v) for k, v in sums.items())


def _across_years(admitted_at: datetime, discharged_at: datetime) -> tuple[bool, tuple[str, ...]]:
    crosses_year = admitted_at.year != discharged_at.year
    return crosses_year, (ONE_BILL_ACROSS_YEARS.message,) if crosses_year else ()


def make_bill(priced: PricedBill, admitted_at: datetime, discharged_at: datetime) -> Bill:
    crosses_year, notes = _across_years(admitted_at, discharged_at)
    return Bill(
        lines=priced.lines,
        excluded=priced.excluded,
        breakdown=Breakdown.of(priced.lines, priced.excluded),
        discharged_on=discharged_at.date(),
        crosses_year=crosses_year,
        notes=notes,
    )


def summed_bill(
    groups: Sequence[LineGroup],
    excluded: Sequence[FeeLine],
    admitted_at: datetime,
    discharged_at: datetime,
) -> Bill:
    """:func:`make_bill` from the priced lines' sums per category and reason (``groups``, in
    the order they first appear): the same totals, to the fen, without the lines."""
    crosses_year, notes = _across_years(admitted_at, discharged_at)
    categories: dict[FeeCategory, list[Decimal]] = {}
    for group in groups:
        entry = categories.setdefault(group.category, [ZERO, ZERO, ZERO])
        entry[0] += group.total
        entry[1] += group.fund_pay
        entry[2] += group.personal_pay
    return Bill(
        lines=(),
        excluded=tuple(excluded),
        breakdown=Breakdown.of_groups(groups, excluded),
        discharged_on=discharged_at.date(),
        crosses_year=crosses_year,
        notes=notes,
        sums=Sums(
            sum(group.count for group in groups),
            tuple(CategoryTotal(k.value, *v) for k, v in categories.items()),
        ),
    )


class SettlementStatus(StrEnum):
    SETTLED = "settled"
    REVOKED = "revoked"

    @property
    def label(self) -> str:
        return {"settled": "已结算", "revoked": "已撤销"}[self.value]


@dataclass(frozen=True)
class Settlement:
    id: str
    encounter: Encounter
    slip_no: str
    settled_at: datetime
    bill: Bill
    operator: str = ""
    status: SettlementStatus = SettlementStatus.SETTLED
    revoked_at: datetime | None = None
    revoke_reason: str = ""

    @property
    def breakdown(self) -> Breakdown:
        return self.bill.breakdown

    def settled_on(self, zone: tzinfo) -> date:
        """The day this settlement belongs to: :func:`settlement_day` of its settlement time."""
        return settlement_day(self.settled_at, zone)

    def month_in(self, zone: tzinfo) -> str:
        """The month (``YYYY-MM``) this settlement belongs to: :func:`settlement_month`."""
        return settlement_month(self.settled_at, zone)


def settlement_day(settled_at: datetime, zone: tzinfo) -> date:
    """The day a settlement belongs to, for every purpose of the settlement itself: the
    calendar day of its settlement time where the institution is (``zone``), not the
    discharge date (N§35; upstream files it by ``setl_time``)."""
    if settled_at.tzinfo is None or settled_at.utcoffset() is None:
        raise ValueError("settled_at must be an aware datetime")
    return settled_at.astimezone(zone).date()


def settlement_month(settled_at: datetime, zone: tzinfo) -> str:
    """``YYYY-MM`` of :func:`settlement_day`: the month the settlement is reconciled in, listed
    in and (for a device) paid in."""
    return settlement_day(settled_at, zone).strftime("%Y-%m")


def make_slip_no(institution_code: str, on: date, sequence: int) -> str:
    """Institution code + date + 5-digit daily sequence: H1101000000120261124 00001 (no space)."""
    if not 0 < sequence < 100_000:
        raise ValueError("slip sequence must be 1..99999")
    return f"{institution_code}{on:%Y%m%d}{sequence:05d}"
