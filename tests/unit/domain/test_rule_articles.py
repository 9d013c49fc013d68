"""Rules that had no test naming them (docs/rules.md), each proved over the domain."""

from __future__ import annotations

from decimal import Decimal

import pytest

from adapter.domain.catalogue import CatalogueKind
from adapter.domain.devices import DEVICE_OVER_LIMIT, DEVICE_WITHIN_LIMIT, DeviceItem, price_devices
from adapter.domain.errors import PricingError
from adapter.domain.fees import FeeCategory
from adapter.domain.pricing import PersonalReason, price_line, price_lines
from adapter.domain.settlement import ONE_BILL_ACROSS_YEARS, make_bill
from tests.unit.domain.builders import BEIJING, INSURED, at, catalogue, device_filing, fee, item

D = Decimal
DEVICES = catalogue(
    item(CatalogueKind.DEVICE, "D01", name="上肢假肢", region=INSURED, limit=D("15000.00")),
)
TREATMENT = catalogue(item(CatalogueKind.DRUG, "XA01", name="布洛芬缓释胶囊", unit="盒"))


def _fitting(cost: str):  # type: ignore[no-untyped-def]
    (line,) = price_devices(
        [DeviceItem("D01", "上肢假肢", D(cost))],
        device_filing(),
        DEVICES,
        INSURED,
        at("2026-11-24"),
    )
    return line


def test_PR_DEVICE_WITHIN_LIMIT_N34_B35_below_the_limit_the_fund_pays_the_actual_cost() -> None:
    line = _fitting("9000.00")  # the filed limit is 12000.00, the catalogue's 15000.00
    assert line.rule is DEVICE_WITHIN_LIMIT and line.rule.article == "N§34, B§35"
    assert (line.fund_pay, line.personal_pay) == (D("9000.00"), D("0.00"))
    assert "12000.00" in line.message and "按实际费用支付" in line.message


def test_PR_DEVICE_OVER_LIMIT_N34_B35_above_the_limit_the_worker_pays_the_excess() -> None:
    line = _fitting("12500.00")
    assert line.rule is DEVICE_OVER_LIMIT and line.rule.article == "N§34, B§35"
    assert (line.fund_pay, line.personal_pay) == (D("12000.00"), D("500.00"))
    assert line.reason is PersonalReason.OVER_LIMIT
    assert "超出部分由个人支付" in line.message


def test_ST_ONE_BILL_ACROSS_YEARS_N36_B41_a_stay_across_new_year_is_one_bill() -> None:
    priced = price_lines(
        [
            fee("1", "XA01", "35.50", occurred_at=at("2026-12-30")),
            fee("2", "XA01", "20.00", occurred_at=at("2027-01-02")),
        ],
        TREATMENT,
        BEIJING,
    )
    bill = make_bill(priced, at("2026-12-28"), at("2027-01-05"))
    assert bill.crosses_year and bill.discharged_on == at("2027-01-05").date()
    assert bill.breakdown.total == D("55.50") and len(bill.lines) == 2
    assert bill.notes == (ONE_BILL_ACROSS_YEARS.message,)
    assert ONE_BILL_ACROSS_YEARS.article == "N§36, B§41"
    same_year = make_bill(priced, at("2027-01-01"), at("2027-01-05"))
    assert not same_year.crosses_year and same_year.notes == ()


@pytest.mark.parametrize("category", [FeeCategory.MEAL, FeeCategory.TRANSPORT])
def test_FEE_EXCLUDED_N3_B30_meal_or_transport_is_never_priced_for_the_fund(
    category: FeeCategory,
) -> None:
    with pytest.raises(PricingError) as refused:
        price_line(fee("9", "M01", "90.00", category=category), TREATMENT, BEIJING)
    assert refused.value.code == "FEE_EXCLUDED"
    assert refused.value.article == "N§3, B§30"
    assert "不纳入直接结算" in refused.value.message
