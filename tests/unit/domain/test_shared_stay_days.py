"""The bound a readmission's per-day standards get from the stays it shares a day with
(N§32, N§33, N§37, B§30): only a day the neighbour certainly billed is taken from it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from adapter.domain.stay_days import DayItem, Neighbour, StaySpan, first_shared_over

D = Decimal
BED = "110900001A"
# A: 1 to 4 December, discharged on the 4th; B readmitted on the 4th, to the 6th
A = StaySpan(date(2026, 12, 1), date(2026, 12, 4))
B = StaySpan(date(2026, 12, 4), date(2026, 12, 6))


def _a(billed: str | None) -> Neighbour:
    return Neighbour(A, "住院工伤医疗（…）", False, {BED: D(billed)} if billed else {})


def _bed(days: str) -> DayItem:
    return DayItem(BED, "床位费", D(days))


def test_a_neighbour_holds_the_shared_day_only_when_it_billed_every_one_of_its_days() -> None:
    assert (A.days, B.days, B.shared(A), B.shared_dates(A)) == (4, 3, 1, "2026-12-04")
    assert _a("4").holds(B, BED) == 1  # 计入计出: it billed the 4th
    assert _a("3").holds(B, BED) == 0  # 计入不计出: the 4th may be B's
    assert _a("3.5").holds(B, BED) == D("0.5")
    assert _a("9").holds(B, BED) == 1  # never more than the days shared
    assert _a(None).holds(B, BED) == 0  # a claim with no lines here holds nothing
    assert _a("4").holds(B, "111100001") == 0  # per catalogue code


def test_the_bound_is_the_days_left_and_never_below_none() -> None:
    over = first_shared_over([_bed("3")], B, [_a("4")])
    assert over is not None and (over.bound, over.holders) == (D(2), (_a("4"),))
    assert first_shared_over([_bed("2")], B, [_a("4")]) is None
    assert first_shared_over([_bed("3")], B, [_a("3")]) is None
    assert first_shared_over([_bed("3")], B, []) is None
    # a same-day stay held by two same-day neighbours: bound none, a reversed bed not over
    day = StaySpan(date(2026, 12, 4), date(2026, 12, 4))
    twice = [Neighbour(day, "…", False, {BED: D(1)}), Neighbour(day, "…", True, {BED: D(1)})]
    assert first_shared_over([_bed("0")], day, twice) is None
    refused = first_shared_over([_bed("1")], day, twice)
    assert refused is not None and refused.bound == 0
