"""Device pricing against the insured place's catalogue and limits (N§32, N§34, B§34, B§35)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapter.domain.catalogue import CatalogueKind
from adapter.domain.device_regions import catalogue_regions
from adapter.domain.device_totals import device_totals, out_of_catalogue_parts
from adapter.domain.devices import (
    DeviceItem,
    DeviceLimit,
    EarlierFitting,
    LimitSource,
    applicable_limit,
    device_warnings,
    filed_limits,
    price_devices,
    replacement,
    unconfirmed,
)
from adapter.domain.errors import PricingError
from adapter.domain.filings import FiledDevice, Filing
from adapter.domain.pricing import PersonalReason
from tests.unit.domain.builders import INSURED, at, catalogue, device_filing, item

D = Decimal
DEVICES = catalogue(
    item(CatalogueKind.DEVICE, "D01", name="上肢假肢", region=INSURED, limit=D("15000.00")),
    item(CatalogueKind.DEVICE, "D02", name="轮椅", region=INSURED, limit=D("2000.00")),
)
FITTED = at("2026-11-24")
NOTICE = device_filing().approval_notice_no


def price(*items: DeviceItem, **kwargs: object):  # type: ignore[no-untyped-def]
    return price_devices(items, device_filing(), DEVICES, INSURED, FITTED, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("cost", "fund", "personal"),
    [
        ("11999.99", "11999.99", "0.00"),
        ("12000.00", "12000.00", "0.00"),  # exactly the filed limit
        ("12000.01", "12000.00", "0.01"),  # the fen that tips over it
        ("18000.00", "12000.00", "6000.00"),
    ],
)
def test_PR_DEVICE_N34_B35_below_the_limit_the_actual_cost_above_it_the_limit(
    cost: str, fund: str, personal: str
) -> None:
    (line,) = price(DeviceItem("D01", "上肢假肢", D(cost)))
    assert (line.fund_pay, line.personal_pay) == (D(fund), D(personal))
    assert line.rule.article == "N§34, B§35"
    assert line.reason is (PersonalReason.OVER_LIMIT if D(personal) else None)


def test_PR_DEVICE_B35_the_lower_of_catalogue_and_filed_limit_applies() -> None:
    # D02: filed limit 2500.00, insured place's catalogue limit 2000.00
    (line,) = price(DeviceItem("D02", "轮椅", D("2300.00")))
    assert (line.fund_pay, line.personal_pay) == (D("2000.00"), D("300.00"))
    assert "2000.00" in line.message


def test_PR_DEVICE_NOT_IN_CATALOGUE_N32_N34_an_item_outside_the_insured_places_catalogue() -> None:
    other_region = catalogue(
        item(CatalogueKind.DEVICE, "D01", region="110100", limit=D("15000.00"))
    )
    (line,) = price_devices(
        [DeviceItem("D01", "上肢假肢", D("9000.00"))],
        device_filing(),
        other_region,
        INSURED,
        FITTED,
    )
    assert (line.fund_pay, line.personal_pay) == (D("0.00"), D("9000.00"))
    assert line.rule.code == "PR_DEVICE_NOT_IN_CATALOGUE"
    assert line.reason is PersonalReason.OUT_OF_CATALOGUE


def test_n34_b34_an_item_not_on_the_notice_is_the_workers_with_its_own_reason() -> None:
    (line,) = price(DeviceItem("D09", "助听器", D("3000.00")))
    assert line.fund_pay == D("0.00") and line.rule.code == "PR_DEVICE_NOT_ON_NOTICE"
    assert line.reason is PersonalReason.OUT_OF_CATALOGUE
    assert line.message.startswith("未列入核付通知单") and line.rule.article == "N§34, B§34"


def _earlier(last: date, notice: str = NOTICE, code: str = "D01") -> dict[str, EarlierFitting]:
    return {
        code: EarlierFitting(code, "上肢假肢", last, "示例工伤协议医院（H11010000001）", notice, 3)
    }


@pytest.mark.parametrize(
    ("last", "paid"),
    [
        (date(2023, 11, 25), False),  # one day short of 3 years
        (date(2023, 11, 24), True),  # exactly 3 years
    ],
)
def test_n34_fujian2_a_replacement_inside_the_minimum_years_without_a_new_notice_is_the_workers(
    last: date, paid: bool
) -> None:
    # The earlier fitting was settled under the very notice presented again: no new approval.
    (line,) = price(DeviceItem("D01", "上肢假肢", D("9000.00")), earlier=_earlier(last))
    assert (line.fund_pay == D("9000.00")) is paid
    if not paid:
        assert line.rule.code == "PR_DEVICE_MIN_YEARS" and "3年" in line.message
        assert line.message.startswith("最低使用年限内更换")
        assert "2023-11-25" in line.message and "示例工伤协议医院" in line.message
        assert line.reason is PersonalReason.OUT_OF_CATALOGUE


def test_n34_a_replacement_inside_the_minimum_years_approved_by_a_new_notice_is_priced() -> None:
    earlier = _earlier(date(2025, 6, 1), notice="沪工伤辅核〔2025〕0999号")
    (line,) = price(DeviceItem("D01", "上肢假肢", D("13000.00")), earlier=earlier)
    assert (line.fund_pay, line.personal_pay) == (D("12000.00"), D("1000.00"))
    assert line.rule.code == "PR_DEVICE_OVER_LIMIT"
    [warning] = device_warnings(
        [DeviceItem("D01", "上肢假肢", D("13000.00"))], device_filing(), earlier, FITTED.date()
    )
    assert warning.code == "PR_DEVICE_REPLACEMENT_APPROVED" and warning.field == "D01"
    assert "2025-06-01" in warning.message and unconfirmed([warning]) == ()


def _wheelchair_filed(years: int) -> tuple[Filing, dict[str, EarlierFitting]]:
    """Wheelchair D02 filed with ``years`` minimum years (0: upstream sent none), and its
    earlier fitting the fund paid yesterday under this very notice."""
    filing = replace(device_filing(), devices=(FiledDevice("D02", "轮椅", years, D("2500.00")),))
    where = "示例工伤协议医院（H11010000001）"
    earlier = {"D02": EarlierFitting("D02", "轮椅", date(2026, 11, 23), where, NOTICE, years)}
    return filing, earlier


@pytest.mark.parametrize(
    ("years", "code"), [(5, "PR_DEVICE_MIN_YEARS"), (0, "PR_DEVICE_NOTICE_USED")]
)
def test_PR_DEVICE_NOTICE_USED_n34_n38_the_notice_that_paid_an_item_never_pays_it_again(
    years: int, code: str
) -> None:
    # Without minimum years there is no window to count, but the notice that already paid the
    # wheelchair yesterday does not approve a second one: the worker pays all, as with 5 years.
    filing, earlier = _wheelchair_filed(years)
    items = [DeviceItem("D02", "轮椅", D("3000.00"))]
    [line] = price_devices(items, filing, DEVICES, INSURED, FITTED, earlier)
    assert (line.fund_pay, line.personal_pay) == (D("0.00"), D("3000.00"))
    assert line.rule.code == code and line.reason is PersonalReason.OUT_OF_CATALOGUE
    [warning] = device_warnings(items, filing, earlier, FITTED.date())
    assert (warning.code, warning.field) == (code, "D02")
    assert unconfirmed([warning]) == (warning,)  # the counter confirms before the worker pays
    if years == 0:
        assert line.message.startswith("同一核付通知单再次配置") and NOTICE in line.message
        assert "2026-11-23" in line.message and "年限" not in line.message
        assert line.rule.article.startswith("N§34") and "N§38" in line.rule.article
        assert out_of_catalogue_parts([line]) == (("同一核付通知单再次配置", D("3000.00")),)


def test_n34_without_minimum_years_a_new_notice_or_no_earlier_fitting_is_priced() -> None:
    filing, earlier = _wheelchair_filed(0)
    items = [DeviceItem("D02", "轮椅", D("3000.00"))]
    other = {"D02": replace(earlier["D02"], notice_no="沪工伤辅核〔2025〕0999号")}
    for before in (other, {}):
        [line] = price_devices(items, filing, DEVICES, INSURED, FITTED, before)
        assert (line.fund_pay, line.personal_pay) == (D("2000.00"), D("1000.00"))
        assert device_warnings(items, filing, before, FITTED.date()) == ()
        assert replacement("D02", filing, before, FITTED.date()) is None


def test_n34_fujian2_an_item_off_the_notice_replaced_inside_its_years_says_so() -> None:
    earlier = _earlier(date(2025, 6, 1), code="D09")
    items = [DeviceItem("D09", "助听器", D("3000.00")), DeviceItem("D02", "轮椅", D("1000.00"))]
    off, wheelchair = price(*items, earlier=earlier)
    assert off.rule.code == "PR_DEVICE_MIN_YEARS" and off.fund_pay == D("0.00")
    assert wheelchair.fund_pay == D("1000.00")
    warnings = device_warnings(items, device_filing(), earlier, FITTED.date())
    assert [(w.code, w.field) for w in warnings] == [("PR_DEVICE_MIN_YEARS", "D09")]
    assert unconfirmed(warnings) == warnings


def test_n34_b34_an_item_off_the_notice_is_a_warning_not_a_refusal() -> None:
    items = [DeviceItem("D09", "助听器", D("3000.00")), DeviceItem("D01", "上肢假肢", D("100.00"))]
    [warning] = device_warnings(items, device_filing(), {}, FITTED.date())
    assert (warning.code, warning.field, warning.severity.value) == (
        "PR_DEVICE_NOT_ON_NOTICE",
        "D09",
        "warning",
    )
    assert "助听器" in warning.message and unconfirmed([warning]) == ()


@pytest.mark.parametrize(
    ("costs", "fund", "personal"),
    [
        (("8000.00", "4000.00"), ("8000.00", "4000.00"), ("0.00", "0.00")),  # exactly the limit
        (("8000.00", "4000.01"), ("8000.00", "4000.00"), ("0.00", "0.01")),  # a fen over it
        (("12000.00", "12000.00"), ("12000.00", "0.00"), ("0.00", "12000.00")),
        (("13000.00", "500.00"), ("12000.00", "0.00"), ("1000.00", "500.00")),
    ],
)
def test_PR_DEVICE_ITEM_SUMMED_n34_b35_the_lines_of_one_item_share_one_limit(
    costs: tuple[str, str], fund: tuple[str, str], personal: tuple[str, str]
) -> None:
    lines = price(*(DeviceItem("D01", "上肢假肢", D(c)) for c in costs))
    assert tuple(str(p.fund_pay) for p in lines) == fund
    assert tuple(str(p.personal_pay) for p in lines) == personal
    assert sum(p.fund_pay for p in lines) == min(sum(D(c) for c in costs), D("12000.00"))
    assert all("共2行" in p.message and "12000.00" in p.message for p in lines)
    [total] = device_totals(lines)
    assert (total.lines, total.amount, total.limit) == (2, sum(D(c) for c in costs), D("12000.00"))
    assert (total.fund_pay, total.personal_pay) == (
        sum(D(f) for f in fund),
        sum(D(p) for p in personal),
    )


@given(
    costs=st.lists(
        st.decimals(min_value="0.01", max_value="20000.00", places=2), min_size=1, max_size=5
    )
)
def test_n34_b35_property_one_item_never_gets_more_than_one_limit(costs: list[Decimal]) -> None:
    lines = price(*(DeviceItem("D02", "轮椅", c) for c in costs))
    assert sum(p.fund_pay for p in lines) == min(sum(costs), D("2000.00"))
    assert all(p.fund_pay + p.personal_pay == p.amount for p in lines)


@pytest.mark.parametrize(
    ("region", "expected"),
    [
        ("310104", ("310104", "310100", "310000")),
        ("310100", ("310100", "310000")),
        ("310000", ("310000",)),
    ],
)
def test_n32_the_device_catalogue_falls_back_district_city_province(
    region: str, expected: tuple[str, ...]
) -> None:
    assert catalogue_regions(region) == expected


@pytest.mark.parametrize("cost", ["0.00", "-5.00", "100.001"])
def test_a_device_cost_that_is_not_a_positive_fen_amount_is_refused(cost: str) -> None:
    with pytest.raises(PricingError):
        price(DeviceItem("D01", "上肢假肢", D(cost)))


def test_PR_DEVICE_B35_the_limit_shown_names_which_limit_binds_and_is_the_one_priced() -> None:
    # D01: filed 12000.00 under the catalogue's 15000.00; D02: catalogue 2000.00 under the
    # filed 2500.00; D03 is filed but outside the insured place's catalogue.
    filed = device_filing()
    filing = replace(filed, devices=(*filed.devices, FiledDevice("D03", "助行器", 2, D("300.00"))))
    limits = filed_limits(filing, DEVICES, INSURED, FITTED.date())
    assert limits["D01"] == DeviceLimit(
        D("12000.00"), LimitSource.FILING, D("12000.00"), D("15000.00")
    )
    assert limits["D02"] == DeviceLimit(
        D("2000.00"), LimitSource.CATALOGUE, D("2500.00"), D("2000.00")
    )
    assert limits["D03"] is None
    assert (limits["D01"].label, limits["D02"].label) == ("备案限额", "目录限价")  # type: ignore[union-attr]
    priced = price_devices(
        [DeviceItem("D01", "上肢假肢", D("99999.00")), DeviceItem("D02", "轮椅", D("99999.00"))],
        filing,
        DEVICES,
        INSURED,
        FITTED,
    )
    assert [p.fund_pay for p in priced] == [limits["D01"].amount, limits["D02"].amount]  # type: ignore[union-attr]


def test_equal_limits_are_named_as_both() -> None:
    entry = item(CatalogueKind.DEVICE, "D01", region=INSURED, limit=D("12000.00"))
    limit = applicable_limit(device_filing().devices[0], entry)
    assert (limit.amount, limit.label) == (D("12000.00"), "备案限额与目录限价相同")


def test_lines_keep_their_order_even_with_repeated_line_ids() -> None:
    lines = price(
        DeviceItem("D02", "轮椅", D("1500.00"), "X"),
        DeviceItem("D01", "上肢假肢", D("100.00"), "X"),
        DeviceItem("D02", "轮椅", D("1000.00"), "X"),
    )
    assert [(p.line.item_code, p.fund_pay) for p in lines] == [
        ("D02", D("1500.00")),
        ("D01", D("100.00")),
        ("D02", D("500.00")),
    ]


@pytest.mark.parametrize("years", [3, 0])
def test_n34_n38_the_notice_that_paid_an_item_typed_otherwise_is_still_the_same_notice(
    years: int,
) -> None:
    # The earlier fitting was settled under this very notice as an earlier (changed, N§15)
    # filing spelled it — round brackets and full-width digits, not 〔〕. It is one notice
    # (B§34: the counter compares notices so), not a new approval of a replacement: the
    # fund never pays the arm twice on it.
    spelled = "沪工伤辅核(２０２６)0123号"
    earlier = {
        "D01": replace(_earlier(date(2026, 6, 1))["D01"], notice_no=spelled, min_years=years)
    }
    filing = replace(
        device_filing(),
        devices=(FiledDevice("D01", "上肢假肢", years, D("12000.00")),),
    )
    items = [DeviceItem("D01", "上肢假肢", D("9000.00"))]
    [line] = price_devices(items, filing, DEVICES, INSURED, FITTED, earlier)
    assert (line.fund_pay, line.personal_pay) == (D("0.00"), D("9000.00"))
    code = "PR_DEVICE_MIN_YEARS" if years else "PR_DEVICE_NOTICE_USED"
    assert line.rule.code == code
    [warning] = device_warnings(items, filing, earlier, FITTED.date())
    assert warning.code == code and unconfirmed([warning]) == (warning,)
