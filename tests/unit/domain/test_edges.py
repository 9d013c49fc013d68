"""The edge rules of adapter/domain: a fee amount against quantity × price, control
characters, and the time window of a stay — one row per boundary."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from adapter.domain.encounters import Encounter, EncounterKind, EncounterStatus
from adapter.domain.errors import PricingError
from adapter.domain.fees import FeeCategory, FeeLine, amount_matches, check_amount
from adapter.domain.stay_times import TimeOutOfWindow, TimeWindow
from adapter.domain.text import control_character

ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=ZONE)
D = Decimal


@pytest.mark.parametrize(
    ("quantity", "price", "amount", "matches"),
    [
        ("1", "0.01", "999999.00", False),  # the line: the fund would pay 999,999
        ("2", "18.25", "36.50", True),
        ("3", "0.3333", "1.00", True),  # rounded to the fen: 0.9999 → 1.00
        ("1", "10.00", "10.0099", True),  # just under one fen apart
        ("1", "10.00", "10.01", False),  # one fen apart: refused
        ("1", "10.00", "9.99", False),
        ("-1", "18.25", "-18.25", True),  # a reversal: negative quantity and amount
        ("-2", "18.25", "-18.25", False),
    ],
)
def test_n32_amount_must_match_quantity_times_unit_price_within_a_fen(
    quantity: str, price: str, amount: str, matches: bool
) -> None:
    assert amount_matches(D(quantity), D(price), D(amount)) is matches


def test_n32_a_mismatched_line_is_refused_naming_the_field() -> None:
    line = FeeLine("L1", "XN02BEB001", "布洛芬", FeeCategory.DRUG, D(1), D("0.01"),
                   D("999999.00"), NOW)  # fmt: skip
    with pytest.raises(PricingError) as refused:
        check_amount(line, "lines.0.amount")
    assert refused.value.code == "FEE_AMOUNT_MISMATCH"
    assert refused.value.field == "lines.0.amount"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("text", "free", "found"),
    [
        ("ZY001", False, None),
        ("左手\t骨折", False, "\t"),
        ("左手\t骨折\r\n复查", True, None),  # free text keeps its layout
        ("A\x00B", True, "\x00"),
        ("A\x1bB", True, "\x1b"),
        ("A\x7fB", False, "\x7f"),
        ("A\x0bB", True, "\x0b"),  # vertical tab is not layout
        ("A\x80B", False, None),  # C1 is not refused: GB 18030 text decodes through it
    ],
)
def test_control_characters_are_refused_but_layout_in_free_text(
    text: str, free: bool, found: str | None
) -> None:
    assert control_character(text, free_text=free) == found


def _stay(admitted: datetime, discharged: datetime | None = None) -> Encounter:
    return Encounter(
        id="E1", kind=EncounterKind.MEDICAL, psn_no="P1", filing_no="F1",
        institution_code="H11010000001", his_visit_id="V1", admitted_at=admitted,
        insured_admdvs="310100", discharged_at=discharged,
    )  # fmt: skip


WINDOW = TimeWindow(clock_skew=timedelta(minutes=5), late_registration=timedelta(days=30))
SECOND = timedelta(seconds=1)


@pytest.mark.parametrize(
    ("admitted", "code"),
    [
        (NOW, None),
        (NOW + timedelta(minutes=5), None),  # the last moment the clock skew allows
        (NOW + timedelta(minutes=5) + SECOND, "TIME_IN_FUTURE"),
        (datetime(9999, 12, 31, tzinfo=ZONE), "TIME_IN_FUTURE"),
        (NOW - timedelta(days=30), None),  # the last day of late registration
        # "30天" is counted in the institution's days, not to the hour: at 2 Dec 10:00 any
        # time of 2 Nov is in (to the hour, 2 Nov before 10:00 was refused), none of 1 Nov
        (datetime(2026, 11, 2, 0, 0, tzinfo=ZONE), None),
        (datetime(2026, 11, 1, 23, 59, 59, tzinfo=ZONE), "TIME_TOO_FAR_BACK"),
        (datetime(2026, 11, 1, 16, 30, tzinfo=UTC), None),  # 2 Nov 00:30 in Beijing
        (datetime(2026, 11, 1, 15, 59, tzinfo=UTC), "TIME_TOO_FAR_BACK"),  # 1 Nov 23:59
    ],
)
def test_n33_admission_time_lies_within_skew_ahead_and_late_registration_back(
    admitted: datetime, code: str | None
) -> None:
    if code is None:
        WINDOW.check_admission(admitted, NOW, zone=ZONE)
        return
    with pytest.raises(TimeOutOfWindow) as refused:
        WINDOW.check_admission(admitted, NOW, zone=ZONE)
    assert (refused.value.code, refused.value.field) == (code, "admitted_at")


@pytest.mark.parametrize(
    ("discharged", "code"),
    [
        (NOW - timedelta(hours=1), None),
        (NOW + timedelta(days=400), "TIME_IN_FUTURE"),  # past the filing's end, too
        (datetime(9999, 12, 31, tzinfo=ZONE), "TIME_IN_FUTURE"),
        (NOW - timedelta(days=3) - SECOND, "DISCHARGE_BEFORE_ADMISSION"),
        (NOW - timedelta(days=31), "TIME_TOO_FAR_BACK"),
    ],
)
def test_n33_discharge_lies_after_admission_and_within_the_window(
    discharged: datetime, code: str | None
) -> None:
    stay = _stay(NOW - timedelta(days=3))
    if code is None:
        WINDOW.check_discharge(stay, discharged, NOW, zone=ZONE)
        return
    with pytest.raises(TimeOutOfWindow) as refused:
        WINDOW.check_discharge(stay, discharged, NOW, zone=ZONE)
    assert (refused.value.code, refused.value.field) == (code, "discharged_at")


@pytest.mark.parametrize(
    ("status", "given", "code"),
    [
        # N§35, N§43: revoked to correct it, the stay settles again with its discharge time
        (EncounterStatus.REVOKED, "settled", None),
        # another discharge time is a new registration: the late-registration window holds
        (EncounterStatus.REVOKED, "a day earlier", "TIME_TOO_FAR_BACK"),
        # a stay never settled registers its discharge late only within the window
        (EncounterStatus.ADMITTED, "settled", "TIME_TOO_FAR_BACK"),
    ],
)
def test_n35_n43_a_revoked_stay_settles_again_with_its_discharge_time_however_long_ago(
    status: EncounterStatus, given: str, code: str | None
) -> None:
    discharged = NOW - timedelta(days=35)
    stay = replace(_stay(discharged - timedelta(days=5), discharged), status=status)
    at = discharged if given == "settled" else discharged - timedelta(days=1)
    if code is None:
        WINDOW.check_discharge(stay, at, NOW, zone=ZONE)
        return
    with pytest.raises(TimeOutOfWindow) as refused:
        WINDOW.check_discharge(stay, at, NOW, zone=ZONE)
    assert (refused.value.code, refused.value.field) == (code, "discharged_at")
    assert "超出补登记期限" in refused.value.message


def test_n33_a_revoked_stays_own_discharge_time_still_lies_after_its_admission() -> None:
    admitted = NOW - timedelta(days=40)
    stay = replace(_stay(admitted, admitted - SECOND), status=EncounterStatus.REVOKED)
    with pytest.raises(TimeOutOfWindow) as refused:
        WINDOW.check_discharge(stay, admitted - SECOND, NOW, zone=ZONE)
    assert refused.value.code == "DISCHARGE_BEFORE_ADMISSION"


def _fee(line_id: str, at: datetime) -> FeeLine:
    return FeeLine(line_id, "XN02BEB001", "布洛芬", FeeCategory.DRUG, D(1), D(1), D(1), at)


def test_n36_a_90_day_stay_across_new_year_keeps_its_late_fee_batch() -> None:
    admitted = datetime(2026, 11, 1, 9, tzinfo=ZONE)
    now = admitted + timedelta(days=90)  # the stay is still open, in the next year
    batch = [_fee(f"L{day}", admitted + timedelta(days=day)) for day in range(0, 90)]
    batch.append(_fee("L-day", datetime(2026, 11, 1, tzinfo=ZONE)))  # dated by day only
    WINDOW.check_fees(batch, _stay(admitted), now, zone=ZONE)


@pytest.mark.parametrize(
    ("at", "discharged"),
    [
        (datetime(2026, 10, 31, 23, 59, tzinfo=ZONE), None),  # the day before admission
        (NOW + timedelta(minutes=6), None),  # later than now, while the stay is open
        (datetime(2026, 11, 20, 10, 6, tzinfo=ZONE), datetime(2026, 11, 20, 10, tzinfo=ZONE)),
    ],
)
def test_n33_a_fee_outside_the_stay_is_refused_naming_the_line(
    at: datetime, discharged: datetime | None
) -> None:
    stay = _stay(datetime(2026, 11, 1, 9, tzinfo=ZONE), discharged)
    batch = [_fee("L1", datetime(2026, 11, 2, tzinfo=ZONE)), _fee("L2", at)]
    with pytest.raises(TimeOutOfWindow) as refused:
        WINDOW.check_fees(batch, stay, NOW, zone=ZONE)
    assert (refused.value.code, refused.value.field) == ("FEE_OUTSIDE_STAY", "lines.1.occurred_at")


def test_n33_a_revoked_stay_takes_the_fees_after_its_cancelled_discharge_up_to_now() -> None:
    discharged = datetime(2026, 11, 20, 10, tzinfo=ZONE)
    stay = _stay(datetime(2026, 11, 1, 9, tzinfo=ZONE), discharged)
    after = [_fee("L1", discharged + timedelta(days=1))]  # the next day, still in hospital
    with pytest.raises(TimeOutOfWindow):
        WINDOW.check_fees(after, stay, NOW, zone=ZONE)
    revoked = replace(stay, status=EncounterStatus.REVOKED)
    WINDOW.check_fees(after, revoked, NOW, zone=ZONE)
    with pytest.raises(TimeOutOfWindow) as refused:  # but not beyond now
        WINDOW.check_fees([_fee("L2", NOW + timedelta(minutes=6))], revoked, NOW, zone=ZONE)
    assert refused.value.code == "FEE_OUTSIDE_STAY"


def test_the_admission_day_is_counted_where_the_institution_is() -> None:
    # 01:00 UTC is 09:00 in Beijing: a line dated 00:00 Beijing time that day is in the stay.
    admitted_utc = datetime(2026, 11, 1, 1, tzinfo=ZoneInfo("UTC"))
    WINDOW.check_fees([_fee("L1", datetime(2026, 11, 1, tzinfo=ZONE))], _stay(admitted_utc),
                      NOW, zone=ZONE)  # fmt: skip


def test_n33_a_discharge_before_a_recorded_fee_is_refused_at_settlement() -> None:
    fees = [_fee("L1", NOW - timedelta(days=2)), _fee("L2", NOW - timedelta(hours=1))]
    WINDOW.check_fees_before(NOW - timedelta(hours=1) - timedelta(minutes=5), fees)
    with pytest.raises(TimeOutOfWindow) as refused:
        WINDOW.check_fees_before(NOW - timedelta(hours=2), fees)
    assert (refused.value.code, refused.value.field) == ("DISCHARGE_BEFORE_FEES", "discharged_at")
    assert "L2" in refused.value.message


def test_n33_the_refusal_shows_the_fee_time_as_the_discharge_time_is_given() -> None:
    stored = _fee("L2", datetime(2026, 11, 20, 2, tzinfo=ZoneInfo("UTC")))  # as the store reads it
    with pytest.raises(TimeOutOfWindow) as refused:
        WINDOW.check_fees_before(datetime(2026, 11, 20, 9, tzinfo=ZONE), [stored])
    assert refused.value.message == (
        "出院时间2026-11-20 09:00+08:00早于费用明细L2的发生时间"
        "2026-11-20 10:00+08:00，请核对出院时间"
    )


def test_TIME_OUT_OF_WINDOW_n33_every_time_refusal_is_one_family_naming_its_field() -> None:
    """The REST and HL7 faces map the family (``TIME_OUT_OF_WINDOW``, N§33) to one answer;
    each refusal says which bound it crossed and which field holds the time."""
    refusals = []
    for admitted in (NOW + timedelta(hours=1), NOW - timedelta(days=31)):
        with pytest.raises(TimeOutOfWindow) as refused:
            WINDOW.check_admission(admitted, NOW, zone=ZONE)
        refusals.append(refused.value)
    assert TimeOutOfWindow.code == "TIME_OUT_OF_WINDOW"
    assert [r.code for r in refusals] == ["TIME_IN_FUTURE", "TIME_TOO_FAR_BACK"]
    assert all(r.article == "N§33" and r.field == "admitted_at" for r in refusals)
