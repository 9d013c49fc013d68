"""A fitting's time (adapter.domain.device_times): the clock's skew ahead, local days back, the
filing carrying the notice (N§16, N§34, B§26, B§34, B§35)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from adapter.domain.device_times import (
    FittingBeforeFiling,
    FittingInFuture,
    FittingTimes,
    FittingTooOld,
    check_after_filing,
)
from tests.unit.domain.builders import device_filing

ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 8, 10, 0, tzinfo=ZONE)


def test_FITTING_TOO_OLD_counts_local_days_back_whatever_the_hour() -> None:
    window = FittingTimes(max_age_days=7)
    window.check_age(datetime(2026, 12, 1, 0, 1, tzinfo=ZONE), NOW, zone=ZONE)  # 7 days: in
    with pytest.raises(FittingTooOld) as old:
        window.check_age(datetime(2026, 11, 30, 23, 59, tzinfo=ZONE), NOW, zone=ZONE)
    assert old.value.field == "fitted_at" and "2026-12-01之前" in old.value.message
    # 23:30 UTC on 30 November is 07:30 on 1 December in Beijing: in.
    window.check_age(datetime(2026, 11, 30, 23, 30, tzinfo=ZoneInfo("UTC")), NOW, zone=ZONE)
    with pytest.raises(ValueError):
        FittingTimes(max_age_days=-1)


def test_FITTING_IN_FUTURE_the_clock_skew_ahead_and_not_a_second_more() -> None:
    times = FittingTimes(clock_skew=timedelta(minutes=5))
    times.check_ahead(NOW + timedelta(minutes=5), NOW)  # the counter PC's clock a bit ahead
    with pytest.raises(FittingInFuture) as ahead:
        times.check_ahead(NOW + timedelta(minutes=5, seconds=1), NOW)
    assert (ahead.value.code, ahead.value.field) == ("FITTING_IN_FUTURE", "fitted_at")
    assert ahead.value.article == "N§34" and "晚于当前时间" in ahead.value.message
    with pytest.raises(ValueError):
        FittingTimes(clock_skew=timedelta(minutes=-1))


def test_FITTING_BEFORE_FILING_the_earliest_filing_carrying_the_notice_bounds_it() -> None:
    notice = "沪工伤辅核〔2026〕0123号"
    first = device_filing(filed_on=date(2026, 11, 20), valid_from=date(2026, 11, 22))
    retyped = replace(
        first, filing_no="F101", approval_notice_no="沪工伤辅核(2026)0123号",
        filed_on=date(2026, 12, 5), valid_from=date(2026, 12, 5),
    )  # fmt: skip
    other = replace(first, filing_no="F102", approval_notice_no="沪工伤辅核〔2026〕0999号",
                    filed_on=date(2026, 10, 1), valid_from=date(2026, 10, 1))  # fmt: skip
    filings = (retyped, other, first)
    check_after_filing(datetime(2026, 11, 22, 8, tzinfo=ZONE), filings, notice, zone=ZONE)
    with pytest.raises(FittingBeforeFiling) as early:
        check_after_filing(datetime(2026, 11, 21, 18, tzinfo=ZONE), filings, notice, zone=ZONE)
    assert "F100" in early.value.message and "2026-11-22" in early.value.message
    # No filing carries the notice: the eligibility check refuses the notice, not this.
    check_after_filing(datetime(2026, 1, 1, tzinfo=ZONE), filings, "无此通知单", zone=ZONE)
