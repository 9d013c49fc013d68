"""Per-day service standards (bed, nursing, ward round) against the stay's own days: the fund
pays no bed day the worker did not stay (N§32, N§37, B§30)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from adapter.domain.encounters import EncounterStatus
from adapter.domain.errors import PricingError
from adapter.domain.fees import FeeCategory
from adapter.services.container import Services
from adapter.services.settlement import SettleRequest
from tests.integration.services.helpers import admit, fee, local

D = Decimal
BED = "110900001A"  # 普通病房床位费（三人间）, standard 50.00/日
SERVICE = FeeCategory.SERVICE


def test_FEE_DAYS_OVER_STAY_n32_n37_a_stay_billed_more_bed_days_than_it_had_is_refused(
    services: Services,
) -> None:
    """Admitted five days ago at 09:00, discharged today at 10:00: six calendar days. Billed
    ten bed days in one line and two more on one day, the fund paid 12 × 50.00 = 600.00;
    now settlement is refused naming the lines, and settles once the surplus is reversed."""
    stay = services.admissions.admit(admit("P001", "V-1", days=-5), actor="c").encounter
    services.fees.record(
        stay.id,
        [
            fee("L1", BED, "500.00", quantity="10", category=SERVICE, days=-1),
            fee("L2", BED, "50.00", category=SERVICE, days=-3),
            fee("L3", BED, "50.00", category=SERVICE, days=-3),
            fee("M1", "MEAL", "300.00", quantity="6", category=FeeCategory.MEAL, days=-1),
        ],
        actor="b",
    )
    with pytest.raises(PricingError) as refused:
        services.settlements.settle(SettleRequest(stay.id, local(0, 10)), actor="b")
    assert refused.value.code == "FEE_DAYS_OVER_STAY"
    assert refused.value.field == "discharged_at"
    assert refused.value.article.startswith("N§32")
    assert "费用明细L1、L2、L3的普通病房床位费（三人间）（110900001A）" in refused.value.message
    assert "共计12日，超过本次住院的6天" in refused.value.message
    assert services.encounter(stay.id).encounter.status is EncounterStatus.ADMITTED

    # the HIS reverses the duplicate and five of the ten: six days, the stay's own
    services.fees.record(
        stay.id,
        [
            fee("R1", BED, "-50.00", quantity="-1", category=SERVICE, days=-1, reverses="L3"),
            fee("R2", BED, "-250.00", quantity="-5", category=SERVICE, days=-1, reverses="L1"),
        ],
        actor="b",
    )
    settled = services.settlements.settle(SettleRequest(stay.id, local(0, 10)), actor="b")
    breakdown = settled.settlement.breakdown
    assert (breakdown.total, breakdown.fund_pay, breakdown.personal_pay) == (
        D("300.00"),
        D("300.00"),
        D("0.00"),
    )
    assert breakdown.excluded_total == D("300.00")  # meal subsidy: the insured place's (B§30)


def test_FEE_DAYS_OVER_STAY_both_end_days_count_and_the_workers_own_days_do_not(
    services: Services,
) -> None:
    """A same-day stay has one day: two bed days are refused. Six days on a six-calendar-day
    stay settle (admission and discharge day both counted), and bed days of a non-work
    injury (B§29: the worker pays them) are not the fund's days."""
    same_day = services.admissions.admit(admit("P001", "V-1", days=-2), actor="c").encounter
    services.fees.record(
        same_day.id,
        [
            fee("L1", BED, "50.00", category=SERVICE, days=-2),
            fee("L2", BED, "50.00", category=SERVICE, days=-2),
        ],
        actor="b",
    )
    with pytest.raises(PricingError) as refused:
        services.settlements.settle(SettleRequest(same_day.id, local(-2, 18)), actor="b")
    assert refused.value.code == "FEE_DAYS_OVER_STAY"
    assert "共计2日，超过本次住院的1天" in refused.value.message

    stay = services.admissions.admit(admit("P002", "V-2", days=-5), actor="c").encounter
    services.fees.record(
        stay.id,
        [
            fee("B1", BED, "300.00", quantity="6", category=SERVICE, days=-1),
            fee("B2", BED, "100.00", quantity="2", category=SERVICE, days=-1, work_injury=False),
        ],
        actor="b",
    )
    settled = services.settlements.settle(SettleRequest(stay.id, local(0, 10)), actor="b")
    breakdown = settled.settlement.breakdown
    assert (breakdown.fund_pay, breakdown.non_work_injury) == (D("300.00"), D("100.00"))
