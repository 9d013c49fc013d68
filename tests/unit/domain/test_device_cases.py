"""A fitting recorded as a manual-claim case against earlier fittings and cases
(adapter.domain.device_cases; N§34, N§38, 附表2)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

from adapter.domain.device_cases import case_repeats, claimed_split, latest
from adapter.domain.devices import DeviceItem, EarlierFitting
from tests.unit.domain.builders import device_filing

NOTICE = "沪工伤辅核〔2026〕0123号"
ON = date(2026, 12, 6)
D = Decimal


def _earlier(code: str, on: date, notice: str = NOTICE, years: int = 0) -> EarlierFitting:
    return EarlierFitting(code, code, on, "示例医院（H1），手工报销记录M1", notice, years)


def test_PR_DEVICE_NOTICE_USED_a_case_under_the_notice_again_is_the_workers_if_confirmed() -> None:
    items = (DeviceItem("D02", "轮椅", D("1000.00")), DeviceItem("D01", "假肢", D("500.00")))
    earlier = {"D02": _earlier("D02", ON)}
    [repeat] = case_repeats(items, "沪工伤辅核(2026)0123号", None, earlier, ON)
    assert repeat.code == "PR_DEVICE_NOTICE_USED" and repeat.field == "D02"
    assert "手工报销记录M1" in repeat.message
    claimed, personal = claimed_split(items, [repeat])
    assert (claimed, personal) == (D("500.00"), D("1000.00"))
    assert claimed + personal == D("1500.00")


def test_PR_DEVICE_MIN_YEARS_a_case_inside_the_stored_filings_years_under_a_new_notice() -> None:
    items = (DeviceItem("D02", "轮椅", D("1000.00")),)
    earlier = {"D02": _earlier("D02", date(2024, 1, 1), notice="旧通知单")}
    # The stored filing carrying the new notice lists the wheelchair (5 years): approved.
    assert case_repeats(items, NOTICE, device_filing(), earlier, ON) == ()
    # The notice typed is not the one the filing carries and not listed there: not approved.
    other = replace(device_filing(), approval_notice_no="旧通知单")
    [repeat] = case_repeats(items, "旧通知单", other, earlier, ON)
    assert repeat.code == "PR_DEVICE_MIN_YEARS" and "5年" in repeat.message
    # Past the minimum years: no repeat.
    long_ago = {"D02": _earlier("D02", date(2020, 1, 1))}
    assert case_repeats(items, "旧通知单", other, long_ago, ON) == ()


def test_the_latest_earlier_fitting_of_each_item_wins() -> None:
    old, new = _earlier("D02", date(2025, 1, 1)), _earlier("D02", date(2026, 1, 1))
    assert latest([new], [old])["D02"] is new and latest([old], [new])["D02"] is new


def test_n34_n38_the_notice_shown_is_checked_against_every_fitting_it_paid_not_the_latest() -> None:
    """Notice A paid the wheelchair in January, notice B in June: A shown again in December
    approves nothing (inside 5 years, or without years, alike); B's fitting is the latest."""
    paid_by_a = _earlier("D02", date(2026, 1, 5), notice=NOTICE, years=5)
    paid_by_b = _earlier("D02", date(2026, 6, 1), notice="沪工伤辅核〔2026〕0999号", years=5)
    earlier = latest([paid_by_b], [paid_by_a], notice="沪工伤辅核(2026)0123号")
    assert earlier["D02"].fitted_on == date(2026, 6, 1)
    assert earlier["D02"].paid_by_notice is paid_by_a
    items = (DeviceItem("D02", "轮椅", D("1000.00")),)
    [repeat] = case_repeats(items, NOTICE, device_filing(), earlier, ON)
    assert repeat.code == "PR_DEVICE_MIN_YEARS" and "2026-01-05" in repeat.message
    # No minimum years known (no stored filing, none on the latest fitting): A paid it once.
    unknown_years = {"D02": replace(earlier["D02"], min_years=0)}
    [repeat] = case_repeats(items, NOTICE, None, unknown_years, ON)
    assert repeat.code == "PR_DEVICE_NOTICE_USED" and "2026-01-05" in repeat.message
    # Notice B shown: B paid the latest, inside the years — as before, the worker's.
    [repeat] = case_repeats(items, "沪工伤辅核〔2026〕0999号", None, earlier, ON)
    assert repeat.code == "PR_DEVICE_MIN_YEARS" and "2026-06-01" in repeat.message
    # A new notice C lists it: a new approval (REPLACEMENT_APPROVED is no repeat).
    assert case_repeats(items, "沪工伤辅核〔2026〕0777号", None, earlier, ON) == ()
