"""One worker, one stay at a time (N§33, N§38, B§27), over REST: a HIS registering a settled
stay again under a new visit number, or a stay back-dated across a settled one, gets a 409
problem naming the field and the settled stay — not a second payment of the same days."""

from __future__ import annotations

from sqlalchemy import Engine

from tests.integration.api.bodies import admit_over_api, iso_at, line_body, settle_over_api
from tests.integration.api.conftest import Api
from tests.integration.services.support import jobs


def _settled(api: Api) -> str:
    """王建国 (P001) admitted five days ago as ZY1, one fee line, settled at midnight today."""
    admitted = admit_over_api(api, visit="ZY1")
    assert admitted.status_code == 201, admitted.text
    eid = str(admitted.json()["id"])
    fees = {"lines": [line_body("L1", "XN02BEB001", "36.50")]}
    assert api.post(f"/api/v1/encounters/{eid}/fees", role="his", json=fees).status_code == 200
    settled = settle_over_api(api, eid)
    assert settled.status_code == 201, settled.text
    return eid


def _refusal(reply_status: int, problem: dict, field: str, settled: str) -> None:
    assert reply_status == 409, problem
    [error] = problem["errors"]
    assert (error["code"], error["field"]) == ("STAY_OVERLAPS", field)
    assert error["article"] == "N§33, N§38, B§27"
    assert problem["title"] == "与已结算或已转手工报销的住院时间重叠"
    assert settled in error["message"] and "HIS住院号ZY1" in error["message"]
    assert "已结算" in error["message"] and "请核对入院、出院时间" in error["message"]


def test_STAY_OVERLAPS_a_settled_stay_registered_again_is_409_naming_it(
    api: Api, db: Engine
) -> None:
    settled = _settled(api)
    again = admit_over_api(api, visit="ZY1-NEW", admitted_at=iso_at(-3))
    assert again.headers["content-type"].startswith("application/problem+json")
    _refusal(again.status_code, again.json(), "admitted_at", settled)
    assert [j["kind"] for j in jobs(db)] == ["WI2401", "WI2301"]  # registered once
    # readmitted once the settled stay ended (midnight today): admitted
    assert admit_over_api(api, visit="ZY2", admitted_at=iso_at(0, 0)).status_code == 201


def test_STAY_OVERLAPS_a_stay_settled_across_a_settled_one_is_409_naming_it(
    api: Api, db: Engine
) -> None:
    settled = _settled(api)
    # back-dated to before the settled stay began: admitted, but its days run across it
    early = admit_over_api(api, visit="ZY0", admitted_at=iso_at(-7))
    assert early.status_code == 201, early.text
    eid = str(early.json()["id"])
    fees = {"lines": [line_body("L1", "XN02BEB001", "36.50", occurred_at=iso_at(-6, 10))]}
    assert api.post(f"/api/v1/encounters/{eid}/fees", role="his", json=fees).status_code == 200
    preview = api.post(
        f"/api/v1/encounters/{eid}/presettle", json={"discharged_at": iso_at(0, 8)}
    ).json()
    [blocking] = preview["blocking"]  # the billing desk sees it before pressing settle
    assert not preview["can_settle"]
    refused = settle_over_api(api, eid, discharged_at=iso_at(0, 8))
    _refusal(refused.status_code, refused.json(), "discharged_at", settled)
    assert refused.json()["errors"] == [blocking]  # word for word
    assert api.get(f"/api/v1/encounters/{eid}").json()["status"] == "admitted"
    # discharged the day the settled stay began (before it): settled
    before = settle_over_api(api, eid, discharged_at=iso_at(-5, 8))
    assert before.status_code == 201, before.text
