"""Clearing cutoffs: by when a settlement must have reached upstream to be paid on time.

* **Monthly** — the agency reconciles the previous month's settlements with the institution
  and uploads the month's settlement data before the 20th of the next month (N§35, B§33,
  B§37). A settlement of month M must be delivered by the *monthly cutoff*: day
  ``monthly_day`` of month M+1.
* **Half-yearly** — the national system draws up the clearing tables on 21 January and 21 July
  from the fees reconciled by then (N§40), and a month's settlements are to be declared before
  its clearing starts (N§43): a settlement reaches the tables only if it is there by the 20th.
  (The 25th, B§42, is the agencies' own confirmation of tables already drawn up.) A month's
  *half-yearly cutoff* is the first of those dates on or after its monthly cutoff: March →
  20 July, December → 20 January.
* **Year end** — a year's settlements are cleared at the latest in the next year's first
  clearing (N§43, B§44): one that missed its half-yearly clearing has until the first
  half-yearly date of the next year (March → 20 January of the next year); December's
  half-yearly clearing is already that one.

Everything is a pure function of dates; today is passed in (the caller's local date).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

ARTICLES_MONTHLY = "N§35, B§33, B§37"
ARTICLES_HALF_YEARLY = "N§40, N§43"
ARTICLES_YEAR_END = "N§43, B§44"
_MONTH_DAY = re.compile(r"^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")


def parse_month_day(text: str) -> tuple[int, int]:
    """``MM-DD`` as (month, day); ``ValueError`` for anything else (or a day past the 28th,
    which not every month, or year, has)."""
    found = _MONTH_DAY.match(text or "")
    if not found or int(found.group(2)) > 28:
        raise ValueError(f"expected MM-DD with a day from 01 to 28, got {text!r}")
    return int(found.group(1)), int(found.group(2))


class CutoffKind(StrEnum):
    MONTHLY = "monthly"
    HALF_YEARLY = "half_yearly"
    YEAR_END = "year_end"

    @property
    def label(self) -> str:
        return {
            "monthly": "月度申报截止",
            "half_yearly": "半年清算截止",
            "year_end": "跨年清算最后期限",
        }[self.value]

    @property
    def article(self) -> str:
        return {
            "monthly": ARTICLES_MONTHLY,
            "half_yearly": ARTICLES_HALF_YEARLY,
            "year_end": ARTICLES_YEAR_END,
        }[self.value]


@dataclass(frozen=True)
class Cutoff:
    kind: CutoffKind
    on: date  # the last day: delivered on this local day is still in time

    def days_left(self, today: date) -> int:
        """Whole days from ``today`` to the cutoff; 0 on the day, negative once passed."""
        return (self.on - today).days


@dataclass(frozen=True)
class ClearingCalendar:
    """The site's cutoff dates: ``monthly_day`` of the next month; ``half_yearly`` (month,
    day) pairs, each year. Defaults: the 20th (N§35, B§33, B§37); 20 January, 20 July, the
    eve of the clearing tables (N§40, N§43)."""

    monthly_day: int = 20
    half_yearly: tuple[tuple[int, int], ...] = ((1, 20), (7, 20))

    def __post_init__(self) -> None:
        if not 1 <= self.monthly_day <= 28:
            raise ValueError("monthly_day must be from 1 to 28")
        if not self.half_yearly:
            raise ValueError("at least one half-yearly cutoff is needed")
        for month, day in self.half_yearly:
            if not (1 <= month <= 12 and 1 <= day <= 28):
                raise ValueError(f"not a month and day: {month}-{day}")
        object.__setattr__(self, "half_yearly", tuple(sorted(self.half_yearly)))

    @classmethod
    def of(cls, monthly_day: int, half_yearly: list[str] | tuple[str, ...]) -> ClearingCalendar:
        return cls(monthly_day, tuple(parse_month_day(text) for text in half_yearly))

    def monthly(self, settled_on: date) -> Cutoff:
        """The settlement month's monthly cutoff: day ``monthly_day`` of the next month."""
        year, month = (
            (settled_on.year + 1, 1)
            if settled_on.month == 12
            else (settled_on.year, settled_on.month + 1)
        )
        return Cutoff(CutoffKind.MONTHLY, date(year, month, self.monthly_day))

    def half_yearly_of(self, settled_on: date) -> Cutoff:
        """The first half-yearly date on or after the month's monthly cutoff (N§40, N§43)."""
        monthly = self.monthly(settled_on).on
        for year in (monthly.year, monthly.year + 1):
            for month, day in self.half_yearly:
                candidate = date(year, month, day)
                if candidate >= monthly:
                    return Cutoff(CutoffKind.HALF_YEARLY, candidate)
        raise AssertionError("unreachable: some half-yearly date follows within a year")

    def year_end_of(self, settled_on: date) -> Cutoff:
        """The last clearing the settlement's year may still reach: the next year's first
        half-yearly date (N§43, B§44), or the half-yearly cutoff if that is later (December's
        is that same date)."""
        half = self.half_yearly_of(settled_on)
        first_next_year = date(settled_on.year + 1, *self.half_yearly[0])
        if first_next_year <= half.on:
            return half
        return Cutoff(CutoffKind.YEAR_END, first_next_year)

    def cutoff_for(self, settled_on: date, day: date) -> Cutoff:
        """The first of the settlement's cutoffs on or after ``day``: the clearing a delivery
        that day still reaches, and as of today the settlement's next cutoff — the monthly one,
        then the half-yearly one, then the year end (which stays, overdue, once passed)."""
        monthly = self.monthly(settled_on)
        if day <= monthly.on:
            return monthly
        half = self.half_yearly_of(settled_on)
        return half if day <= half.on else self.year_end_of(settled_on)

    def month_cutoffs(self, month: str) -> tuple[Cutoff, Cutoff]:
        """``YYYY-MM``'s monthly and half-yearly cutoffs."""
        first = date(int(month[:4]), int(month[5:7]), 1)
        return self.monthly(first), self.half_yearly_of(first)


class RiskReason(StrEnum):
    PENDING = "pending"  # queued or in flight, not yet acknowledged
    DEAD = "dead"  # upstream refused or the queue gave up: IT must act
    LATE = "late"  # delivered, after the monthly cutoff: the month's declaration missed it

    @property
    def label(self) -> str:
        return {"pending": "等待上传", "dead": "上传失败", "late": "逾期送达"}[self.value]


def risk_of(status: str, delivered_on: date | None, monthly: Cutoff) -> RiskReason | None:
    """Why an upload puts its settlement at risk of missing clearing, or ``None`` if it does
    not: ``status`` is the upload job's (``pending``, ``in_flight``, ``dead``, ``delivered``),
    ``delivered_on`` the local day upstream acknowledged it."""
    if status == "dead":
        return RiskReason.DEAD
    if status != "delivered":
        return RiskReason.PENDING
    if delivered_on is not None and delivered_on > monthly.on:
        return RiskReason.LATE
    return None
