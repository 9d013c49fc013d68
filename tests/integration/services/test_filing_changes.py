"""A filing changed after the stay's admission (N§13, N§15) when the stay reaches upstream
only later: registered late, or a manual-claim case switched to direct settlement. The
filing in force on the admission day decides; its successor governs later stays."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest
from sqlalchemy import Engine

from adapter.domain.commands import Admit
from adapter.domain.encounters import EncounterStatus
from adapter.services.container import Services
from adapter.services.settlement import SettleRequest
from connectors.upstream.simulator import SimulatorServer
from tests.integration.services.helpers import admit, fee, local
from tests.integration.services.support import jobs
from tests.integration.services.test_device_claims import outage
from tests.integration.services.test_discharge_rules import _card, d

pytestmark = pytest.mark.upstream_outage


def _seed_changed(sim: SimulatorServer) -> None:
    """F950A (valid day -100..+200, filed day -101) changed on day -3 to F950B (filed then)."""
    person = {
        "psn_no": "P950",
        "certno": "310102198001010950",
        "psn_name": "测试工人",
        "gend": "1",
        "brdy": "1980-01-01",
        "insuplc_admdvs": "310100",
        "card_no": "CARD950",
        "card_status": "normal",
    }
    base = {
        "psn_no": "P950",
        "category": "long_term_residence",
        "purpose": "medical",
        "mdtrtarea_admvs": "110100",
        "injury_parts": ["左手"],
        "insuplc_admdvs": "310100",
    }
    filings = [
        {**base, "filing_no": "F950A", "begndate": d(-100), "enddate": d(200),
         "filed_on": d(-101), "status": "changed", "successor_no": "F950B",
         "terminated_on": d(-3)},
        {**base, "filing_no": "F950B", "begndate": d(-3), "enddate": d(200), "filed_on": d(-3),
         "status": "active", "filing_type": "change"},
    ]  # fmt: skip
    body = {"people": [person], "filings": filings}
    assert httpx.post(f"{sim.url}/_sim/seed", json=body).status_code == 200


def _admit_command(visit: str, days: int) -> Admit:
    return replace(admit("P950", visit), card=_card("CARD950"), admitted_at=local(days))


def test_n13_n15_a_stay_admitted_before_its_filing_changed_registers_late_and_settles_on_it(
    services: Services, sim: SimulatorServer, db: Engine
) -> None:
    _seed_changed(sim)
    admitted = services.admissions.admit(_admit_command("V-950", -10), actor="c")
    assert admitted.encounter.filing_no == "F950A"
    note = next(w for w in admitted.warnings if w.code == "EL_CHANGED_DURING_STAY")
    assert f"于{d(-3)}变更" in note.message and "F950B" in note.message
    assert "EL_FILED_BEFORE_ADMISSION" not in {w.code for w in admitted.warnings}
    services.fees.record(
        admitted.encounter.id, [fee("L1", "XN02BEB001", "18.25", days=-9)], actor="his"
    )
    settled = services.settlements.settle(
        SettleRequest(admitted.encounter.id, local(0, 0)), actor="b"
    )
    assert settled.settlement.encounter.filing_no == "F950A"
    assert "EL_CHANGED_DURING_STAY" in {w.code for w in settled.warnings}
    assert [j["kind"] for j in jobs(db)] == ["WI2401", "WI2301"]


def test_n15_a_stay_admitted_after_the_change_registers_on_the_successor(
    services: Services, sim: SimulatorServer
) -> None:
    _seed_changed(sim)
    admitted = services.admissions.admit(_admit_command("V-952", -2), actor="c")
    assert admitted.encounter.filing_no == "F950B"
    assert "EL_CHANGED_DURING_STAY" not in {w.code for w in admitted.warnings}


def test_n13_n15_a_manual_claim_case_admitted_before_the_change_switches_to_direct(
    services: Services, sim: SimulatorServer, db: Engine
) -> None:
    _seed_changed(sim)
    outage(sim, True)
    case = services.admissions.admit(
        _admit_command("V-951", -5), actor="c", manual_claim_if_upstream_down=True
    )
    outage(sim, False)
    assert case.manual_claim_id
    direct = services.manual_claims.switch_to_direct(
        case.manual_claim_id, _card("CARD950"), actor="c"
    )
    assert direct.filing_no == "F950A"
    assert direct.status is EncounterStatus.ADMITTED
    assert [j["kind"] for j in jobs(db)] == ["WI2401"]
