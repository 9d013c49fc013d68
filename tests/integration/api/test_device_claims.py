"""The device counter over REST while upstream is down (N§38, B§27): 503 naming the two ways
on, or with ``manual_claim_if_upstream_down`` a manual-claim case (202) whose fee list is
handed over (final) or which switches to direct settlement with the card (N§34, B§34) —
against the simulator over real HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, select

from adapter.store.tables.workflow import manual_claim
from connectors.upstream.simulator import SimulatorServer
from tests.integration.api.conftest import Api
from tests.integration.services.device_world import ARM, NAMES, NOTICE, ORTHOSIS
from tests.integration.services.helpers import local
from tests.integration.services.support import jobs
from tests.support.devices import P011_CARD, fitting
from tests.support.live import simulator_faults

# Upstream goes down here: each refused read waits out the client's short budget.
pytestmark = pytest.mark.upstream_outage

FITTINGS = "/api/v1/device-fittings"
CARD = {"kind": "physical", "card_no": P011_CARD}


def test_n38_b27_rest_an_outage_at_the_device_counter_is_503_naming_the_two_ways(
    api: Api, sim: SimulatorServer, db: Engine
) -> None:
    simulator_faults(sim.url, outage=True)
    down = api.post(FITTINGS, role="device", json=fitting((ARM, "30000.00")))
    assert down.status_code == 503, down.text
    problem = down.json()
    error = problem["errors"][0]
    assert error["code"] == "UPSTREAM_DOWN_AT_DEVICE_COUNTER"
    assert "N§38" in error["article"] and "B§27" in error["article"]
    assert "手工报销" in problem["detail"]
    assert [w["way"] for w in problem["ways_on"]] == ["retry", "manual_claim"]
    assert problem["ways_on"][1]["request"] == {"manual_claim_if_upstream_down": True}
    assert jobs(db) == []


def test_n38_b27_n34_rest_a_fitting_case_is_recorded_then_handed_over_for_good(
    api: Api, sim: SimulatorServer, db: Engine
) -> None:
    simulator_faults(sim.url, outage=True)
    body = fitting((ARM, "30000.00"), (ORTHOSIS, "1800.00"), manual_claim_if_upstream_down=True)
    recorded = api.post(FITTINGS, role="device", json=body)
    assert recorded.status_code == 202, recorded.text
    case = recorded.json()
    assert case["from_start"] is True and case["handed_over_at"] is None
    assert case["fee_list"]["medfee_sumamt"] == "31800.00"
    assert "手工报销" in case["fee_list"]["title"]
    again = api.post(FITTINGS, role="device", json=body)
    assert again.status_code == 202 and again.json()["id"] == case["id"]
    handed = api.post(f"{FITTINGS}/manual-claims/{case['id']}/hand-over", role="device")
    assert handed.status_code == 200, handed.text
    assert handed.json()["handed_over_at"] is not None
    simulator_faults(sim.url, outage=False)
    switch = api.post(
        f"{FITTINGS}/manual-claims/{case['id']}/switch-to-direct",
        role="device",
        json={"card": CARD},
    )
    assert switch.status_code == 409, switch.text
    assert switch.json()["errors"][0]["code"] == "MANUAL_CLAIM_HANDED_OVER"
    assert jobs(db) == []


def test_n38_b27_n34_rest_a_fitting_case_switches_to_direct_settlement_before_hand_over(
    api: Api, sim: SimulatorServer, db: Engine
) -> None:
    simulator_faults(sim.url, outage=True)
    body = fitting((ARM, "30000.00"), manual_claim_if_upstream_down=True)
    case = api.post(FITTINGS, role="device", json=body).json()
    simulator_faults(sim.url, outage=False)
    beside = api.post(FITTINGS, role="device", json=fitting((ARM, "30000.00")))
    assert beside.status_code == 409, beside.text
    assert beside.json()["errors"][0]["code"] == "DEVICE_MANUAL_CLAIM_CASE"
    switched = api.post(
        f"{FITTINGS}/manual-claims/{case['id']}/switch-to-direct",
        role="device",
        json={"card": CARD},
    )
    assert switched.status_code == 200, switched.text
    fitted = switched.json()
    assert fitted["encounter_id"] == case["encounter_id"]
    assert (fitted["fund_pay"], fitted["personal_pay"]) == ("28000.00", "2000.00")
    assert [j["kind"] for j in jobs(db)] == ["WI2701"]
    gone = api.get(f"{FITTINGS}/manual-claims/{case['id']}", role="device")
    assert gone.status_code == 404


def test_n38_rest_upstream_up_the_manual_claim_flag_fits_and_settles_as_usual(
    api: Api, db: Engine
) -> None:
    body = fitting((ORTHOSIS, "1800.00"), manual_claim_if_upstream_down=True)
    fitted = api.post(FITTINGS, role="device", json=body)
    assert fitted.status_code == 201, fitted.text
    assert fitted.json()["fund_pay"] == "1800.00"
    assert [j["kind"] for j in jobs(db)] == ["WI2701"]


def _fee_line(line_id: str) -> dict[str, Any]:
    return {
        "his_line_id": line_id, "item_code": "XN02BEB001", "item_name": "布洛芬缓释胶囊",
        "category": "drug", "quantity": "1", "unit_price": "18.25", "amount": "18.25",
        "occurred_at": local(0, 10).isoformat(),
    }  # fmt: skip


def test_n38_b27_rest_fee_lines_for_an_open_fitting_case_are_refused_naming_its_fee_list(
    api: Api, sim: SimulatorServer, db: Engine
) -> None:
    simulator_faults(sim.url, outage=True)
    body = fitting((ARM, "30000.00"), manual_claim_if_upstream_down=True)
    case = api.post(FITTINGS, role="device", json=body).json()
    fees = api.post(
        f"/api/v1/encounters/{case['encounter_id']}/fees",
        role="his",
        json={"lines": [_fee_line("DV1")]},
    )
    assert fees.status_code == 422, fees.text
    assert fees.headers["content-type"].startswith("application/problem+json")
    problem = fees.json()
    error = problem["errors"][0]
    assert error["code"] == "DEVICE_CASE_TAKES_NO_FEE_LINES"
    assert "N§38" in error["article"] and "B§27" in error["article"]
    assert case["id"] in problem["detail"] and "不接收费用明细" in problem["detail"]
    # nothing was kept: the hand-over lists the items as entered, to the fen
    handed = api.post(f"{FITTINGS}/manual-claims/{case['id']}/hand-over", role="device")
    assert handed.status_code == 200, handed.text
    listing = handed.json()["fee_list"]
    assert listing["medfee_sumamt"] == "30000.00"
    assert "DV1" not in str(listing)
    view = api.get(f"/api/v1/encounters/{case['encounter_id']}", role="device")
    assert view.status_code == 200, view.text
    assert "DV1" not in view.text
    assert jobs(db) == []


def test_n34_b34_rest_fee_lines_for_a_revoked_fitting_are_refused(
    api: Api, sim: SimulatorServer
) -> None:
    fitted = api.post(FITTINGS, role="device", json=fitting((ORTHOSIS, "1800.00")))
    assert fitted.status_code == 201, fitted.text
    settlement = fitted.json()
    revoked = api.post(
        f"/api/v1/settlements/{settlement['id']}/revoke",
        role="billing",
        json={"reason": "配置项目录入有误"},
    )
    assert revoked.status_code < 300, revoked.text
    fees = api.post(
        f"/api/v1/encounters/{settlement['encounter_id']}/fees",
        role="his",
        json={"lines": [_fee_line("DV2")]},
    )
    assert fees.status_code == 422, fees.text
    error = fees.json()["errors"][0]
    assert error["code"] == "DEVICE_TAKES_NO_FEE_LINES"
    assert error["article"].startswith("N§34")


def test_n38_b27_rest_a_fitting_settled_directly_is_not_recorded_again_as_a_case(
    api: Api, sim: SimulatorServer, db: Engine
) -> None:
    fitted = api.post(FITTINGS, role="device", json=fitting((ORTHOSIS, "1500.00")))
    assert fitted.status_code == 201, fitted.text
    simulator_faults(sim.url, outage=True)
    body = fitting((ORTHOSIS, "1500.00"), hour=10, manual_claim_if_upstream_down=True)
    twice = api.post(FITTINGS, role="device", json=body)
    assert twice.status_code == 409, twice.text
    assert twice.headers["content-type"].startswith("application/problem+json")
    [error] = twice.json()["errors"]
    assert (error["code"], error["field"], error["article"]) == (
        "DEVICE_SETTLED_DIRECTLY",
        "items",
        "N§38, B§27",
    )
    assert NOTICE in error["message"] and NAMES[ORTHOSIS] in error["message"]
    assert fitted.json()["slip_no"] in error["message"]
    assert [j["kind"] for j in jobs(db)] == ["WI2701"]  # the direct fitting's upload only


def test_PR_DEVICE_NOTICE_USED_n38_rest_a_second_case_of_the_items_is_confirmed_then_the_workers(
    api: Api, sim: SimulatorServer, db: Engine
) -> None:
    """Upstream down twice the same day: the orthosis under the same notice recorded again two
    hours later is a second fee list for the insured place (N§38 杜绝重复报销) — 409 naming
    the first case; confirmed, it is recorded with nothing claimed."""
    simulator_faults(sim.url, outage=True)
    first = api.post(
        FITTINGS,
        role="device",
        json=fitting((ORTHOSIS, "1500.00"), hour=9, manual_claim_if_upstream_down=True),
    )
    assert first.status_code == 202, first.text
    again = fitting((ORTHOSIS, "1500.00"), hour=11, manual_claim_if_upstream_down=True)
    refused = api.post(FITTINGS, role="device", json=again)
    assert refused.status_code == 409, refused.text
    [error] = refused.json()["errors"]
    assert (error["code"], error["field"]) == ("PR_DEVICE_NOTICE_USED", ORTHOSIS)
    assert first.json()["id"] in error["message"] and NOTICE in error["message"]
    confirmed = api.post(FITTINGS, role="device", json={**again, "replacement_confirmed": True})
    assert confirmed.status_code == 202, confirmed.text
    listing = confirmed.json()["fee_list"]
    assert (listing["medfee_sumamt"], listing["claimed_sumamt"], listing["personal_sumamt"]) == (
        "1500.00",
        "0.00",
        "1500.00",
    )
    assert jobs(db) == []


def test_DEVICE_CODE_CASE_n38_rest_a_case_of_a_code_in_another_case_is_refused(
    api: Api, sim: SimulatorServer, db: Engine
) -> None:
    """The orthosis settled directly, then upstream down and the same orthosis recorded as a
    case typed ``sh-fz-0305``: before, the case was recorded and its fee list claimed the
    1,500.00 the fund already paid (the check of items settled directly compares codes).
    Refused against the notice and catalogue the adapter last saw; nothing recorded."""
    fitted = api.post(FITTINGS, role="device", json=fitting((ORTHOSIS, "1500.00")))
    assert fitted.status_code == 201, fitted.text
    simulator_faults(sim.url, outage=True)
    body = fitting((ORTHOSIS.lower(), "1500.00"), hour=10, manual_claim_if_upstream_down=True)
    refused = api.post(FITTINGS, role="device", json=body)
    assert refused.status_code == 422, refused.text
    [error] = refused.json()["errors"]
    assert (error["code"], error["field"], error["article"]) == (
        "DEVICE_CODE_CASE",
        "items.0.device_code",
        "N§32, N§34, B§35",
    )
    assert f"请按目录编码“{ORTHOSIS}”录入" in error["message"]
    assert [j["kind"] for j in jobs(db)] == ["WI2701"]  # the direct fitting's upload only
    with db.connect() as connection:
        assert connection.execute(select(manual_claim.c.id)).all() == []
