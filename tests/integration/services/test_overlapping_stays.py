"""One worker, one stay at a time (N§33, N§38, B§27): a stay whose days overlap one already
settled here — registered again under a new visit number, or back-dated — was admitted and
settled, and the fund paid the same bed days twice."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import Engine

from adapter.domain.devices import DeviceItem
from adapter.domain.encounters import EncounterKind
from adapter.domain.fees import FeeCategory, FeeLine
from adapter.services.admission import OpenStayExists
from adapter.services.container import Services
from adapter.services.devices import FitDevices
from adapter.services.manual_claim_records import ManualClaimReason
from adapter.services.settlement import SettleRequest
from adapter.services.stay_overlaps import StayOverlaps
from connectors.upstream.simulator import SimulatorServer
from connectors.upstream.simulator.demo_seed import demo_seed
from tests.integration.services.device_world import NAMES, NOTICE, ORTHOSIS
from tests.integration.services.helpers import TODAY, admit, card, fee, local
from tests.integration.services.support import jobs
from tests.support.filed_stays import admit_on_card, physical_card
from tests.support.workers import filed_worker

D = Decimal
BED = "110900001A"  # the fund pays up to 50.00 a day
CARD = "310100Q0961"


def _stay(services: Services, visit: str, admitted: datetime) -> str:
    command = replace(admit("P001", visit), admitted_at=admitted)
    return services.admissions.admit(command, actor="c").encounter.id


def _bed_day(line_id: str, days: int) -> FeeLine:
    return fee(line_id, BED, "50.00", category=FeeCategory.SERVICE, days=days)


def _settled_stay(services: Services) -> str:
    """P001 in hospital from 10 days ago to 5 days ago, four bed days paid by the fund."""
    first = _stay(services, "V-1", local(-10))
    days = [_bed_day(f"A{n}", -n) for n in range(9, 5, -1)]
    services.fees.record(first, days, actor="his")
    settled = services.settlements.settle(SettleRequest(first, local(-5, 12)), actor="b")
    assert settled.settlement.breakdown.fund_pay == D("200.00")
    return first


def test_STAY_OVERLAPS_an_admission_inside_a_settled_stay_is_refused_naming_it(
    services: Services, db: Engine
) -> None:
    first = _settled_stay(services)
    with pytest.raises(StayOverlaps) as refused:
        _stay(services, "V-2", local(-7))
    assert first in refused.value.message and "V-1" in refused.value.message
    assert (refused.value.field, refused.value.article) == ("admitted_at", "N§33, N§38, B§27")
    assert [j["kind"] for j in jobs(db)] == ["WI2401", "WI2301"]  # no second registration
    # readmitted at the very time of the discharge: no day is paid twice
    again = _stay(services, "V-3", local(-5, 12))
    services.fees.record(again, [_bed_day("C1", -4)], actor="his")
    settled = services.settlements.settle(SettleRequest(again, local(-3)), actor="b")
    assert settled.settlement.breakdown.fund_pay == D("50.00")


def test_STAY_OVERLAPS_a_stay_back_dated_before_a_settled_one_cannot_settle_across_it(
    services: Services, db: Engine
) -> None:
    first = _settled_stay(services)
    # admitted (back-dated) before the settled stay began, its days running into it
    second = _stay(services, "V-2", local(-12))
    days = [_bed_day("B11", -11), _bed_day("B8", -8)]
    services.fees.record(second, days, actor="his")
    with pytest.raises(StayOverlaps) as refused:
        services.settlements.settle(SettleRequest(second, local(-4)), actor="b")
    assert first in refused.value.message and refused.value.field == "discharged_at"
    assert [j["kind"] for j in jobs(db)] == ["WI2401", "WI2301", "WI2401"]


def _medical_and_rehab_worker(sim: SimulatorServer) -> None:
    """P0961, filed both for treatment and for rehab in Beijing (one stay at a time, of
    either kind: N§33, B§28)."""
    day = (TODAY - timedelta(days=100)).isoformat()
    rows = filed_worker(
        "P0961", CARD, "310102198001010961", name="测试工人", filing_no="F0961",
        begndate=day, enddate=(TODAY + timedelta(days=300)).isoformat(), filed_on=day,
    )  # fmt: skip
    rehab = {**rows["filings"][0], "filing_no": "F0961R", "purpose": "rehab"}
    rows["filings"].append({**rehab, "category": "resident_work"})
    assert httpx.post(f"{sim.url}/_sim/seed", json=rows).status_code == 200


def test_STAY_OVERLAPS_a_stay_claimed_by_hand_before_its_discharge_holds_its_days(
    services: Services, db: Engine
) -> None:
    """P001's stay turned into a manual claim (the card failed) before the HIS noted a
    discharge: the insured place reimburses its days by hand. The same days registered again
    under a new visit number were admitted and settled directly: paid twice."""
    first = _stay(services, "V-1", local(-10))
    services.fees.record(first, [_bed_day(f"A{n}", -n) for n in range(9, 5, -1)], actor="his")
    services.manual_claims.create(first, ManualClaimReason.CARD_FAILURE, "读卡失败", actor="b")
    with pytest.raises(StayOverlaps) as refused:
        _stay(services, "V-2", local(-7))
    assert first in refused.value.message and "转手工报销，状态" in refused.value.message
    # a stay wholly before it holds other days
    earlier = _stay(services, "V-0", local(-20))
    services.fees.record(earlier, [_bed_day("E19", -19)], actor="his")
    settled = services.settlements.settle(SettleRequest(earlier, local(-15)), actor="b")
    assert settled.settlement.breakdown.fund_pay == D("50.00")
    # readmitted in the minute of the claim, as a desk types the time: after it
    again = _stay(services, "V-3", datetime.now(UTC).replace(second=0, microsecond=0))
    assert again != first


def test_STAY_OVERLAPS_a_revoked_settlement_no_longer_counts(
    services: Services, sim: SimulatorServer
) -> None:
    """A settlement revoked (N§35: the fund takes its payment back) no longer holds its days:
    the revoked stay is settled again over its own days. While it stood, a rehab stay admitted
    inside them was refused as overlapping; once revoked, the stay is open again, and a rehab
    stay beside it is refused as such (one bed at a time, N§33, B§28) until it is settled."""
    _medical_and_rehab_worker(sim)
    medical = admit_on_card(services, "P0961", CARD, local(-10))
    services.fees.record(medical, [_bed_day(f"A{n}", -n) for n in range(9, 5, -1)], actor="h")
    first = services.settlements.settle(SettleRequest(medical, local(-5, 12)), actor="b")
    rehab = replace(admit("P0961", "V-R", kind=EncounterKind.REHAB, parts=("左手",)),
                    card=physical_card(CARD), admitted_at=local(-7))  # fmt: skip
    with pytest.raises(StayOverlaps) as refused:
        services.admissions.admit(rehab, actor="c")
    assert medical in refused.value.message and "住院工伤医疗" in refused.value.message
    services.revocations.revoke(first.settlement.id, reason="出院诊断录入有误", actor="b")
    with pytest.raises(OpenStayExists) as still_open:
        services.admissions.admit(rehab, actor="c")
    assert still_open.value.open_stay.id == medical and "医疗转康复" in still_open.value.message
    again = services.settlements.settle(SettleRequest(medical, local(-5, 12)), actor="b")
    assert again.settlement.breakdown.fund_pay == D("200.00")
    transferred = replace(rehab, admitted_at=local(-5, 12))  # at the discharge: after it
    assert services.admissions.admit(transferred, actor="c").encounter.psn_no == "P0961"


def test_STAY_OVERLAPS_a_device_fitting_during_a_stay_is_no_stay(
    services: Services, sim: SimulatorServer
) -> None:
    """P011, fitted with a wrist orthosis (N§34) while in hospital on a medical filing too: the
    fitting is settled at the device counter, not a stay, and the stay settles across it."""
    filing = next(f for f in demo_seed(TODAY)["filings"] if f["psn_no"] == "P011")
    medical = {**filing, "filing_no": "F011M", "purpose": "medical", "injury_parts": ["左手"]}
    assert httpx.post(f"{sim.url}/_sim/seed", json={"filings": [medical]}).status_code == 200
    command = replace(admit("P011", "V-11", parts=("左手",)), admitted_at=local(-5))
    stay = services.admissions.admit(command, actor="c").encounter.id
    services.fees.record(stay, [_bed_day("B4", -4)], actor="his")
    orthosis = DeviceItem(ORTHOSIS, NAMES[ORTHOSIS], D("1500.00"))
    fitting = FitDevices(card("P011"), NOTICE, (orthosis,), local(-3))
    fitted = services.devices.fit(fitting, actor="dev01")
    assert fitted.settlement.encounter.kind is EncounterKind.DEVICE
    settled = services.settlements.settle(SettleRequest(stay, local(-1)), actor="b")
    assert settled.settlement.breakdown.fund_pay == D("50.00")
