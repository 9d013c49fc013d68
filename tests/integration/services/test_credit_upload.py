"""A credit (冲销) is uploaded with its original's work-injury flag: a CD credit sent without
a ZFT reads as a work-injury line, and one reversing a charge for another illness was sent
upstream as ``work_injury: true`` though the fund took nothing back (B§29, N§33)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import httpx

from adapter.domain.fees import FeeCategory
from adapter.services.container import Services
from adapter.services.settlement import SettleRequest
from connectors.upstream.simulator import SimulatorServer
from tests.integration.services.helpers import admit, fee, local
from tests.integration.services.support import MovableClock
from upload_queue import UploadQueue

D = Decimal


def test_a_credit_for_another_illness_is_uploaded_as_another_illness(
    services: Services, clock: MovableClock, queue: UploadQueue, sim: SimulatorServer
) -> None:
    clock.advance(timedelta(hours=1))
    stay = services.admissions.admit(admit("P001", "V-1"), actor="clerk").encounter
    injury = fee("L1", "XN02BEB001", "36.50", quantity="2")
    other = fee("L2", "XJ01DCC061", "42.00", quantity="2", work_injury=False)
    services.fees.record(stay.id, [injury, other], actor="his")
    # FT1-6 CD, no ZFT after it: read as a work-injury line, no original named
    credit = fee("R2", "XJ01DCC061", "-21.00", quantity="-1")
    recorded = services.fees.record(stay.id, [credit], actor="his")
    assert recorded.reversals == {"R2": "L2"}
    # the same credit again is a resend, not another fee (FEE_LINE_ID_REUSED)
    assert services.fees.record(stay.id, [credit], actor="his").ignored == ("R2",)

    settled = services.settlements.settle(SettleRequest(stay.id, local(0, 0)), actor="b")
    assert settled.settlement.breakdown.fund_pay == D("36.50")
    assert settled.settlement.breakdown.non_work_injury == D("21.00")
    queue.worker().drain()
    [write] = httpx.get(f"{sim.url}/_sim/received", params={"infno": "WI2301"}).json()["writes"]
    details = {d["feedetl_sn"]: d for d in write["input"]["feedetail"]}
    assert details["R2"]["init_feedetl_sn"] == "L2"
    assert (details["R2"]["fund_pay"], details["R2"]["psn_pay"]) == ("0.00", "-21.00")
    assert details["R2"]["work_injury"] is False  # as its original, which upstream pairs it with
    assert details["L2"]["work_injury"] is False and details["L1"]["work_injury"] is True


def test_a_credit_sent_under_another_category_is_billed_and_uploaded_as_its_original(
    services: Services, clock: MovableClock, queue: UploadQueue, sim: SimulatorServer
) -> None:
    """A HIS that codes a credit's charge type apart from its charge's: a drug returned under
    the meal subsidy's code was priced as the drug (the fund took 18.25 back) but billed and
    uploaded as a meal line carrying fund money — on the slip a 住院伙食补助费 of −18.25 paid
    by the fund, which B§30 keeps out of direct settlement — and a meal returned under a
    drug's code was listed apart as a drug (N§32, N§33, B§30)."""
    clock.advance(timedelta(hours=1))
    stay = services.admissions.admit(admit("P001", "V-1"), actor="clerk").encounter
    drug = fee("D1", "XN02BEB001", "36.50", quantity="2")
    meal = fee("M1", "99MEAL-ODD", "30.00", category=FeeCategory.MEAL)
    services.fees.record(stay.id, [drug, meal], actor="his")
    credits = [
        fee("RD1", "XN02BEB001", "-18.25", quantity="-1", category=FeeCategory.MEAL),
        fee("RM1", "99MEAL-ODD", "-30.00", quantity="-1", category=FeeCategory.DRUG),
    ]
    assert services.fees.record(stay.id, credits, actor="his").reversals == {
        "RD1": "D1",
        "RM1": "M1",
    }
    # the same credits again, as the HIS coded them, are a resend
    assert services.fees.record(stay.id, credits, actor="his").ignored == ("RD1", "RM1")

    settled = services.settlements.settle(SettleRequest(stay.id, local(0, 0)), actor="b")
    bill = settled.settlement.bill
    assert [(c.category, c.total, c.fund_pay) for c in bill.by_category()] == [
        ("drug", D("18.25"), D("18.25"))
    ]
    assert [(line.line_id, line.category) for line in bill.excluded] == [
        ("M1", FeeCategory.MEAL),
        ("RM1", FeeCategory.MEAL),
    ]
    assert bill.breakdown.excluded_total == D("0.00")
    queue.worker().drain()
    [write] = httpx.get(f"{sim.url}/_sim/received", params={"infno": "WI2301"}).json()["writes"]
    details = {d["feedetl_sn"]: d for d in write["input"]["feedetail"]}
    assert set(details) == {"D1", "RD1"}
    assert (details["RD1"]["med_chrgitm_type"], details["RD1"]["fund_pay"]) == ("drug", "-18.25")
