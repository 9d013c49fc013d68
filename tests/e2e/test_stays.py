"""Stays end to end: the real runtime (services, store, upload queue and its workers, the MLLP
listener, the "waiting for upstream" re-check) with the simulator over real HTTP, over REST and
HL7 as the HIS and the desks see them.

A filing changed mid-stay (N§13, N§15), a second open stay, of either kind (N§33, B§28), a
full outage at discharge (N§38, B§27), a manual claim after an unacknowledged revocation
(N§38, B§27), and a resent settle that replays the first settlement.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from adapter.wiring.runtime import Runtime
from connectors.upstream.simulator import SimulatorServer
from tests.e2e.hl7_rest import SHANGHAI, ack_code, msh, seg
from tests.e2e.hl7_rest import send as send_hl7
from tests.support.live import running_site, simulator_faults
from tests.support.polling import eventually


@dataclass
class Site:
    base: str
    port: int
    headers: dict[str, str]
    sim: SimulatorServer
    runtime: Runtime

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.post(f"{self.base}{path}", headers=self.headers, timeout=30, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.get(f"{self.base}{path}", headers=self.headers, timeout=30, **kwargs)

    def outage(self, on: bool) -> None:
        simulator_faults(self.sim.url, outage=on)

    def seed(self, psn_no: str, *filings: dict[str, Any]) -> None:
        body = {
            "people": [
                {"psn_no": psn_no, "certno": citizen_id(psn_no), "psn_name": "测试工人",
                 "gend": "1", "brdy": "1980-01-01", "insuplc_admdvs": "310100",
                 "card_no": card_no(psn_no), "card_status": "normal"}
            ],
            "filings": [
                {"psn_no": psn_no, "category": "long_term_residence", "purpose": "medical",
                 "mdtrtarea_admvs": "110100", "status": "active", "injury_parts": ["左手"],
                 "insuplc_admdvs": "310100", "begndate": day(-100), "enddate": day(200),
                 "filed_on": day(-101), **f}
                for f in filings
            ],
        }  # fmt: skip
        assert httpx.post(f"{self.sim.url}/_sim/seed", json=body).status_code == 200


def day(days: int) -> str:
    return (datetime.now(SHANGHAI).date() + timedelta(days=days)).isoformat()


def card_no(psn_no: str) -> str:
    return f"CARD{psn_no[1:]}"


def citizen_id(psn_no: str) -> str:
    return f"310102198001011{psn_no[-3:]}"


@pytest.fixture
def site(db_url: str, engine: Engine) -> Iterator[Site]:
    with running_site(db_url, engine, "HIS", ["his", "billing", "it"]) as s:
        yield Site(s.base, s.port, s.headers, s.simulator, s.runtime)


ADMITTED = datetime.now(SHANGHAI).replace(microsecond=0) - timedelta(days=3)
DISCHARGED = ADMITTED + timedelta(days=2)


def admit(
    site: Site, psn_no: str, visit: str, kind: str = "medical", at: datetime = ADMITTED
) -> httpx.Response:
    return site.post(
        "/api/v1/encounters",
        json={
            "card": {"kind": "physical", "card_no": card_no(psn_no)},
            "his_visit_id": visit,
            "kind": kind,
            "admitted_at": at.isoformat(),
            "diagnoses": [{"code": "S62.301", "name": "左手第三掌骨骨折"}],
            "injury_parts": ["左手部"],
        },
    )


def add_fee(site: Site, encounter_id: str) -> None:
    line = {"his_line_id": "L1", "item_code": "XN02BEB001", "item_name": "布洛芬缓释胶囊",
            "category": "drug", "quantity": "1", "unit_price": "18.25", "amount": "18.25",
            "occurred_at": (ADMITTED + timedelta(hours=3)).isoformat()}  # fmt: skip
    reply = site.post(f"/api/v1/encounters/{encounter_id}/fees", json={"lines": [line]})
    assert reply.status_code == 200, reply.text


def settle(site: Site, encounter_id: str) -> httpx.Response:
    return site.post(
        f"/api/v1/encounters/{encounter_id}/settle",
        json={"discharged_at": DISCHARGED.isoformat(), "discharge_diagnoses": []},
    )


def hl7(site: Site, event: str, control_id: str, psn_no: str, visit: str, *extra: str) -> str:
    fields = {1: "1", 2: "I", 3: "骨科病区", 19: visit, 44: ADMITTED.strftime("%Y%m%d%H%M%S")}
    if event == "A03":
        fields[45] = DISCHARGED.strftime("%Y%m%d%H%M%S")
    segments = [
        msh(event, control_id),
        f"EVN|{event}",
        f"PID|1||{citizen_id(psn_no)}^^^^NI~HIS{psn_no}^^^^PI||测试工人||19800101|M",
        seg("PV1", fields),
        "DG1|1||S62.301^左手第三掌骨骨折^I10",
        *extra,
    ]
    return send_hl7(site.port, "\r".join(segments) + "\r")


def test_n13_a_stay_whose_filing_changes_mid_stay_settles_on_its_admitted_filing(
    site: Site,
) -> None:
    site.seed("P951", {"filing_no": "F951"})
    admitted = admit(site, "P951", "ZY951")
    assert admitted.status_code == 201, admitted.text
    eid = admitted.json()["id"]
    add_fee(site, eid)
    site.seed(
        "P951",
        {"filing_no": "F951", "status": "changed", "successor_no": "F951B",
         "terminated_on": day(-2)},
        {"filing_no": "F951B", "filing_type": "change", "begndate": day(-2),
         "filed_on": day(-2)},
    )  # fmt: skip
    settled = settle(site, eid)
    assert settled.status_code == 201, settled.text
    body = settled.json()
    assert "EL_CHANGED_DURING_STAY" in [w["code"] for w in body["warnings"]]
    assert body["fund_pay"] == "18.25"

    def delivered() -> list[dict[str, Any]]:
        writes = httpx.get(f"{site.sim.url}/_sim/received", params={"infno": "WI2301"})
        return list(writes.json()["writes"])

    [wi2301] = eventually(delivered)
    assert wi2301["reply"]["infcode"] == 0


def test_b28_a_second_open_stay_is_409_over_rest_and_ae_over_hl7_naming_the_open_one(
    site: Site,
) -> None:
    site.seed("P952", {"filing_no": "F952"})
    first = admit(site, "P952", "ZY952")
    assert first.status_code == 201, first.text
    second = admit(site, "P952", "ZY952-2")
    assert second.status_code == 409, second.text
    problem = second.json()
    assert second.headers["content-type"].startswith("application/problem+json")
    assert problem["errors"][0]["code"] == "OPEN_STAY_EXISTS"
    assert problem["title"] == "该工伤职工已有未结束的住院"  # not the generic "modified by others"
    assert "B§28" in problem["errors"][0]["article"] and "ZY952" in problem["detail"]
    assert problem["open_stay"]["id"] == first.json()["id"]
    ack = hl7(site, "A01", "S1", "P952", "HV952", f"ZWI|P|{card_no('P952')}||左手|medical")
    assert ack_code(ack) == "AE", ack
    assert "OPEN_STAY_EXISTS" in ack and "ZY952" in ack
    # The same visit again still replays, as before.
    assert admit(site, "P952", "ZY952").status_code == 200


def test_OPEN_STAY_EXISTS_no_rehab_stay_beside_an_open_medical_one_nor_the_reverse(
    site: Site,
) -> None:
    """One worker, one bed (N§33, B§28): before, the HIS admitted a rehab stay beside the open
    medical one, booked fees on it, and learnt only at settlement (STAY_OVERLAPS). Now the
    admission is refused over REST and HL7 naming the open stay; the transfer is a settlement
    (or a cancelled admission) first."""
    rehab_filing = {"filing_no": "F955R", "purpose": "rehab", "category": "resident_work"}
    site.seed("P955", {"filing_no": "F955"}, rehab_filing)
    medical = admit(site, "P955", "ZY955")
    assert medical.status_code == 201, medical.text
    refused = admit(site, "P955", "ZY955-R", "rehab")
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert problem["errors"][0]["code"] == "OPEN_STAY_EXISTS"
    assert problem["open_stay"]["id"] == medical.json()["id"]
    assert problem["open_stay"]["kind"] == "medical"
    assert "未结束的住院工伤医疗" in problem["detail"] and "ZY955" in problem["detail"]
    assert "医疗转康复请先办理本次住院的出院结算" in problem["detail"]
    rehab_a01 = f"ZWI|P|{card_no('P955')}||左手|rehab"
    ack = hl7(site, "A01", "S955a", "P955", "HV955R", rehab_a01)
    assert ack_code(ack) == "AE", ack
    assert "OPEN_STAY_EXISTS" in ack and "ZY955" in ack
    add_fee(site, medical.json()["id"])
    assert settle(site, medical.json()["id"]).status_code == 201
    rehab = admit(site, "P955", "ZY955-R", "rehab", at=DISCHARGED)  # at the discharge: after it
    assert rehab.status_code == 201, rehab.text
    # the reverse: no medical stay beside the open rehab one, until it is cancelled
    again = admit(site, "P955", "ZY955-2", at=DISCHARGED + timedelta(hours=1))
    assert again.status_code == 409, again.text
    assert again.json()["open_stay"]["kind"] == "rehab"
    assert "康复转医疗" in again.json()["detail"] and "ZY955-R" in again.json()["detail"]
    medical_a01 = f"ZWI|P|{card_no('P955')}||左手|medical"
    ack = hl7(site, "A01", "S955b", "P955", "HV955M", medical_a01)
    assert ack_code(ack) == "AE", ack
    assert "OPEN_STAY_EXISTS" in ack and "ZY955-R" in ack
    cancelled = site.post(f"/api/v1/encounters/{rehab.json()['id']}/cancel", json={"reason": "误"})
    assert cancelled.status_code == 200, cancelled.text
    readmitted = admit(site, "P955", "ZY955-2", at=DISCHARGED + timedelta(hours=1))
    assert readmitted.status_code == 201, readmitted.text


def test_n38_a_full_outage_at_discharge_waits_then_settles_once_upstream_answers(
    site: Site,
) -> None:
    site.seed("P953", {"filing_no": "F953"})
    eid = admit(site, "P953", "ZY953").json()["id"]
    add_fee(site, eid)
    site.outage(True)
    refused = settle(site, eid)
    assert refused.status_code == 503, refused.text
    problem = refused.json()
    error = problem["errors"][0]
    assert error["code"] == "UPSTREAM_DOWN_AT_DISCHARGE" and "N§38" in error["article"]
    assert "等待" in error["message"] and "手工报销" in error["message"]
    assert [w["way"] for w in problem["ways_on"]] == ["wait", "manual_claim"]
    assert site.get(f"/api/v1/encounters/{eid}").json()["settlement"] is None
    [waiting] = site.get("/api/v1/encounters/waiting-for-upstream").json()
    assert waiting["encounter_id"] == eid and waiting["ready_to_settle"] is False
    # Over HL7 the same outage at A03 is an AE citing N§38; the HIS resends later.
    ack = hl7(site, "A01", "O1", "P954", "HV954", f"ZWI|P|{card_no('P954')}||左手|medical")
    assert ack_code(ack) == "AE"
    assert site.runtime.recheck is not None
    assert site.runtime.recheck.run_once() == 0  # still down: nothing changes
    site.outage(False)
    assert site.runtime.recheck.run_once() == 1
    [ready] = site.get("/api/v1/encounters/waiting-for-upstream").json()
    assert ready["ready_to_settle"] is True and "可以办理出院结算" in ready["message"]
    settled = settle(site, eid)
    assert settled.status_code == 201, settled.text
    assert site.get("/api/v1/encounters/waiting-for-upstream").json() == []


def test_n38_hl7_discharge_in_an_outage_is_ae_citing_n38(site: Site) -> None:
    site.seed("P955", {"filing_no": "F955"})
    ack = hl7(site, "A01", "H1", "P955", "HV955", f"ZWI|P|{card_no('P955')}||左手|medical")
    assert ack_code(ack) == "AA", ack
    eid = site.get("/api/v1/hl7/messages", params={"visit": "HV955"}).json()["messages"][0]
    encounter_id = __import__("json").loads(eid["detail"])["encounter_id"]
    add_fee(site, encounter_id)
    site.outage(True)
    ack = hl7(site, "A03", "H2", "P955", "HV955")
    assert ack_code(ack) == "AE", ack
    assert "N§38" in ack or "UPSTREAM_DOWN_AT_DISCHARGE" in ack
    site.outage(False)


def test_n38_b27_a_manual_claim_after_an_unacknowledged_revocation_is_refused_until_acked(
    site: Site,
) -> None:
    site.seed("P956", {"filing_no": "F956"})
    eid = admit(site, "P956", "ZY956").json()["id"]
    add_fee(site, eid)
    settled = settle(site, eid)
    assert settled.status_code == 201, settled.text
    sid = settled.json()["id"]

    def uploaded(infno: str) -> bool:
        writes = httpx.get(f"{site.sim.url}/_sim/received", params={"infno": infno}).json()
        return bool(writes["count"])

    eventually(lambda: uploaded("WI2301"))
    site.outage(True)  # the revocation cannot reach upstream
    revoked = site.post(f"/api/v1/settlements/{sid}/revoke", json={"reason": "读卡失败，转手工"})
    assert revoked.status_code == 200, revoked.text
    claim = {"encounter_id": eid, "reason": "card_failure", "detail": "社保卡芯片损坏"}
    refused = site.post("/api/v1/manual-claims", json=claim)
    assert refused.status_code == 422, refused.text
    error = refused.json()["errors"][0]
    assert error["code"] == "MANUAL_CLAIM_REVOCATION_PENDING"
    assert "N§38" in error["article"] and "B§27" in error["article"]
    assert "杜绝重复报销" in error["message"]
    assert refused.json()["revocation"]["queue_page"] == "/web/monitor"
    site.outage(False)
    site.runtime.wake()
    eventually(lambda: uploaded("WI2305"), timeout=60)

    def accepted() -> httpx.Response | None:
        reply = site.post("/api/v1/manual-claims", json=claim)
        return reply if reply.status_code == 201 else None

    made = eventually(accepted, timeout=30)
    assert made.json()["fee_list"]["medfee_sumamt"] == "18.25"


def test_a_resent_settle_replays_the_first_settlement(site: Site) -> None:
    site.seed("P957", {"filing_no": "F957"})
    eid = admit(site, "P957", "ZY957").json()["id"]
    add_fee(site, eid)
    first = settle(site, eid)
    assert first.status_code == 201, first.text
    again = settle(site, eid)
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"] and again.json()["replayed"] is True
    other = site.post(
        f"/api/v1/encounters/{eid}/settle",
        json={"discharged_at": (DISCHARGED + timedelta(hours=1)).isoformat()},
    )
    assert other.status_code == 409


def test_n38_b27_upstream_down_at_admission_a_manual_claim_case_over_rest(site: Site) -> None:
    site.seed("P958", {"filing_no": "F958"})
    site.seed("P959", {"filing_no": "F959"})
    site.outage(True)
    refused = admit(site, "P958", "ZY958")
    assert refused.status_code == 503, refused.text
    error = refused.json()["errors"][0]
    assert error["code"] == "UPSTREAM_DOWN_AT_ADMISSION" and "N§38" in error["article"]
    assert [w["way"] for w in refused.json()["ways_on"]] == ["retry", "manual_claim"]
    cases = {}
    for psn_no in ("P958", "P959"):
        body = {
            "card": {"kind": "physical", "card_no": card_no(psn_no)},
            "his_visit_id": f"ZY{psn_no[1:]}",
            "kind": "medical",
            "admitted_at": ADMITTED.isoformat(),
            "injury_parts": ["左手"],
            "manual_claim_if_upstream_down": True,
        }
        made = site.post("/api/v1/encounters", json=body)
        assert made.status_code == 201, made.text
        assert made.json()["manual_claim_id"] and made.json()["upload"] is None
        add_fee(site, made.json()["id"])
        cases[psn_no] = made.json()
    site.outage(False)
    # P958: the fee list is handed over (printed): it stays a manual claim.
    handed = site.post(
        f"/api/v1/manual-claims/{cases['P958']['manual_claim_id']}/hand-over",
        json={"discharged_at": DISCHARGED.isoformat()},
    )
    assert handed.status_code == 200, handed.text
    assert handed.json()["fee_list"]["medfee_sumamt"] == "18.25"
    assert "手工报销" in handed.json()["fee_list"]["title"]
    late = site.post(
        f"/api/v1/manual-claims/{cases['P958']['manual_claim_id']}/switch-to-direct",
        json={"card": {"kind": "physical", "card_no": card_no("P958")}},
    )
    assert (
        late.status_code == 409 and late.json()["errors"][0]["code"] == "MANUAL_CLAIM_HANDED_OVER"
    )
    assert settle(site, cases["P958"]["id"]).status_code == 409
    # P959: upstream answered before the list was handed over: direct settlement after checks.
    case = cases["P959"]
    assert settle(site, case["id"]).json()["errors"][0]["code"] == "MANUAL_CLAIM_CASE"
    switched = site.post(
        f"/api/v1/manual-claims/{case['manual_claim_id']}/switch-to-direct",
        json={"card": {"kind": "physical", "card_no": card_no("P959")}},
    )
    assert switched.status_code == 200, switched.text
    assert switched.json()["filing_no"] == "F959"
    settled = settle(site, case["id"])
    assert settled.status_code == 201, settled.text

    def registered() -> bool:
        writes = httpx.get(f"{site.sim.url}/_sim/received", params={"infno": "WI2401"}).json()
        return any(w["input"].get("mdtrt_id") == case["id"] or case["id"] in str(w["input"])
                   for w in writes["writes"])  # fmt: skip

    eventually(registered)
