"""The checks made again at discharge (N§33, B§30): validity protected from admission
(N§13), eligibility lost during the stay (N§11, N§15), and one bill across New Year (N§36, B§41)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import Engine

from adapter.domain.errors import EligibilityRefused
from adapter.services.container import Services
from adapter.services.settlement import SettleRequest
from connectors.upstream.client import ReferenceClient
from connectors.upstream.simulator import SimulatorServer
from tests.integration.services.helpers import INSTITUTION, TODAY, ZONE, fee, local
from tests.integration.services.support import MovableClock, jobs, load_catalogue
from tests.support.filed_stays import admit_on_card, at, seed_worker


def d(days: int) -> str:
    return (TODAY + timedelta(days=days)).isoformat()


def test_admitted_inside_validity_settles_after_the_filing_expired(
    services: Services, sim: SimulatorServer
) -> None:
    seed_worker(sim, "P901", "CARD901", begndate=d(-100), enddate=d(-1), filed_on=d(-101))
    encounter_id = admit_on_card(services, "P901", "CARD901", local(-10))
    services.fees.record(encounter_id, [fee("L1", "XN02BEB001", "18.25", days=-9)], actor="his")
    settled = services.settlements.settle(SettleRequest(encounter_id, local(0, 0)), actor="b")
    assert [w.code for w in settled.warnings] == ["EL_ADMITTED_INSIDE_VALIDITY"]
    assert settled.settlement.breakdown.fund_pay == Decimal("18.25")


def test_eligibility_lost_during_the_stay_refuses_discharge_settlement(
    services: Services, sim: SimulatorServer, db: Engine
) -> None:
    seed_worker(sim, "P902", "CARD902", begndate=d(-100), enddate=d(200), filed_on=d(-101))
    encounter_id = admit_on_card(services, "P902", "CARD902", local(-10))
    # during the stay the insured place ends the filing, eligibility lost two days ago
    seed_worker(
        sim, "P902", "CARD902", begndate=d(-100), enddate=d(200), filed_on=d(-101),
        status="terminated", terminated_on=d(-2),
    )  # fmt: skip
    services.fees.record(encounter_id, [fee("L1", "XN02BEB001", "18.25", days=-9)], actor="his")
    with pytest.raises(EligibilityRefused) as refused:
        services.settlements.settle(SettleRequest(encounter_id, local(0, 0)), actor="b")
    assert [r.code for r in refused.value.reasons] == ["EL_NOT_TERMINATED"]
    assert [j["kind"] for j in jobs(db)] == ["WI2401"]


def test_a_stay_across_new_year_is_one_bill_dated_at_discharge(
    services: Services,
    sim: SimulatorServer,
    client: ReferenceClient,
    db: Engine,
    clock: MovableClock,
) -> None:
    year = TODAY.year - 1
    seed_worker(
        sim, "P903", "CARD903", begndate=f"{year}-06-01", enddate=f"{year + 1}-12-31",
        filed_on=f"{year}-05-30",
    )  # fmt: skip
    # Last year's catalogue version, so December's lines price against what was in force.
    old = {"kind": "drug", "code": "XN02BEB001", "name": "布洛芬缓释胶囊", "region": "110100",
           "unit": "盒", "version": f"{year}.1", "begndate": f"{year}-01-01"}  # fmt: skip
    assert httpx.post(f"{sim.url}/_sim/seed", json={"catalogue": [old]}).status_code == 200
    load_catalogue(db, client)

    # The stay happened then: the clock says it is the day after the discharge, since an
    # admission or discharge more than 30 days back is refused (late-registration window).
    clock.advance(at(date(year + 1, 1, 6), 11) - clock.now())
    encounter_id = admit_on_card(services, "P903", "CARD903", at(date(year, 12, 28), 9))
    december = fee("L1", "XN02BEB001", "36.50", quantity="2")
    january = fee("L2", "XN02BEB001", "18.25")
    lines = [
        replace(december, occurred_at=at(date(year, 12, 29), 10)),
        replace(january, occurred_at=at(date(year + 1, 1, 2), 10)),
    ]
    services.fees.record(encounter_id, lines, actor="his")
    discharged = at(date(year + 1, 1, 5), 10)
    settled = services.settlements.settle(SettleRequest(encounter_id, discharged), actor="b")
    settlement = settled.settlement
    assert settlement.bill.crosses_year and settlement.bill.discharged_on == discharged.date()
    # Settled the day after the discharge: the settlement's own day, month and slip number
    # follow its settlement time (N§35), the bill's date the discharge.
    day = settlement.settled_on(ZONE)
    assert day == settlement.settled_at.astimezone(ZONE).date() != discharged.date()
    assert settlement.month_in(ZONE) == f"{day:%Y-%m}"
    assert settlement.slip_no == f"{INSTITUTION}{day:%Y%m%d}" + "00001"
    assert settlement.breakdown.total == settlement.breakdown.fund_pay == Decimal("54.75")
    assert "跨自然年度" in settlement.bill.notes[0]
    assert len(jobs(db, kind="WI2301")) == 1


def test_a_stay_registered_after_eligibility_was_lost_is_refused_at_admission(
    services: Services, sim: SimulatorServer, db: Engine
) -> None:
    """Admitted three days ago, registered today, eligibility lost yesterday (N§11, N§15):
    the discharge (today or later) would be refused, so the registration is refused now and
    nothing goes upstream — not registered as direct settlement and refused at discharge."""
    seed_worker(
        sim, "P903", "CARD903", begndate=d(-100), enddate=d(200), filed_on=d(-101),
        status="terminated", terminated_on=d(-1),
    )  # fmt: skip
    with pytest.raises(EligibilityRefused) as refused:
        admit_on_card(services, "P903", "CARD903", local(-3))
    assert [r.code for r in refused.value.reasons] == ["EL_NOT_TERMINATED"]
    assert jobs(db) == []
