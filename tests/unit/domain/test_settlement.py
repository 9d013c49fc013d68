"""Settlement totals and money properties (hypothesis): fund + personal = total, always."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import pairwise

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from adapter.domain.catalogue import CatalogueKind
from adapter.domain.encounters import Encounter, EncounterKind
from adapter.domain.fees import FeeCategory, FeeLine
from adapter.domain.money import to_fen
from adapter.domain.months import settlement_period
from adapter.domain.pricing import PersonalReason, PricedLine, price_lines
from adapter.domain.settlement import (
    Breakdown,
    LineGroup,
    Settlement,
    make_bill,
    make_slip_no,
    settlement_day,
    settlement_month,
    summed_bill,
)
from tests.unit.domain.builders import BEIJING, SHANGHAI, at, catalogue, fee, item

D = Decimal
CATALOGUE = catalogue(
    item(CatalogueKind.DRUG, "XA01", unit="盒"),
    item(CatalogueKind.DRUG, "XA02", unit="盒", price_cap=D("12.34")),
    item(CatalogueKind.TREATMENT, "T100"),
    item(CatalogueKind.SERVICE_STANDARD, "S01", unit="日", price_cap=D("60")),
    item(CatalogueKind.SERVICE_STANDARD, "S02", unit="日", price_cap=D("33.33")),
    item(CatalogueKind.REHAB, "R10"),
)
CODES = {
    FeeCategory.DRUG: ["XA01", "XA02", "ZZ01"],
    FeeCategory.TREATMENT: ["T100", "ZZ02"],
    FeeCategory.SERVICE: ["S01", "S02"],
    FeeCategory.REHAB: ["R10", "ZZ03"],
    FeeCategory.MEAL: ["M01"],
}


def bill_of(lines: list[FeeLine]):  # type: ignore[no-untyped-def]
    return make_bill(price_lines(lines, CATALOGUE, BEIJING), at("2026-11-01"), at("2026-11-30"))


def test_the_breakdown_splits_personal_pay_three_ways_and_lists_excluded_apart() -> None:
    lines = [
        fee("1", "XA01", "100.00"),  # fund 100
        fee("2", "ZZ01", "20.00"),  # out of catalogue 20
        fee("3", "S01", "800.00", quantity="10", category=FeeCategory.SERVICE),  # 600 + 200 over
        fee("4", "T100", "50.00", category=FeeCategory.TREATMENT, work_injury=False),  # 50
        fee("5", "M01", "300.00", category=FeeCategory.MEAL),  # excluded
    ]
    breakdown = bill_of(lines).breakdown
    assert breakdown == Breakdown(
        total=D("970.00"),
        fund_pay=D("700.00"),
        personal_pay=D("270.00"),
        out_of_catalogue=D("20.00"),
        over_limit=D("200.00"),
        non_work_injury=D("50.00"),
        excluded_total=D("300.00"),
    )


def test_totals_by_category_add_up_to_the_bill() -> None:
    bill = bill_of(
        [
            fee("1", "XA01", "100.00"),
            fee("2", "XA01", "10.00"),
            fee("3", "S01", "800.00", quantity="10", category=FeeCategory.SERVICE),
        ]
    )
    totals = {c.category: (c.total, c.fund_pay, c.personal_pay) for c in bill.by_category()}
    assert totals == {
        "drug": (D("110.00"), D("110.00"), D("0.00")),
        "service": (D("800.00"), D("600.00"), D("200.00")),
    }


def test_N36_B41_a_stay_across_a_year_is_one_bill_on_the_discharge_date() -> None:
    lines = [
        fee("1", "XA01", "100.00", occurred_at=at("2026-12-30")),
        fee("2", "XA01", "100.00", occurred_at=at("2027-01-02")),
    ]
    priced = price_lines(lines, CATALOGUE, BEIJING)
    bill = make_bill(priced, at("2026-12-28"), at("2027-01-05"))
    assert bill.crosses_year and bill.discharged_on == date(2027, 1, 5)
    assert bill.breakdown.total == D("200.00") and bill.breakdown.fund_pay == D("200.00")
    assert any("N§36" in note or "整体结算" in note for note in bill.notes)
    settlement = Settlement(
        id="S1",
        encounter=Encounter(
            "E1", EncounterKind.MEDICAL, "P001", "F001", "H11010000001", "V1", at("2026-12-28")
        ),
        slip_no=make_slip_no("H11010000001", date(2027, 1, 5), 1),
        settled_at=at("2027-01-05"),
        bill=bill,
    )
    assert settlement.month_in(SHANGHAI) == "2027-01"
    assert settlement.slip_no == "H1101000000120270105" + "00001"


def test_N35_a_settlement_belongs_to_the_local_day_of_its_settlement_time() -> None:
    """Discharged at 23:00 on 31 January, settled at 00:20 on 1 February (Beijing; still
    31 January in UTC): the settlement's day is the 1st and its month February, while the
    bill keeps the discharge date for what is about the stay."""
    discharged = datetime(2026, 1, 31, 23, 0, tzinfo=SHANGHAI)
    settled_at = datetime(2026, 2, 1, 0, 20, tzinfo=SHANGHAI).astimezone(UTC)
    assert settled_at.date() == date(2026, 1, 31)  # the UTC day is not the rule
    priced = price_lines(
        [fee("1", "XA01", "100.00", occurred_at=at("2026-01-30"))], CATALOGUE, BEIJING
    )
    bill = make_bill(priced, at("2026-01-28"), discharged)
    assert bill.discharged_on == date(2026, 1, 31) and not bill.crosses_year
    settlement = Settlement(
        id="S1",
        encounter=Encounter(
            "E1", EncounterKind.MEDICAL, "P001", "F001", "H11010000001", "V1", at("2026-01-28")
        ),
        slip_no=make_slip_no("H11010000001", date(2026, 2, 1), 1),
        settled_at=settled_at,
        bill=bill,
    )
    assert settlement.settled_on(SHANGHAI) == settlement_day(settled_at, SHANGHAI)
    assert settlement.settled_on(SHANGHAI) == date(2026, 2, 1)
    assert settlement.month_in(SHANGHAI) == settlement_month(settled_at, SHANGHAI) == "2026-02"
    # The same rule as reconciliation's period for the month.
    start, end = settlement_period("2026-02", SHANGHAI)
    assert start <= settled_at < end
    with pytest.raises(ValueError):
        settlement_day(datetime(2026, 2, 1, 0, 20), SHANGHAI)


# -- properties ------------------------------------------------------------------------------

money = st.decimals(min_value=D("0.01"), max_value=D("99999.99"), places=2)
quantities = st.decimals(min_value=D("0.5"), max_value=D("90"), places=1)


@st.composite
def fee_lines(draw: st.DrawFn) -> list[FeeLine]:
    count = draw(st.integers(min_value=1, max_value=40))
    lines: list[FeeLine] = []
    for number in range(count):
        category = draw(st.sampled_from(list(CODES)))
        code = draw(st.sampled_from(CODES[category]))
        quantity = draw(quantities)
        unit_price = draw(money)
        lines.append(
            FeeLine(
                line_id=f"L{number}",
                item_code=code,
                item_name=code,
                category=category,
                quantity=quantity,
                unit_price=unit_price,
                amount=to_fen(quantity * unit_price),
                occurred_at=at("2026-11-05"),
                work_injury=draw(st.booleans()) or draw(st.booleans()),
            )
        )
    return lines


def reversal_of(line: FeeLine, quantity: Decimal | None = None) -> FeeLine:
    quantity = line.quantity if quantity is None else quantity
    amount = line.amount if quantity == line.quantity else to_fen(quantity * line.unit_price)
    return replace(
        line, line_id=f"R-{line.line_id}", quantity=-quantity, amount=-amount, reverses=line.line_id
    )


@settings(max_examples=300, deadline=None)
@given(fee_lines())
def test_fund_plus_personal_is_the_total_for_every_bill(lines: list[FeeLine]) -> None:
    breakdown = bill_of(lines).breakdown
    assert breakdown.fund_pay + breakdown.personal_pay == breakdown.total
    assert breakdown.total == sum((li.amount for li in lines if not li.category.excluded), D(0))
    assert (
        breakdown.out_of_catalogue + breakdown.over_limit + breakdown.non_work_injury
        == breakdown.personal_pay
    )
    for value in (breakdown.total, breakdown.fund_pay, breakdown.personal_pay):
        assert value == value.quantize(D("0.01"))


@settings(max_examples=300, deadline=None)
@given(fee_lines())
def test_fund_pay_never_exceeds_the_amount_or_the_standard(lines: list[FeeLine]) -> None:
    for priced in bill_of(lines).lines:
        assert D(0) <= priced.fund_pay <= priced.amount
        assert priced.fund_pay + priced.personal_pay == priced.amount
        if priced.item is not None and priced.item.price_cap is not None:
            assert priced.fund_pay <= to_fen(priced.item.price_cap * priced.line.quantity)


@settings(max_examples=200, deadline=None)
@given(fee_lines())
def test_reversing_every_line_cancels_the_bill(lines: list[FeeLine]) -> None:
    breakdown = bill_of(lines + [reversal_of(li) for li in lines]).breakdown
    assert breakdown.total == breakdown.fund_pay == breakdown.personal_pay == D(0)
    assert breakdown.excluded_total == D(0)


@settings(max_examples=200, deadline=None)
@given(fee_lines(), st.data())
def test_reversing_one_line_leaves_the_bill_as_if_it_was_never_charged(
    lines: list[FeeLine], data: st.DataObject
) -> None:
    line = data.draw(st.sampled_from([li for li in lines if not li.category.excluded] or lines))
    bill = bill_of([*lines, reversal_of(line)])
    without = bill_of([li for li in lines if li is not line])
    assert bill.breakdown.fund_pay == without.breakdown.fund_pay
    assert bill.breakdown.personal_pay == without.breakdown.personal_pay


@settings(max_examples=200, deadline=None)
@given(fee_lines(), st.data())
def test_reversing_one_line_in_parts_leaves_the_bill_as_if_it_was_never_charged(
    lines: list[FeeLine], data: st.DataObject
) -> None:
    line = data.draw(st.sampled_from([li for li in lines if not li.category.excluded] or lines))
    tenths = int(line.quantity * 10)  # quantities are drawn to the tenth
    cuts = sorted(data.draw(st.sets(st.integers(1, tenths - 1), min_size=1, max_size=4)))
    bounds = [0, *cuts, tenths]
    quantities = [D(b - a) / 10 for a, b in pairwise(bounds)]
    # each part is its quantity at the line's price to the fen; the last returns what is left
    amounts = [to_fen(q * line.unit_price) for q in quantities[:-1]]
    assume(sum(amounts) <= line.amount)  # parts of a cheap line may round past its amount
    amounts.append(line.amount - sum(amounts, D(0)))
    parts = [
        replace(reversal_of(line, q), line_id=f"R{n}-{line.line_id}", amount=-amount)
        for n, (q, amount) in enumerate(zip(quantities, amounts, strict=True))
    ]
    bill = bill_of([*lines, *parts])
    without = bill_of([li for li in lines if li is not line])
    assert bill.breakdown.total == without.breakdown.total
    assert bill.breakdown.fund_pay == without.breakdown.fund_pay
    assert bill.breakdown.personal_pay == without.breakdown.personal_pay
    for priced in bill.lines:
        if priced.line.is_reversal:  # a part returned never has the fund pay more
            assert priced.fund_pay <= 0
            assert priced.fund_pay + priced.personal_pay == priced.amount


def _groups(lines: tuple[PricedLine, ...]) -> list[LineGroup]:
    """The lines summed per category and reason in first-appearance order, as the store's
    grouped query gives them."""
    sums: dict[tuple[FeeCategory, PersonalReason | None], list[Decimal]] = {}
    for p in lines:
        entry = sums.setdefault((p.line.category, p.reason), [D(0), D(0), D(0), D(0)])
        entry[0] += 1
        entry[1] += p.amount
        entry[2] += p.fund_pay
        entry[3] += p.personal_pay
    return [LineGroup(c, r, int(n), t, f, s) for (c, r), (n, t, f, s) in sums.items()]


@settings(max_examples=300, deadline=None)
@given(fee_lines())
def test_a_bill_summed_by_category_and_reason_is_the_bill_of_its_lines(
    lines: list[FeeLine],
) -> None:
    priced = price_lines(lines, CATALOGUE, BEIJING)
    admitted, discharged = at("2026-12-30"), at("2027-01-02", 10)  # across a year
    whole = make_bill(priced, admitted, discharged)
    summed = summed_bill(_groups(priced.lines), priced.excluded, admitted, discharged)
    assert summed.breakdown == whole.breakdown
    assert summed.by_category() == whole.by_category()
    assert summed.line_count == len(whole.lines) and summed.lines == ()
    assert summed.excluded == whole.excluded
    assert (summed.crosses_year, summed.notes, summed.discharged_on) == (
        whole.crosses_year,
        whole.notes,
        whole.discharged_on,
    )


@settings(max_examples=400, deadline=None)
@given(
    fee_lines(),
    st.data(),
    st.decimals(min_value=D("0.01"), max_value=D("999.99"), places=4),
)
def test_a_line_partly_reversed_leaves_what_its_remaining_quantity_would_be_priced_at(
    lines: list[FeeLine], data: st.DataObject, unit_price: Decimal
) -> None:
    """N§32, N§37, B§29: 3 of 7 boxes returned, or a bed day over the standard partly
    reversed, leaves the bill the remaining quantity would make, charged fresh at the
    amount left: the fund pays what that quantity is priced at (never for what was
    returned, never a fen over the standard), the worker the rest, to the fen."""
    chosen = data.draw(st.sampled_from([li for li in lines if not li.category.excluded] or lines))
    assume(not chosen.category.excluded and chosen.quantity >= 1)
    # its price as a HIS may send it, to four decimals (a fen that does not divide)
    line = replace(chosen, unit_price=unit_price, amount=to_fen(chosen.quantity * unit_price))
    assume(line.amount > 0)
    tenths = int(line.quantity * 10)
    cuts = sorted(data.draw(st.sets(st.integers(1, tenths - 1), min_size=1, max_size=3)))
    returned = [D(b - a) / 10 for a, b in pairwise([0, *cuts])]  # not all of it
    amounts = [to_fen(q * unit_price) for q in returned]
    assume(sum(amounts) < line.amount)
    parts = [
        replace(reversal_of(line, q), line_id=f"R{n}-{line.line_id}", amount=-amount)
        for n, (q, amount) in enumerate(zip(returned, amounts, strict=True))
    ]
    left = replace(
        line,
        quantity=line.quantity - sum(returned, D(0)),
        amount=line.amount - sum(amounts, D(0)),
    )
    others = [li for li in lines if li is not chosen]
    reversed_bill = bill_of([*others, line, *parts]).breakdown
    fresh = bill_of([*others, left]).breakdown
    assert reversed_bill == fresh
    assert reversed_bill.fund_pay + reversed_bill.personal_pay == reversed_bill.total
