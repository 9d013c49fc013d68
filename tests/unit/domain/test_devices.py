"""Device pricing against the insured place's catalogue and limits (N§34, B§34, B§35)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from adapter.domain.catalogue import CatalogueKind
from adapter.domain.devices import (
    DeviceItem,
    DeviceLimit,
    LimitSource,
    applicable_limit,
    filed_limits,
    price_devices,
)
from adapter.domain.errors import PricingError
from adapter.domain.filings import FiledDevice
from adapter.domain.pricing import PersonalReason
from tests.unit.domain.builders import INSURED, at, catalogue, device_filing, item

D = Decimal
DEVICES = catalogue(
    item(CatalogueKind.DEVICE, "D01", name="上肢假肢", region=INSURED, limit=D("15000.00")),
    item(CatalogueKind.DEVICE, "D02", name="轮椅", region=INSURED, limit=D("2000.00")),
)
FITTED = at("2026-11-24")


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


def test_PR_DEVICE_NOT_ON_NOTICE_B34_an_item_not_on_the_filing_is_not_paid() -> None:
    (line,) = price(DeviceItem("D09", "助听器", D("3000.00")))
    assert line.fund_pay == D("0.00") and line.rule.code == "PR_DEVICE_NOT_ON_NOTICE"


@pytest.mark.parametrize(
    ("last", "paid"),
    [
        (date(2023, 11, 25), False),  # one day short of 3 years
        (date(2023, 11, 24), True),  # exactly 3 years
    ],
)
def test_PR_DEVICE_MIN_YEARS_a_replacement_before_the_minimum_years_is_not_paid(
    last: date, paid: bool
) -> None:
    (line,) = price(DeviceItem("D01", "上肢假肢", D("9000.00")), last_fitted={"D01": last})
    assert (line.fund_pay == D("9000.00")) is paid
    if not paid:
        assert line.rule.code == "PR_DEVICE_MIN_YEARS" and "3年" in line.message


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
