"""Pricing rules of docs/domain.md, one test per row, with the fen that tips a limit."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date
from decimal import Decimal
from typing import Any

import pytest

from adapter.domain.catalogue import CatalogueKind
from adapter.domain.errors import PricingError
from adapter.domain.fees import FeeCategory, FeeLine
from adapter.domain.pricing import PersonalReason, fee_day, price_line, price_lines
from tests.unit.domain.builders import BEIJING, SHANGHAI, at, catalogue, fee, item

D = Decimal
CATALOGUE = catalogue(
    item(CatalogueKind.DRUG, "XA01", name="布洛芬缓释胶囊", unit="盒"),
    item(CatalogueKind.TREATMENT, "T100", name="清创缝合术"),
    item(
        CatalogueKind.SERVICE_STANDARD, "S01", name="普通病房床位费", unit="日", price_cap=D("60")
    ),
    item(CatalogueKind.REHAB, "R10", name="运动疗法"),
)


def test_PR_IN_CATALOGUE_N32_a_catalogue_item_is_paid_by_the_fund_in_full() -> None:
    priced = price_line(fee("1", "XA01", "35.50"), CATALOGUE, BEIJING)
    assert (priced.fund_pay, priced.personal_pay) == (D("35.50"), D("0.00"))
    assert priced.rule.code == "PR_IN_CATALOGUE" and priced.rule.article == "N§32, B§30"
    assert priced.reason is None and priced.in_catalogue


@pytest.mark.parametrize(
    ("category", "code"),
    [
        (FeeCategory.DRUG, "XA01"),
        (FeeCategory.TREATMENT, "T100"),
        (FeeCategory.REHAB, "R10"),
    ],
)
def test_PR_IN_CATALOGUE_N32_each_treatment_place_catalogue_applies(
    category: FeeCategory, code: str
) -> None:
    priced = price_line(fee("1", code, "100.00", category=category), CATALOGUE, BEIJING)
    assert priced.fund_pay == D("100.00")


def test_PR_OUT_OF_CATALOGUE_N32_N37_an_item_outside_the_catalogue_is_paid_by_the_worker() -> None:
    priced = price_line(fee("1", "ZZ99", "88.80"), CATALOGUE, BEIJING)
    assert (priced.fund_pay, priced.personal_pay) == (D("0.00"), D("88.80"))
    assert priced.reason is PersonalReason.OUT_OF_CATALOGUE
    assert priced.rule.article == "N§32, N§37, B§30"
    assert not priced.in_catalogue


def test_PR_OUT_OF_CATALOGUE_N32_the_catalogue_of_another_region_does_not_apply() -> None:
    priced = price_line(fee("1", "XA01", "35.50"), CATALOGUE, "120100")
    assert priced.reason is PersonalReason.OUT_OF_CATALOGUE


def test_PR_OUT_OF_CATALOGUE_N32_a_drug_code_looked_up_as_a_treatment_item_is_not_found() -> None:
    priced = price_line(
        fee("1", "XA01", "35.50", category=FeeCategory.TREATMENT), CATALOGUE, BEIJING
    )
    assert priced.reason is PersonalReason.OUT_OF_CATALOGUE


def bed(days: str, price: str) -> FeeLine:
    amount = (D(days) * D(price)).quantize(D("0.01"))
    return fee(
        "B1",
        "S01",
        str(amount),
        quantity=days,
        unit_price=D(price),
        category=FeeCategory.SERVICE,
    )


@pytest.mark.parametrize(
    ("price", "fund", "personal"),
    [
        ("60.00", "600.00", "0.00"),  # exactly the standard
        ("60.01", "600.00", "0.10"),  # one fen over the standard, per day
        ("59.99", "599.90", "0.00"),
        ("100.00", "600.00", "400.00"),
    ],
)
def test_PR_OVER_STANDARD_N32_N37_a_bed_fee_above_the_standard_pays_up_to_it(
    price: str, fund: str, personal: str
) -> None:
    priced = price_line(bed("10", price), CATALOGUE, BEIJING)
    assert (priced.fund_pay, priced.personal_pay) == (D(fund), D(personal))
    if D(personal):
        assert priced.reason is PersonalReason.OVER_LIMIT
        assert priced.rule.code == "PR_OVER_STANDARD"
        assert "60元/日" in priced.message
    else:
        assert priced.rule.code == "PR_IN_CATALOGUE"


def test_PR_NON_WORK_INJURY_N37_B29_treatment_of_a_non_work_injury_is_paid_by_the_worker() -> None:
    priced = price_line(fee("1", "XA01", "35.50", work_injury=False), CATALOGUE, BEIJING)
    assert (priced.fund_pay, priced.personal_pay) == (D("0.00"), D("35.50"))
    assert priced.reason is PersonalReason.NON_WORK_INJURY
    assert priced.rule.article == "N§37, B§29"


@pytest.mark.parametrize("category", [FeeCategory.MEAL, FeeCategory.TRANSPORT])
def test_PR_EXCLUDED_N3_B30_meal_subsidy_and_transport_are_listed_apart(
    category: FeeCategory,
) -> None:
    bill = price_lines(
        [fee("1", "XA01", "35.50"), fee("2", "M01", "100.00", category=category)],
        CATALOGUE,
        BEIJING,
    )
    assert [line.line.line_id for line in bill.lines] == ["1"]
    assert [line.line_id for line in bill.excluded] == ["2"]


def test_a_reversal_cancels_its_original_to_the_fen() -> None:
    original = bed("3", "100.00")
    reversal = fee(
        "B2", "S01", "-300.00", quantity="-3", category=FeeCategory.SERVICE, reverses="B1"
    )
    bill = price_lines([original, reversal], CATALOGUE, BEIJING)
    assert [line.fund_pay for line in bill.lines] == [D("180.00"), D("-180.00")]
    assert sum(line.fund_pay for line in bill.lines) == 0
    assert sum(line.personal_pay for line in bill.lines) == 0


def test_a_partial_reversal_is_priced_like_its_original() -> None:
    original = fee("1", "S01", "300.00", quantity="3", category=FeeCategory.SERVICE)
    reversal = fee("2", "ZZZZ", "-100.00", quantity="-1", category=FeeCategory.DRUG, reverses="1")
    bill = price_lines([original, reversal], CATALOGUE, BEIJING)
    # the reversal takes its original's item and category: 2 days at the 60.00 standard remain
    assert sum(line.fund_pay for line in bill.lines) == D("120.00")
    assert sum(line.personal_pay for line in bill.lines) == D("80.00")


def test_a_reversal_is_priced_by_the_catalogue_in_force_on_the_originals_date() -> None:
    versioned = catalogue(
        item(CatalogueKind.DRUG, "XA01", valid_from=date(2026, 1, 1), valid_to=date(2026, 11, 30)),
    )
    original = fee("1", "XA01", "50.00", occurred_at=at("2026-11-30"))
    reversal = fee("2", "XA01", "-50.00", quantity="-1", occurred_at=at("2026-12-02"), reverses="1")
    bill = price_lines([original, reversal], versioned, BEIJING)
    assert [line.fund_pay for line in bill.lines] == [D("50.00"), D("-50.00")]


@pytest.mark.parametrize(
    ("reverses", "quantity", "code"),
    [
        ("404", "-1", "FEE_REVERSAL_UNKNOWN_ORIGINAL"),
        ("1", "-3", "FEE_REVERSAL_EXCEEDS_ORIGINAL"),
    ],
)
def test_a_reversal_without_a_matching_original_is_refused(
    reverses: str, quantity: str, code: str
) -> None:
    lines = [
        fee("1", "XA01", "70.00", quantity="2"),
        fee("2", "XA01", str(D("35.00") * D(quantity)), quantity=quantity, reverses=reverses),
    ]
    with pytest.raises(PricingError) as caught:
        price_lines(lines, CATALOGUE, BEIJING)
    assert caught.value.code == code


def _priced(unit_price: str, amount: str, quantity: str = "1", **changes: Any) -> FeeLine:
    """A line stating its unit price (to four decimals, as a HIS sends it) and its amount."""
    return replace(fee("x", "XA01", amount, quantity=quantity, **changes), unit_price=D(unit_price))


@pytest.mark.parametrize(
    ("original", "reversal", "price"),
    [
        # the audit's bed fee: one day at 180.00 (60.00 standard) reversed as one day at 50.00
        (
            fee("L1", "S01", "180.00", category=FeeCategory.SERVICE),
            fee("R1", "S01", "-50.00", quantity="-1", category=FeeCategory.SERVICE, reverses="L1"),
            "180.00",
        ),
        # the audit's drug: 36.50 charged, one box reversed at 100.00
        (
            fee("L1", "XA01", "36.50"),
            fee("R1", "XA01", "-100.00", quantity="-1", reverses="L1"),
            "36.50",
        ),
    ],
)
def test_FEE_REVERSAL_PRICE_MISMATCH_N32_N33_N47_a_reversal_at_another_unit_price_is_refused(
    original: FeeLine, reversal: FeeLine, price: str
) -> None:
    # Priced, the bed fee's reversal took the fund below zero and the drug's charged the
    # worker 63.50 for a box returned: the reversal is refused instead.
    with pytest.raises(PricingError) as caught:
        price_lines([original, reversal], CATALOGUE, BEIJING)
    assert caught.value.code == "FEE_REVERSAL_PRICE_MISMATCH"
    assert caught.value.field == "unit_price"
    assert caught.value.article == "N§32, N§33, N§47"
    assert f"原明细L1的单价{price}元" in caught.value.message


def test_FEE_REVERSAL_PRICE_MISMATCH_a_unit_price_derived_from_the_amount_is_the_same_price() -> (
    None
):
    # 3 × 33.3333 = 100.00; the HIS sent one box back by amount alone (33.33, so 33.3300):
    # the amount is one box at the original's price to the fen, so it is the same price.
    original = replace(_priced("33.3333", "100.00", "3"), line_id="L1")
    back = replace(_priced("33.33", "-33.33", "-1"), line_id="R1", reverses="L1")
    bill = price_lines([original, back], CATALOGUE, BEIJING)
    assert [p.fund_pay for p in bill.lines] == [D("100.00"), D("-33.33")]


def test_FEE_REVERSAL_AMOUNT_MISMATCH_N33_N47_the_last_reversal_returns_exactly_what_is_left() -> (
    None
):
    original = replace(_priced("33.3333", "100.00", "3"), line_id="L1")
    parts = [
        replace(_priced("33.3333", "-33.33", "-1"), line_id=f"R{n}", reverses="L1")
        for n in range(1, 4)
    ]
    # Each part is one box to the fen, but three of them return 99.99 of the 100.00 charged:
    # the worker would keep paying a fen for boxes all returned.
    with pytest.raises(PricingError) as caught:
        price_lines([original, *parts], CATALOGUE, BEIJING)
    assert caught.value.code == "FEE_REVERSAL_AMOUNT_MISMATCH"
    assert caught.value.field == "amount"
    assert "冲销明细R3" in caught.value.message and "-33.34元" in caught.value.message
    # The last part returning what is left (-33.34) is right, and so is any split of the
    # remainder, however far the last part is from one box × 33.3333 (here 33.32).
    for amounts in (("-33.33", "-33.33", "-33.34"), ("-33.34", "-33.34", "-33.32")):
        lines = [original] + [
            replace(part, amount=D(amount)) for part, amount in zip(parts, amounts, strict=True)
        ]
        bill = price_lines(lines, CATALOGUE, BEIJING)
        assert sum(p.amount for p in bill.lines) == D("0.00")
        assert sum(p.fund_pay for p in bill.lines) == sum(p.personal_pay for p in bill.lines) == 0


def test_FEE_REVERSAL_AMOUNT_MISMATCH_a_part_returning_more_than_is_left_is_refused() -> None:
    # 4 × 0.0049 charged 0.01; 2 returned took the 0.01; one more returning 0.01 would
    # return money never charged, though each line is within a fen of quantity × price.
    original = replace(_priced("0.0049", "0.01", "4"), line_id="L1")
    first = replace(_priced("0.0049", "-0.01", "-2"), line_id="R1", reverses="L1")
    second = replace(_priced("0.0049", "-0.01", "-1"), line_id="R2", reverses="L1")
    with pytest.raises(PricingError) as caught:
        price_lines([original, first, second], CATALOGUE, BEIJING)
    assert caught.value.code == "FEE_REVERSAL_AMOUNT_MISMATCH"
    assert (
        "冲销明细R2" in caught.value.message
        and "不能超过原明细剩余金额0.00元" in caught.value.message
    )


def test_a_charge_reversed_in_parts_cancels_to_the_fen_fund_and_personal_alike() -> None:
    # The audit's case A: 0.3 day at 1.00 over a 0.25 standard (fund 0.07, the standard's
    # 0.075 rounded down) reversed in three tenths: each tenth priced alone rounded its 0.025
    # up to 0.03, and the stay ended with a fund of -0.01 and the worker paying 0.01 for
    # nothing.
    bed = catalogue(item(CatalogueKind.SERVICE_STANDARD, "BED", price_cap=D("0.25"), unit="日"))
    original = fee("L1", "BED", "0.30", quantity="0.3", category=FeeCategory.SERVICE)
    tenths = [
        fee(f"R{n}", "BED", "-0.10", quantity="-0.1", category=FeeCategory.SERVICE, reverses="L1")
        for n in range(1, 4)
    ]
    bill = price_lines([original, *tenths], bed, BEIJING)
    assert (bill.lines[0].fund_pay, bill.lines[0].personal_pay) == (D("0.07"), D("0.23"))
    assert sum(p.amount for p in bill.lines) == D("0.00")
    assert sum(p.fund_pay for p in bill.lines) == D("0.00")
    assert sum(p.personal_pay for p in bill.lines) == D("0.00")
    for part in bill.lines[1:]:  # each part takes back its share, never more than its amount
        assert part.amount <= part.fund_pay <= 0 and part.amount <= part.personal_pay <= 0
        assert part.fund_pay + part.personal_pay == part.amount
        assert part.reason is PersonalReason.OVER_LIMIT and part.rule.code == "PR_OVER_STANDARD"
    # two of the three: the original's 0.3 day less 0.2 returned, as a charge of 0.1 day
    # would be split (0.02 + 0.08 left, the standard's 0.025 rounded down once)
    two = price_lines([original, *tenths[:2]], bed, BEIJING)
    assert sum(p.fund_pay for p in two.lines) == D("0.02")
    assert sum(p.personal_pay for p in two.lines) == D("0.08")


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"quantity": D("0")}, "FEE_ZERO_QUANTITY"),
        ({"amount": D("1.005")}, "FEE_AMOUNT_PRECISION"),
        ({"amount": D("-1.00")}, "FEE_SIGN_MISMATCH"),
        ({"unit_price": D("-1")}, "FEE_NEGATIVE_PRICE"),
    ],
)
def test_a_malformed_fee_line_is_refused_with_a_reason(changes: dict[str, Any], code: str) -> None:
    line = replace(fee("1", "XA01", "1.00"), **changes)
    with pytest.raises(PricingError) as caught:
        price_line(line, CATALOGUE, BEIJING)
    assert caught.value.code == code
    assert caught.value.message  # Chinese, for the billing clerk


def test_the_catalogue_version_in_force_on_the_fees_date_prices_it() -> None:
    versioned = catalogue(
        item(CatalogueKind.SERVICE_STANDARD, "S01", price_cap=D("50"), valid_from=date(2025, 1, 1)),
        item(CatalogueKind.SERVICE_STANDARD, "S01", price_cap=D("60"), valid_from=date(2026, 1, 1)),
    )
    december = fee("1", "S01", "70.00", category=FeeCategory.SERVICE, occurred_at=at("2025-12-31"))
    january = fee("2", "S01", "70.00", category=FeeCategory.SERVICE, occurred_at=at("2026-01-01"))
    bill = price_lines([december, january], versioned, BEIJING)
    assert [line.fund_pay for line in bill.lines] == [D("50.00"), D("60.00")]


def test_the_version_is_the_one_in_force_on_the_fees_local_day_whatever_its_offset() -> None:
    """05:00 on 1 January in Beijing is 21:00 UTC on 31 December, as a stored time reads back:
    in the institution's zone it is January's fee, priced by January's standard."""
    versioned = catalogue(
        item(CatalogueKind.SERVICE_STANDARD, "S01", price_cap=D("50"), valid_from=date(2025, 1, 1)),
        item(CatalogueKind.SERVICE_STANDARD, "S01", price_cap=D("60"), valid_from=date(2026, 1, 1)),
    )
    early = at("2026-01-01", hour=5).astimezone(UTC)
    line = fee("1", "S01", "70.00", category=FeeCategory.SERVICE, occurred_at=early)
    assert fee_day(line, SHANGHAI) == date(2026, 1, 1)
    assert price_line(line, versioned, BEIJING, zone=SHANGHAI).fund_pay == D("60.00")
    [priced] = price_lines([line], versioned, BEIJING, SHANGHAI).lines
    assert priced.fund_pay == D("60.00")


def test_an_item_withdrawn_from_the_catalogue_is_out_of_catalogue_after_its_end() -> None:
    withdrawn = catalogue(item(CatalogueKind.DRUG, "XA01", valid_to=date(2026, 6, 30)))
    before = price_line(fee("1", "XA01", "10.00", occurred_at=at("2026-06-30")), withdrawn, BEIJING)
    after = price_line(fee("2", "XA01", "10.00", occurred_at=at("2026-07-01")), withdrawn, BEIJING)
    assert before.reason is None
    assert after.reason is PersonalReason.OUT_OF_CATALOGUE


def test_PR_DEVICE_AT_COUNTER_N34_B34_a_device_line_on_a_stay_is_not_the_funds() -> None:
    """A device is paid at the device counter, on the notice, against the insured place's
    catalogue and its limits: on a stay's bill the worker pays it, told where it is paid —
    even when a device catalogue of the treatment place happens to list the code."""
    listed = catalogue(item(CatalogueKind.DEVICE, "D01", name="假肢"))
    for where in (CATALOGUE, listed):
        priced = price_line(fee("1", "D01", "2500.00", category=FeeCategory.DEVICE), where, BEIJING)
        assert (priced.fund_pay, priced.personal_pay) == (D("0.00"), D("2500.00"))
        assert priced.rule.code == "PR_DEVICE_AT_COUNTER" and "配置窗口" in priced.message
        assert priced.reason is PersonalReason.OUT_OF_CATALOGUE and priced.item is None


@pytest.mark.parametrize(
    ("cap", "price", "days", "returned", "fund_left"),
    [
        # 5 days at 5.9611 (29.81) over a 5.75 standard, 4 returned (23.84): one day is
        # left, and the fund paid 5.76 for it — a fen over the standard (N§32, N§37)
        ("5.75", "5.9611", "5", "4", "5.75"),
        # 3 days at 23.2381 (69.71) over 23.01, 2 returned (46.48): the fund paid 23.00 for
        # the day left and the worker the fen the fund owes
        ("23.01", "23.2381", "3", "2", "23.01"),
        # 5 days at 82.4514 over 82.23, 3 returned: the fund kept a fen of the 3 returned
        ("82.23", "82.4514", "5", "3", "164.46"),
        ("60.00", "100.00", "7", "3", "240.00"),  # whole yuan: the shares were always right
    ],
)
def test_PR_OVER_STANDARD_a_part_returned_leaves_the_fund_the_standard_of_the_days_left(
    cap: str, price: str, days: str, returned: str, fund_left: str
) -> None:
    standard = catalogue(item(CatalogueKind.SERVICE_STANDARD, "BED", price_cap=D(cap), unit="日"))
    charged = D(days) * D(price)
    original = replace(
        fee("L1", "BED", str(charged.quantize(D("0.01"))), quantity=days,
            category=FeeCategory.SERVICE),
        unit_price=D(price),
    )  # fmt: skip
    back = (D(returned) * D(price)).quantize(D("0.01"))
    reversal = replace(
        fee("R1", "BED", str(-back), quantity=f"-{returned}", category=FeeCategory.SERVICE,
            reverses="L1"),
        unit_price=D(price),
    )  # fmt: skip
    bill = price_lines([original, reversal], standard, BEIJING)
    fund = sum(p.fund_pay for p in bill.lines)
    personal = sum(p.personal_pay for p in bill.lines)
    assert fund == D(fund_left)
    assert fund <= D(cap) * (D(days) - D(returned))  # never for what was returned
    assert fund + personal == original.amount - back


def test_PR_OVER_STANDARD_a_price_within_the_standard_stays_the_funds_when_part_is_returned() -> (
    None
):
    """0.2 day at 11.9389 (2.39) under an 11.94 standard is the fund's in full; 0.1 day
    returned (1.19) leaves 1.20 for 0.1 day, a fraction of a fen over its 1.194 standard only
    because an amount is rounded to the fen: the price is within the standard, so what is left
    is still the fund's, and the worker pays no 超标准 fen (N§32, N§37)."""
    standard = catalogue(item(CatalogueKind.SERVICE_STANDARD, "BED", price_cap=D("11.94")))
    original = replace(
        fee("L1", "BED", "2.39", quantity="0.2", category=FeeCategory.SERVICE),
        unit_price=D("11.9389"),
    )
    back = replace(
        fee("R1", "BED", "-1.19", quantity="-0.1", category=FeeCategory.SERVICE, reverses="L1"),
        unit_price=D("11.9389"),
    )
    charged, returned = price_lines([original, back], standard, BEIJING).lines
    assert (charged.fund_pay, charged.reason) == (D("2.39"), None)
    assert (returned.fund_pay, returned.personal_pay, returned.reason) == (D("-1.19"), 0, None)
    assert charged.fund_pay + returned.fund_pay == D("1.20")


@pytest.mark.parametrize(
    ("cap", "price", "days", "lines", "fund"),
    [
        # two half days at 60.00 under a 50.01 standard: 25.005 a half day, 25.01 rounded half
        # up, so the fund paid 50.02 for the day, a fen over its standard
        ("50.01", "60.00", "0.5", 2, "50.00"),
        # a 90-day stay charged by the half day at 40.00 under 33.33: the fund paid 3000.60
        # against a standard of 2999.70
        ("33.33", "40.00", "0.5", 180, "2998.80"),
        ("60.00", "100.00", "0.5", 4, "120.00"),  # a standard a half day divides: unchanged
    ],
)
def test_PR_OVER_STANDARD_N32_N37_the_fund_never_pays_above_the_standard_however_divided(
    cap: str, price: str, days: str, lines: int, fund: str
) -> None:
    """The agency deducts what the fund paid above the standard on audit (N§37): rounded half
    up per line, the standard's half fen became the fund's on every line of a fraction of a
    day, and the institution would have it deducted."""
    standard = catalogue(item(CatalogueKind.SERVICE_STANDARD, "BED", price_cap=D(cap), unit="日"))
    amount = (D(days) * D(price)).quantize(D("0.01"))
    stay = [
        replace(
            fee(f"L{n}", "BED", str(amount), quantity=days, category=FeeCategory.SERVICE),
            unit_price=D(price),
        )
        for n in range(lines)
    ]
    bill = price_lines(stay, standard, BEIJING)
    paid = sum(p.fund_pay for p in bill.lines)
    assert paid == D(fund)
    assert paid <= D(cap) * D(days) * lines
    assert all(p.fund_pay + p.personal_pay == amount for p in bill.lines)
    assert all(p.reason is PersonalReason.OVER_LIMIT for p in bill.lines)
