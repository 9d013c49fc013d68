"""Personal data a clerk typed into free text (a claim's detail) is masked in the audit log, as
in every other log and list: neither the stored entry nor IT's list keeps it in full, and the
chain still verifies."""

from __future__ import annotations

from sqlalchemy import Engine

from tests.integration.api.conftest import Api
from tests.integration.api.test_auth_and_input import ADMIT

CITIZEN_ID, PHONE = "130102198507022422", "13910000002"


def test_the_audit_list_masks_a_citizen_id_and_a_phone_typed_into_a_claims_detail(
    api: Api, db: Engine
) -> None:
    admitted = api.post("/api/v1/encounters", role="admission", json=ADMIT)
    assert admitted.status_code == 201, admitted.text
    detail = f"芯片损坏，家属电话{PHONE}，身份证{CITIZEN_ID}"
    claim = api.post(
        "/api/v1/manual-claims",
        role="billing",
        json={"encounter_id": admitted.json()["id"], "reason": "card_failure", "detail": detail},
    )
    assert claim.status_code == 201, claim.text
    listed = api.get("/api/v1/audit", role="it", params={"action": "manual_claim.create"})
    assert listed.status_code == 200, listed.text
    (entry,) = listed.json()["entries"]
    shown = entry["details"]["detail"]
    assert CITIZEN_ID not in listed.text and PHONE not in listed.text, shown
    assert shown.startswith("芯片损坏") and "1301" in shown and "2422" in shown, shown
    assert entry["details"]["claim_id"] == claim.json()["id"]  # record ids stay whole
    verified = api.get("/api/v1/audit/verify", role="it").json()
    assert verified["ok"], verified
    with db.connect() as connection:
        stored = connection.exec_driver_sql(
            "SELECT details FROM audit_log WHERE action = 'manual_claim.create'"
        ).scalar_one()
    assert CITIZEN_ID not in str(stored) and PHONE not in str(stored), stored
