"""A device item code sent in another letter case than the insured place's catalogue and the
approval notice write it (N§32, N§34, B§35): refused, never priced as the worker's."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from adapter.domain.catalogue import CatalogueKind
from adapter.domain.devices import DeviceItem, price_devices
from adapter.domain.errors import PricingError
from adapter.domain.filings import FiledDevice
from adapter.domain.pricing import PersonalReason
from tests.unit.domain.builders import INSURED, at, catalogue, device_filing, item

D = Decimal
ARM, ORTHOSIS = "SH-FZ-0101", "SH-FZ-0305"
DEVICES = catalogue(
    item(CatalogueKind.DEVICE, ARM, name="前臂假肢", region=INSURED, limit=D("28000.00")),
    item(CatalogueKind.DEVICE, ORTHOSIS, name="腕手矫形器", region=INSURED, limit=D("1800.00")),
)
FILING = replace(
    device_filing(),
    devices=(
        FiledDevice(ARM, "前臂假肢", 3, D("28000.00")),
        FiledDevice(ORTHOSIS, "腕手矫形器", 2, D("1800.00")),
    ),
)
FITTED = at("2026-11-24")


def test_DEVICE_CODE_CASE_n32_n34_b35_a_code_in_another_case_is_refused_naming_the_line() -> None:
    """``sh-fz-0101`` for the catalogue's and the notice's ``SH-FZ-0101``: priced as sent, the
    worker paid all 27,000.00 the fund pays. Refused, naming the line and the code to enter."""
    items = (
        DeviceItem(ORTHOSIS, "腕手矫形器", D("1500.00")),
        DeviceItem("sh-fz-0101", "前臂假肢", D("27000.00")),
    )
    with pytest.raises(PricingError) as refused:
        price_devices(items, FILING, DEVICES, INSURED, FITTED)
    error = refused.value
    assert (error.code, error.field, error.article) == (
        "DEVICE_CODE_CASE",
        "items.1.device_code",
        "N§32, N§34, B§35",
    )
    assert "第2件" in error.message and "前臂假肢" in error.message
    assert "sh-fz-0101" in error.message and f"请按目录编码“{ARM}”录入" in error.message

    (arm,) = price_devices(
        (DeviceItem(ARM, "前臂假肢", D("27000.00")),), FILING, DEVICES, INSURED, FITTED
    )
    assert (arm.fund_pay, arm.personal_pay) == (D("27000.00"), D("0.00"))


def test_DEVICE_CODE_CASE_every_line_in_another_case_is_named_the_first_as_the_field() -> None:
    items = (
        DeviceItem("Sh-Fz-0305", "腕手矫形器", D("1500.00")),
        DeviceItem("sh-fz-0101", "前臂假肢", D("27000.00")),
    )
    with pytest.raises(PricingError) as refused:
        price_devices(items, FILING, DEVICES, INSURED, FITTED)
    assert refused.value.field == "items.0.device_code"
    assert "Sh-Fz-0305" in refused.value.message and "sh-fz-0101" in refused.value.message


def test_DEVICE_CODE_CASE_a_code_only_the_notice_has_in_another_case_names_the_notices() -> None:
    """Not in the catalogue in any case, but on the notice in another: the notice's code."""
    filing = replace(FILING, devices=(FiledDevice("SH-FZ-0999", "肘拐", 2, D("200.00")),))
    with pytest.raises(PricingError) as refused:
        price_devices(
            (DeviceItem("sh-fz-0999", "肘拐", D("150.00")),), filing, DEVICES, INSURED, FITTED
        )
    assert refused.value.code == "DEVICE_CODE_CASE"
    assert "核付通知单" in refused.value.message and "SH-FZ-0999" in refused.value.message


def test_DEVICE_CODE_CASE_an_exact_catalogue_row_keeps_its_match_and_no_match_stays_out() -> None:
    """A catalogue with ``sh-fz-0101`` of its own: the code sent is that row, priced as today
    (off the notice: the worker's). A code matching nothing even ignoring case is out of the
    catalogue as before; a catalogue row of another region or not in force is no match."""
    own = catalogue(
        item(CatalogueKind.DEVICE, ARM, name="前臂假肢", region=INSURED, limit=D("28000.00")),
        item(CatalogueKind.DEVICE, "sh-fz-0101", name="另一器具", region=INSURED, limit=D("500")),
    )
    (line,) = price_devices(
        (DeviceItem("sh-fz-0101", "另一器具", D("300.00")),), FILING, own, INSURED, FITTED
    )
    assert (line.fund_pay, line.personal_pay) == (D("0.00"), D("300.00"))
    assert line.rule.code == "PR_DEVICE_NOT_ON_NOTICE"

    (none,) = price_devices(
        (DeviceItem("sh-fz-7777", "其他", D("80.00")),), FILING, DEVICES, INSURED, FITTED
    )
    assert none.personal_pay == D("80.00") and none.reason is PersonalReason.OUT_OF_CATALOGUE

    elsewhere = catalogue(
        item(CatalogueKind.DEVICE, "SH-FZ-0888", region="110100", limit=D("100")),
        item(CatalogueKind.DEVICE, "SH-FZ-0889", region=INSURED, valid_from=date(2027, 1, 1)),
    )
    for code in ("sh-fz-0888", "sh-fz-0889"):
        (out,) = price_devices(
            (DeviceItem(code, "其他", D("80.00")),), FILING, elsewhere, INSURED, FITTED
        )
        assert out.personal_pay == D("80.00")
