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
from tests.integration.services.test_discharge_rules import d
from tests.support.filed_stays import physical_card

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
    return replace(admit("P950", visit), card=physical_card("CARD950"), admitted_at=local(days))


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
        case.manual_claim_id, physical_card("CARD950"), actor="c"
    )
    assert direct.filing_no == "F950A"
    assert direct.status is EncounterStatus.ADMITTED
    assert [j["kind"] for j in jobs(db)] == ["WI2401"]


# -- upstream answers at discharge without the filing the stay was admitted on ---------------


def _seed_listed_now(sim: SimulatorServer, *filings: dict) -> None:
    """The worker's filings as upstream lists them now: P950's own, the others moved away (a
    filing query answering with the filing in force only — the successor, or a renewal)."""
    rows = [{**f, "psn_no": f.get("psn_no", "P950")} for f in filings]
    assert httpx.post(f"{sim.url}/_sim/seed", json={"filings": rows}).status_code == 200


def _no_longer_listed(filing_no: str) -> dict:
    return {"filing_no": filing_no, "psn_no": "P-ELSEWHERE", "category": "long_term_residence",
            "purpose": "medical", "mdtrtarea_admvs": "110100", "status": "active",
            "begndate": d(-100), "enddate": d(200), "filed_on": d(-101)}  # fmt: skip


def _seed_valid(sim: SimulatorServer) -> None:
    """F950A alone, in force since day -100: the stay is admitted on it."""
    _seed_changed(sim)
    _seed_listed_now(
        sim,
        _no_longer_listed("F950B"),
        {"filing_no": "F950A", "category": "long_term_residence", "purpose": "medical",
         "mdtrtarea_admvs": "110100", "status": "active", "injury_parts": ["左手"],
         "insuplc_admdvs": "310100", "begndate": d(-100), "enddate": d(200),
         "filed_on": d(-101)},
    )  # fmt: skip


@pytest.mark.parametrize(
    "listed_now",
    [
        pytest.param(
            {"filing_no": "F950B", "filing_type": "change", "begndate": d(-3),
             "enddate": d(200), "filed_on": d(-3)},
            id="changed-successor-only",
        ),
        pytest.param(
            {"filing_no": "F950C", "begndate": d(-1), "enddate": d(360), "filed_on": d(-2)},
            id="renewed-filing-only",
        ),
    ],
)  # fmt: skip
def test_EL_ADMITTED_FILING_KEPT_N13_settles_on_its_filing_when_upstream_lists_only_the_new(
    services: Services, sim: SimulatorServer, db: Engine, listed_now: dict
) -> None:
    """Admitted on F950A; by discharge upstream's filing query answers with the filing in force
    now only (F950A changed, or expired and renewed). The stay was admitted inside F950A's
    validity and settles on it (N§13); the new filing, made during the stay, governs later
    stays only (N§15) and would fail "filed before admission" (N§16)."""
    _seed_valid(sim)
    admitted = services.admissions.admit(_admit_command("V-953", -10), actor="c")
    assert admitted.encounter.filing_no == "F950A"
    services.fees.record(
        admitted.encounter.id, [fee("L1", "XN02BEB001", "18.25", days=-9)], actor="his"
    )
    base = {"category": "long_term_residence", "purpose": "medical",
            "mdtrtarea_admvs": "110100", "status": "active", "injury_parts": ["左手"],
            "insuplc_admdvs": "310100"}  # fmt: skip
    _seed_listed_now(sim, _no_longer_listed("F950A"), {**base, **listed_now})
    settled = services.settlements.settle(
        SettleRequest(admitted.encounter.id, local(0, 0)), actor="b"
    )
    assert settled.settlement.encounter.filing_no == "F950A"
    note = next(w for w in settled.warnings if w.code == "EL_ADMITTED_FILING_KEPT")
    assert "F950A" in note.message and "N§13" in note.article
    assert [j["kind"] for j in jobs(db)] == ["WI2401", "WI2301"]
