"""One worker, one bed (N§33, B§28): no rehab stay is admitted beside an open medical one at
this institution, nor the reverse — on every way in (admission, a case recorded by hand from
the start, a case switched to direct settlement). Before, the second stay was admitted, its
fees recorded, and it was refused only at settlement (STAY_OVERLAPS). A transfer (医疗转康复)
is a settlement, or a cancelled admission, first."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import Engine

from adapter.domain.encounters import EncounterKind, EncounterStatus
from adapter.domain.errors import InvalidTransition
from adapter.domain.fees import FeeCategory
from adapter.domain.people import CardData, CardKind
from adapter.services.admission import OpenStayExists
from adapter.services.container import Services
from adapter.services.manual_claim_records import ManualClaimReason
from adapter.services.settlement import SettleRequest
from adapter.services.stay_overlaps import StayOverlaps
from adapter.store.uow import UnitOfWork
from connectors.upstream.simulator import SimulatorServer
from tests.integration.services.helpers import INSTITUTION, TODAY, admit, fee, local
from tests.support.filed_stays import physical_card
from tests.support.workers import filed_worker

# Upstream goes down in the manual-claim tests: each refused read waits out a short budget.
pytestmark = pytest.mark.upstream_outage

BED = "110900001A"  # the fund pays up to 50.00 a day
MEDICAL, REHAB = EncounterKind.MEDICAL, EncounterKind.REHAB


def _worker(sim: SimulatorServer, psn_no: str) -> None:
    """``psn_no``, filed for treatment and for rehab in Beijing, card ``C`` + the number."""
    day = (TODAY - timedelta(days=100)).isoformat()
    rows = filed_worker(
        psn_no, f"C{psn_no}", _citizen_id(psn_no), name="测试工人", filing_no=f"F{psn_no}",
        begndate=day, enddate=(TODAY + timedelta(days=300)).isoformat(), filed_on=day,
    )  # fmt: skip
    rehab = {**rows["filings"][0], "filing_no": f"F{psn_no}R", "purpose": "rehab"}
    rows["filings"].append({**rehab, "category": "resident_work"})
    assert httpx.post(f"{sim.url}/_sim/seed", json=rows).status_code == 200


def _citizen_id(psn_no: str) -> str:
    return f"3101021980010{psn_no[-5:]}"


def _admit(
    services: Services, psn_no: str, visit: str, kind: EncounterKind, days: int, hour: int = 9
) -> str:
    command = replace(
        admit(psn_no, visit, kind=kind, parts=("左手",)),
        card=physical_card(f"C{psn_no}"),
        admitted_at=local(days, hour),
    )
    return services.admissions.admit(command, actor="c").encounter.id


def _outage(sim: SimulatorServer, on: bool) -> None:
    httpx.post(f"{sim.url}/_sim/faults", json={"outage": on})


def test_OPEN_STAY_EXISTS_no_rehab_stay_beside_an_open_medical_one_until_it_is_settled(
    services: Services, sim: SimulatorServer, db: Engine
) -> None:
    _worker(sim, "P09701")
    medical = _admit(services, "P09701", "V-M", MEDICAL, -5)
    with pytest.raises(OpenStayExists) as refused:
        _admit(services, "P09701", "V-R", REHAB, -3)
    stay = refused.value.open_stay
    assert stay.id == medical and stay.kind is MEDICAL and "B§28" in refused.value.article
    message = refused.value.message
    assert "未结束的住院工伤医疗" in message and "V-M" in message
    assert "医疗转康复请先办理本次住院的出院结算" in message
    assert refused.value.problem_extra["open_stay"]["kind"] == "medical"  # type: ignore[index]
    assert services.admissions.open_stay("P09701", REHAB) == stay  # the desk shows it
    with UnitOfWork(db) as uow:  # nothing recorded for the refused visit
        assert uow.encounters.find_by_visit(INSTITUTION, "V-R") is None
    bed = fee("B4", BED, "50.00", category=FeeCategory.SERVICE, days=-4)
    services.fees.record(medical, [bed], actor="his")
    services.settlements.settle(SettleRequest(medical, local(-2)), actor="b")
    assert _admit(services, "P09701", "V-R", REHAB, -2)  # at the discharge: after it


def test_OPEN_STAY_EXISTS_no_medical_stay_beside_an_open_rehab_one_until_it_is_cancelled(
    services: Services, sim: SimulatorServer
) -> None:
    _worker(sim, "P09702")
    rehab = _admit(services, "P09702", "V-R", REHAB, -5)
    with pytest.raises(OpenStayExists) as refused:
        _admit(services, "P09702", "V-M", MEDICAL, -1)
    assert refused.value.open_stay.id == rehab and refused.value.open_stay.kind is REHAB
    assert "未结束的住院工伤康复" in refused.value.message
    assert "康复转医疗" in refused.value.message
    services.stays.cancel(rehab, reason="误登记", actor="c")
    medical = _admit(services, "P09702", "V-M", MEDICAL, -1)
    assert services.encounter(medical).encounter.status is EncounterStatus.ADMITTED


def test_OPEN_STAY_EXISTS_a_case_recorded_by_hand_from_the_start_beside_an_open_stay(
    services: Services, sim: SimulatorServer
) -> None:
    """Upstream down, the desk records a rehab stay as a manual-claim case (N§38, B§27) for
    a worker it knows, in a medical stay here: refused as at a direct admission."""
    _worker(sim, "P09703")
    medical = _admit(services, "P09703", "V-M", MEDICAL, -5)
    _outage(sim, True)
    card = CardData(CardKind.PHYSICAL, card_no="CP09703", citizen_id=_citizen_id("P09703"))
    command = replace(admit("P09703", "V-R", kind=REHAB, parts=("左手",)), card=card)
    with pytest.raises(OpenStayExists) as refused:
        services.admissions.admit(command, actor="c", manual_claim_if_upstream_down=True)
    assert refused.value.open_stay.id == medical


def test_OPEN_STAY_EXISTS_a_case_not_switched_to_direct_beside_an_open_stay_of_the_other_kind(
    services: Services, sim: SimulatorServer
) -> None:
    """A rehab case recorded by hand for a worker not yet known (upstream down), then a
    medical stay admitted directly once upstream is back: the case may not become a second
    direct stay beside it."""
    _worker(sim, "P09704")
    _outage(sim, True)
    command = replace(
        admit("P09704", "V-R", kind=REHAB, parts=("左手",)), card=physical_card("CP09704")
    )
    case = services.admissions.admit(command, actor="c", manual_claim_if_upstream_down=True)
    _outage(sim, False)
    _admit(services, "P09704", "V-M", MEDICAL, -1)
    with pytest.raises(InvalidTransition) as refused:
        services.manual_claims.switch_to_direct(
            case.manual_claim_id, physical_card("CP09704"), actor="c"
        )
    assert refused.value.code == "OPEN_STAY_EXISTS" and "V-M" in refused.value.message


def test_STAY_OVERLAPS_of_two_stays_of_both_kinds_opened_at_once_the_second_is_not_settled(
    services: Services, sim: SimulatorServer, db: Engine
) -> None:
    """Two admissions of different kinds at once may both pass the open-stay check on
    PostgreSQL (the store's index is per kind): here the medical one is stored past the check,
    as the race would; once the rehab one is claimed by hand, the medical one does not settle
    over its days."""
    _worker(sim, "P09705")
    rehab = _admit(services, "P09705", "V-R", REHAB, -5)
    raced = replace(
        services.encounter(rehab).encounter,
        id="E-RACED",
        kind=MEDICAL,
        filing_no="FP09705",
        his_visit_id="V-M",
        admitted_at=local(-5, 10),
    )
    with UnitOfWork(db) as uow:
        uow.encounters.add(raced)
        uow.commit()
    services.manual_claims.create(rehab, ManualClaimReason.CARD_FAILURE, "读卡失败", actor="b")
    with pytest.raises(StayOverlaps) as refused:
        services.settlements.settle(SettleRequest("E-RACED", local(-1)), actor="b")
    assert "V-R" in refused.value.message and "住院工伤康复" in refused.value.message


def test_a_settlement_revoked_while_the_worker_is_readmitted_reopens_it_beside_the_new_stay(
    services: Services, sim: SimulatorServer
) -> None:
    """A medical stay settled, the worker readmitted to medical care here, then the first
    settlement revoked (a correction the agency asked for): the revocation is done, not a
    500 from the store's one-open-stay index; the first stay settles again over its own days,
    the new one stays admitted, and no third stay is admitted beside them."""
    _worker(sim, "P09706")
    first = _admit(services, "P09706", "V-M1", MEDICAL, -10)
    bed = fee("B1", BED, "50.00", category=FeeCategory.SERVICE, days=-9)
    services.fees.record(first, [bed], actor="his")
    settled = services.settlements.settle(SettleRequest(first, local(-6)), actor="b").settlement
    second = _admit(services, "P09706", "V-M2", MEDICAL, -5)
    revoked, _ = services.revocations.revoke(settled.id, reason="审核更正", actor="b")
    assert services.encounter(first).encounter.status is EncounterStatus.REVOKED
    assert services.encounter(second).encounter.status is EncounterStatus.ADMITTED
    with pytest.raises(OpenStayExists):
        _admit(services, "P09706", "V-M3", MEDICAL, -1)
    again = services.settlements.settle(SettleRequest(first, local(-6)), actor="b").settlement
    assert again.id != revoked.id and again.encounter.status is EncounterStatus.SETTLED
    assert again.breakdown.fund_pay == settled.breakdown.fund_pay == Decimal("50.00")
    assert again.breakdown.fund_pay + again.breakdown.personal_pay == again.breakdown.total
    assert services.encounter(second).encounter.status is EncounterStatus.ADMITTED
