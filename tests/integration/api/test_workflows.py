"""The workflows over HTTP, as the desks and the HIS drive them, against the simulator."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from decimal import Decimal

import httpx
from sqlalchemy import Engine

from adapter.store.tokens import create_token
from adapter.store.uow import UnitOfWork
from connectors.upstream.simulator import SimulatorServer
from tests.integration.api.bodies import admit_over_api, iso_at, line_body, settle_over_api
from tests.integration.api.conftest import Api
from tests.integration.services.helpers import local
from upload_queue import UploadQueue

D = Decimal


def test_identity_and_eligibility_for_the_desks(api: Api) -> None:
    person = api.post(
        "/api/v1/identity/verify", role="admission",
        json={"card": {"kind": "ecard", "qr_token": "ECQR-P001-DEMO"}},
    )  # fmt: skip
    assert person.status_code == 200, person.text
    assert person.json()["psn_no"] == "P001" and "*" in person.json()["citizen_id"]
    body = {"card": {"kind": "physical", "card_no": "120100P0014"}, "kind": "medical",
            "on": local(0).date().isoformat()}  # fmt: skip
    answer = api.post("/api/v1/eligibility", role="billing", json=body).json()
    assert answer["eligible"] is False and answer["filing"] is None
    assert answer["reasons"][0]["code"] == "EL_FILING_EXISTS"
    assert answer["reasons"][0]["article"] == "N§16, N§18, B§26, B§28"
    assert "掌上12333APP" in answer["filing_channels"]
    filed = {**body, "card": {"kind": "physical", "card_no": "310100A0001"}}
    ok = api.post("/api/v1/eligibility", role="device", json=filed).json()
    assert ok["eligible"] and ok["filing"]["filing_no"] == "F001"


def test_a_refused_admission_is_422_with_every_reason(api: Api, db: Engine) -> None:
    refused = admit_over_api(
        api, psn_card="210100J0009", injury_parts=["右膝"]
    )  # suspended, wrong part
    assert refused.status_code == 422
    codes = {e["code"]: e for e in refused.json()["errors"]}
    assert set(codes) == {"EL_NOT_SUSPENDED", "EL_INJURY_PARTS_FILED"}
    assert codes["EL_INJURY_PARTS_FILED"]["field"] == "injury_parts"
    assert codes["EL_NOT_SUSPENDED"]["article"] == "N§49, B§52"


def test_EL_INJURY_PARTS_NAMED_an_admission_without_an_injured_part_is_422_naming_the_field(
    api: Api, db: Engine
) -> None:
    """The HIS admits without ``injury_parts`` (or with blanks): before, the stay registered
    for direct settlement with no part at all (N§16); now the filed parts are named to choose
    from, and nothing is registered."""
    for visit, parts in (("ZY-NP1", []), ("ZY-NP2", ["  "])):
        refused = admit_over_api(api, visit=visit, injury_parts=parts)
        assert refused.status_code == 422, refused.text
        [error] = refused.json()["errors"]
        assert (error["code"], error["field"]) == ("EL_INJURY_PARTS_NAMED", "injury_parts")
        assert "左手" in error["message"] and "N§16" in error["article"]
    assert admit_over_api(api, visit="ZY-NP3").status_code == 201


def test_EL_IDENTITY_MATCH_a_card_whose_id_ends_in_a_small_x_is_the_workers_own(
    api: Api, sim: SimulatorServer
) -> None:
    """The card reader (or the HIS) gives the citizen ID with its check digit as ``x``; upstream
    writes ``X`` (GB 11643). Before: 422, "社会保障卡与参保人员信息不一致（公民身份号码）"."""
    person = {
        "psn_no": "P970",
        "certno": "11010519491231002X",
        "psn_name": "测试工人",
        "gend": "2",
        "brdy": "1949-12-31",
        "insuplc_admdvs": "310100",
        "card_no": "CARD970",
        "card_status": "normal",
    }
    filing = {"filing_no": "F970", "psn_no": "P970", "category": "long_term_residence",
              "purpose": "medical", "mdtrtarea_admvs": "110100", "status": "active",
              "injury_parts": ["左手"], "insuplc_admdvs": "310100",
              "begndate": local(-100).date().isoformat(),
              "enddate": local(200).date().isoformat(),
              "filed_on": local(-101).date().isoformat()}  # fmt: skip
    seeded = httpx.post(f"{sim.url}/_sim/seed", json={"people": [person], "filings": [filing]})
    assert seeded.status_code == 200
    card = {"kind": "physical", "card_no": "CARD970", "citizen_id": "11010519491231002x"}
    admitted = admit_over_api(api, visit="ZY-970", card=card)
    assert admitted.status_code == 201, admitted.text


def test_a_medical_stay_from_admission_to_revocation_and_resettlement(
    api: Api, db: Engine, queue: UploadQueue, sim: SimulatorServer
) -> None:
    admitted = admit_over_api(api)
    assert admitted.status_code == 201, admitted.text
    encounter = admitted.json()
    assert encounter["status"] == "admitted" and encounter["upload"]["infno"] == "WI2401"
    again = admit_over_api(api)
    assert (
        again.status_code == 200
        and again.json()["replayed"]
        and again.json()["id"] == encounter["id"]
    )
    eid = encounter["id"]

    fees = api.post(
        f"/api/v1/encounters/{eid}/fees", role="his",
        json={"lines": [
            line_body("L1", "XN02BEB001", "36.50", "2"),
            line_body("L2", "110900001A", "180.00", "3", category="service"),
            line_body("L3", "HIS-NEW-1", "42.00"),
            line_body("R1", "XN02BEB001", "-18.25", "-1"),
        ]},
    )  # fmt: skip
    assert fees.status_code == 200, fees.text
    recorded = fees.json()
    assert recorded["unmapped"] == ["L3"] and recorded["reversals"] == {"R1": "L1"}
    repeat = api.post(f"/api/v1/encounters/{eid}/fees", role="his",
                      json={"lines": [line_body("L1", "XN02BEB001", "36.50", "2")]})  # fmt: skip
    assert repeat.json()["ignored"] == ["L1"] and repeat.json()["added"] == []

    blocked = settle_over_api(api, eid)
    assert blocked.status_code == 422 and blocked.json()["errors"][0]["code"] == "FEES_UNMAPPED"
    mapped = api.put(f"/api/v1/encounters/{eid}/fees/L3/mapping", role="billing",
                     json={"catalogue_code": "XJ01DCC061"})  # fmt: skip
    assert mapped.status_code == 200 and mapped.json()["unmapped"] == []

    preview = api.post(f"/api/v1/encounters/{eid}/presettle", role="billing", json={})
    assert preview.json()["total"] == "240.25" and preview.json()["can_settle"] is True

    settled = settle_over_api(api, eid, discharge_diagnoses=[{"code": "S62.301", "name": "骨折"}])
    assert settled.status_code == 201, settled.text
    s = settled.json()
    assert (s["total"], s["fund_pay"], s["personal_pay"]) == ("240.25", "210.25", "30.00")
    assert D(s["fund_pay"]) + D(s["personal_pay"]) == D(s["total"])
    assert s["breakdown"]["over_limit"] == "30.00"
    assert s["upload"]["infno"] == "WI2301"
    deadline = datetime.fromisoformat(s["upload"]["deadline"])
    assert deadline - datetime.fromisoformat(s["settled_at"]) == timedelta(minutes=30)
    assert {line["his_line_id"] for line in s["lines"]} == {"L1", "L2", "L3", "R1"}
    resent = settle_over_api(api, eid, discharge_diagnoses=[{"code": "S62.301", "name": "骨折"}])
    assert resent.status_code == 200 and resent.json()["id"] == s["id"]  # replayed
    assert settle_over_api(api, eid, discharged_at=iso_at(0, 10)).status_code == 409

    assert queue.worker().drain() == 2
    detail = api.get(f"/api/v1/encounters/{eid}", role="device").json()
    assert detail["status"] == "settled" and detail["settlement"]["id"] == s["id"]
    assert [(u["infno"], u["delivered"]) for u in detail["uploads"]] == [
        ("WI2401", True), ("WI2301", True)]  # fmt: skip
    shown = api.get(f"/api/v1/settlements/{s['id']}", role="admission").json()
    assert shown["slip_no"] == s["slip_no"] and shown["upload"]["msgid"] == s["upload"]["msgid"]

    revoked = api.post(f"/api/v1/settlements/{s['id']}/revoke", role="billing",
                       json={"reason": "出院日期录错"})  # fmt: skip
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    assert revoked.json()["upload"]["infno"] == "WI2305"
    # A revoke sent again answers the revocation already made, as a resent ADT^A13 does.
    resent = api.post(f"/api/v1/settlements/{s['id']}/revoke", role="billing",
                      json={"reason": "x"})  # fmt: skip
    assert resent.status_code == 200 and resent.json()["replayed"] is True
    assert resent.json()["upload"]["msgid"] == revoked.json()["upload"]["msgid"]
    assert resent.json()["revoke_reason"] == "出院日期录错"
    again = settle_over_api(api, eid)
    assert again.status_code == 201 and again.json()["slip_no"] != s["slip_no"]
    assert queue.worker().drain() == 2
    writes = httpx.get(f"{sim.url}/_sim/received").json()["writes"]
    assert [(w["infno"], w["reply"]["infcode"]) for w in writes] == [
        ("WI2401", 0), ("WI2301", 0), ("WI2305", 0), ("WI2301", 0)]  # fmt: skip


def test_two_clerks_settling_at_once_over_http_get_one_201_and_one_409(
    api: Api, db: Engine
) -> None:
    eid = admit_over_api(api).json()["id"]
    api.post(f"/api/v1/encounters/{eid}/fees", role="his",
             json={"lines": [line_body("L1", "XN02BEB001", "18.25")]})  # fmt: skip
    barrier = threading.Barrier(2)
    codes: list[int] = []

    def clerk(hour: int) -> None:  # two different discharge times: not a resend
        barrier.wait()
        codes.append(settle_over_api(api, eid, discharged_at=iso_at(0, hour)).status_code)

    threads = [threading.Thread(target=clerk, args=(hour,)) for hour in (7, 8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(codes) == [201, 409]
    with db.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM settlement").scalar_one() == 1


def test_cancel_and_manual_claim_block_direct_settlement(api: Api) -> None:
    first = admit_over_api(api).json()["id"]
    cancelled = api.post(
        f"/api/v1/encounters/{first}/cancel", role="his", json={"reason": "未入院"}
    )
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    second = admit_over_api(api, visit="ZY2").json()["id"]
    api.post(f"/api/v1/encounters/{second}/fees", role="his",
             json={"lines": [line_body("L1", "XN02BEB001", "18.25")]})  # fmt: skip
    claim = api.post("/api/v1/manual-claims", role="billing",
                     json={"encounter_id": second, "reason": "card_failure",
                           "detail": "读卡器故障"})  # fmt: skip
    assert claim.status_code == 201, claim.text
    assert claim.json()["fee_list"]["medfee_sumamt"] == "18.25"
    assert api.get(f"/api/v1/manual-claims/{claim.json()['id']}", role="billing").status_code == 200
    refused = settle_over_api(api, second)
    assert refused.status_code == 409
    assert refused.json()["errors"][0]["article"] == "N§38, B§27"


def test_rehab_plan_gate_and_the_supervisors_override(api: Api, db: Engine) -> None:
    """N§33 wants the plan upstream before discharge settlement, "原则上": the override is the
    settlement supervisor's (结算主管). A billing clerk's token carrying one settled the stay
    anyway; now it is refused 403 naming the role, nothing settled, and only a token holding
    the supervisor role (with billing) settles, its reason kept in the audit entry."""
    eid = admit_over_api(api, psn_card="330100K0010", visit="KF1", kind="rehab",
                 injury_parts=["颈椎"]).json()["id"]  # fmt: skip
    api.post(f"/api/v1/encounters/{eid}/fees", role="his",
             json={"lines": [line_body("R1", "340200001", "80.00", category="rehab")]})  # fmt: skip
    missing = settle_over_api(api, eid)
    assert (
        missing.status_code == 422 and missing.json()["errors"][0]["code"] == "REHAB_PLAN_MISSING"
    )
    item = {"item_code": "340200001", "item_name": "运动疗法"}
    plan = {"goals": "恢复颈椎活动度", "items": [item], "frequency": "每日", "expected_days": 20}
    saved = api.put(f"/api/v1/encounters/{eid}/rehab-plan", role="his", json=plan)
    assert saved.status_code == 200 and saved.json()["upload"]["infno"] == "WI2501"
    waiting = settle_over_api(api, eid, role="his")
    assert waiting.json()["errors"][0]["code"] == "REHAB_PLAN_NOT_ACKNOWLEDGED"
    override = {"rehab_plan_override": {"reason": "患者转院，主管批准先行结算"}}
    api.tokens["结算主管"] = create_token(db, "结算主管-01", ["billing", "supervisor"], local(0))
    api.tokens["主管-only"] = create_token(db, "主管-02", ["supervisor"], local(0))
    for role in ("his", "billing", "主管-only"):  # the last opens nothing on its own
        refused = settle_over_api(api, eid, role=role, **override)
        assert refused.status_code == 403, (role, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json")
        said = refused.json()["errors"][0]["message"]
        assert ("结算主管" in said) if role != "主管-only" else ("结算收费" in said), said
    assert api.get(f"/api/v1/encounters/{eid}", role="billing").json()["status"] == "admitted"
    with UnitOfWork(db) as uow:
        assert uow.audit.query(action="settlement.settle") == []
    settled = settle_over_api(api, eid, role="结算主管", **override)
    assert settled.status_code == 201 and settled.json()["fund_pay"] == "80.00"
    with UnitOfWork(db) as uow:
        [entry] = uow.audit.query(action="settlement.settle")
    assert entry.actor == "结算主管-01" and entry.details["rehab_plan"] == "overridden"
    assert entry.details["rehab_override_reason"] == "患者转院，主管批准先行结算"


def test_a_device_fitting_over_its_limit(api: Api, queue: UploadQueue) -> None:
    body = {
        "card": {"kind": "physical", "card_no": "310100L0011"},
        "approval_notice_no": "沪工伤辅核〔2026〕第0421号",
        "items": [
            {"device_code": "SH-FZ-0101", "device_name": "前臂假肢", "actual_cost": "30000.00"}
        ],
        "fitted_at": iso_at(0, 9),
    }  # fmt: skip
    fitted = api.post("/api/v1/device-fittings", role="device", json=body)
    assert fitted.status_code == 201, fitted.text
    f = fitted.json()
    assert (f["fund_pay"], f["personal_pay"], f["breakdown"]["over_limit"]) == (
        "28000.00", "2000.00", "2000.00")  # fmt: skip
    assert f["upload"]["infno"] == "WI2701"
    replay = api.post("/api/v1/device-fittings", role="device", json=body)
    assert replay.status_code == 200 and replay.json()["id"] == f["id"]
    assert queue.worker().drain() == 1
