"""Clearing cutoffs (N§35, B§33, B§37; N§40, N§43, B§44): one row per rule and boundary."""

from __future__ import annotations

from datetime import date

import pytest

from adapter.domain.clearing import (
    ClearingCalendar,
    Cutoff,
    CutoffKind,
    RiskReason,
    parse_month_day,
    risk_of,
)

CAL = ClearingCalendar()
MONTHLY, HALF, YEAR_END = CutoffKind.MONTHLY, CutoffKind.HALF_YEARLY, CutoffKind.YEAR_END


@pytest.mark.parametrize(
    ("settled_on", "monthly", "half_yearly", "year_end"),
    [
        (date(2026, 1, 1), date(2026, 2, 20), date(2026, 7, 20), date(2027, 1, 20)),
        (date(2026, 1, 31), date(2026, 2, 20), date(2026, 7, 20), date(2027, 1, 20)),
        (date(2026, 5, 31), date(2026, 6, 20), date(2026, 7, 20), date(2027, 1, 20)),
        # June: the July clearing, whose tables are drawn up on the 21st (N§40)
        (date(2026, 6, 30), date(2026, 7, 20), date(2026, 7, 20), date(2027, 1, 20)),
        (date(2026, 7, 1), date(2026, 8, 20), date(2027, 1, 20), date(2027, 1, 20)),
        (date(2026, 11, 30), date(2026, 12, 20), date(2027, 1, 20), date(2027, 1, 20)),
        # N§43: next year's first clearing is December's own, and its last
        (date(2026, 12, 31), date(2027, 1, 20), date(2027, 1, 20), date(2027, 1, 20)),
    ],
)
def test_n35_n40_n43_each_months_cutoffs(
    settled_on: date, monthly: date, half_yearly: date, year_end: date
) -> None:
    assert CAL.monthly(settled_on) == Cutoff(MONTHLY, monthly)
    assert CAL.half_yearly_of(settled_on) == Cutoff(HALF, half_yearly)
    last = CAL.year_end_of(settled_on)
    assert last.on == year_end
    # a second chance only for the first half-year's months; otherwise it is the same clearing
    assert last.kind is (YEAR_END if year_end > half_yearly else HALF)
    assert CAL.month_cutoffs(f"{settled_on:%Y-%m}") == (
        Cutoff(MONTHLY, monthly),
        Cutoff(HALF, half_yearly),
    )


@pytest.mark.parametrize(
    ("today", "expected", "days_left"),
    [
        (date(2026, 1, 10), Cutoff(MONTHLY, date(2026, 2, 20)), 41),
        (date(2026, 2, 20), Cutoff(MONTHLY, date(2026, 2, 20)), 0),  # the last day: still monthly
        (date(2026, 2, 21), Cutoff(HALF, date(2026, 7, 20)), 149),  # the first day after
        (date(2026, 7, 20), Cutoff(HALF, date(2026, 7, 20)), 0),  # tables drawn up tomorrow
        # N§43: missed the July clearing, the year's fees still go in next January's
        (date(2026, 7, 21), Cutoff(YEAR_END, date(2027, 1, 20)), 183),
        (date(2027, 1, 20), Cutoff(YEAR_END, date(2027, 1, 20)), 0),
        (date(2027, 1, 21), Cutoff(YEAR_END, date(2027, 1, 20)), -1),  # overdue, stays
    ],
)
def test_b37_n43_the_next_cutoff_of_a_january_settlement(
    today: date, expected: Cutoff, days_left: int
) -> None:
    found = CAL.cutoff_for(date(2026, 1, 10), today)
    assert found == expected and found.days_left(today) == days_left


def test_n43_a_december_settlement_has_no_second_chance() -> None:
    assert CAL.cutoff_for(date(2026, 12, 5), date(2027, 1, 21)) == Cutoff(HALF, date(2027, 1, 20))


def test_the_site_sets_its_own_dates() -> None:
    calendar = ClearingCalendar.of(15, ["07-10", "01-10"])
    assert calendar.half_yearly == ((1, 10), (7, 10))
    assert calendar.monthly(date(2026, 3, 3)).on == date(2026, 4, 15)
    # December's monthly cutoff (15 January) falls after the January date: the July one
    assert calendar.half_yearly_of(date(2026, 12, 3)).on == date(2027, 7, 10)
    assert calendar.half_yearly_of(date(2026, 5, 3)).on == date(2026, 7, 10)
    # June's monthly cutoff (15 July) falls after the July date: the January clearing
    assert calendar.half_yearly_of(date(2026, 6, 3)).on == date(2027, 1, 10)
    # N§43 asks December's by January; where that is out of reach it is the July clearing
    assert calendar.year_end_of(date(2026, 12, 3)) == Cutoff(HALF, date(2027, 7, 10))


@pytest.mark.parametrize(
    ("delivered_on", "reached"),
    [
        (date(2026, 4, 20), Cutoff(MONTHLY, date(2026, 4, 20))),
        (date(2026, 4, 21), Cutoff(HALF, date(2026, 7, 20))),  # late: July's clearing
        (date(2026, 7, 21), Cutoff(YEAR_END, date(2027, 1, 20))),  # N§43: next January's
        (date(2027, 2, 1), Cutoff(YEAR_END, date(2027, 1, 20))),  # past them all
    ],
)
def test_n43_the_clearing_a_march_settlement_delivered_that_day_reaches(
    delivered_on: date, reached: Cutoff
) -> None:
    assert CAL.cutoff_for(date(2026, 3, 9), delivered_on) == reached


@pytest.mark.parametrize("text", ["1-25", "13-01", "02-29", "07-32", "", "0725"])
def test_a_month_day_must_exist_in_every_year(text: str) -> None:
    with pytest.raises(ValueError):
        parse_month_day(text)


@pytest.mark.parametrize("day", [0, 29])
def test_the_monthly_day_exists_in_every_month(day: int) -> None:
    with pytest.raises(ValueError):
        ClearingCalendar(monthly_day=day)


@pytest.mark.parametrize(
    ("status", "delivered_on", "reason"),
    [
        ("pending", None, RiskReason.PENDING),
        ("in_flight", None, RiskReason.PENDING),
        ("dead", None, RiskReason.DEAD),
        ("delivered", date(2026, 2, 20), None),  # on the cutoff day: in time
        ("delivered", date(2026, 2, 21), RiskReason.LATE),
    ],
)
def test_n35_what_puts_a_settlement_at_risk(
    status: str, delivered_on: date | None, reason: RiskReason | None
) -> None:
    assert risk_of(status, delivered_on, Cutoff(MONTHLY, date(2026, 2, 20))) == reason


def test_the_cutoffs_are_settings_with_the_articles_defaults() -> None:
    from adapter.scheduling.jobs import monthly_policy
    from adapter.services.monthly import MonthlyPolicy
    from adapter.settings_sections import ScheduleSettings

    defaults = ScheduleSettings()
    assert (defaults.monthly_cutoff_day, defaults.half_yearly_cutoffs) == (20, ["01-20", "07-20"])
    assert defaults.reconciliation_after_cutoff == "0 6 21 * *"  # the day after the cutoff
    assert monthly_policy(defaults).calendar == ClearingCalendar() == MonthlyPolicy().calendar
    moved = ScheduleSettings(monthly_cutoff_day=15, half_yearly_cutoffs=["01-18", "07-18"])
    assert moved.reconciliation_after_cutoff == "0 6 16 * *"
    assert monthly_policy(moved).calendar == ClearingCalendar(15, ((1, 18), (7, 18)))
    with pytest.raises(ValueError, match="MM-DD"):
        ScheduleSettings(half_yearly_cutoffs=["02-30"])
