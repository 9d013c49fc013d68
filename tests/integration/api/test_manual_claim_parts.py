"""``POST /api/v1/manual-claims/{id}/switch-to-direct`` names the injured parts the stay treats
when the case was admitted with none (N§16, N§33, 附表1; N§38, B§27), on SQLite and
PostgreSQL with the simulator over real HTTP."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine

from connectors.upstream.simulator import SimulatorServer
from tests.integration.api.conftest import Api
from tests.integration.services.helpers import local
from tests.integration.services.support import jobs
from tests.support.live import simulator_faults

pytestmark = pytest.mark.upstream_outage

CARD = {"kind": "physical", "card_no": "310100A0001"}  # 王建国, filed 左手、右前臂


def test_EL_INJURY_PARTS_NAMED_rest_a_case_switched_to_direct_names_its_parts(
    api: Api, sim: SimulatorServer, db: Engine
) -> None:
    """Before, the body took only the card, and a case admitted with no part was registered
    for direct settlement without one (200)."""
    simulator_faults(sim.url, outage=True)
    body = {
        "card": CARD,
        "his_visit_id": "ZY-MC1",
        "kind": "medical",
        "admitted_at": (local(0, 9) - timedelta(days=2)).isoformat(),
        "manual_claim_if_upstream_down": True,
    }
    made = api.post("/api/v1/encounters", role="admission", json=body)
    assert made.status_code == 201, made.text
    switch = f"/api/v1/manual-claims/{made.json()['manual_claim_id']}/switch-to-direct"
    simulator_faults(sim.url, outage=False)
    refused = api.post(switch, role="admission", json={"card": CARD})
    assert refused.status_code == 422, refused.text
    [error] = refused.json()["errors"]
    assert (error["code"], error["field"]) == ("EL_INJURY_PARTS_NAMED", "injury_parts")
    assert "左手、右前臂" in error["message"] and "N§16" in error["article"]
    assert jobs(db) == []
    switched = api.post(
        switch, role="admission", json={"card": CARD, "injury_parts": ["右前臂", " "]}
    )
    assert switched.status_code == 200, switched.text
    assert switched.json()["injury_parts"] == ["右前臂"]
    assert [j["kind"] for j in jobs(db)] == ["WI2401"]
