"""Tokens, roles and bad input: each a 4xx problem+json naming what is wrong; nothing written."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from tests.integration.api.conftest import Api

ADMIT = {
    "card": {"kind": "physical", "card_no": "310100A0001"},
    "his_visit_id": "ZY1",
    "kind": "medical",
    "admitted_at": "2026-11-20T09:00:00+08:00",
    "injury_parts": ["左手"],
}


def _count(db: Engine, table: str) -> int:
    with db.connect() as connection:
        return int(connection.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one())


def _problem(response, status: int) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["errors"]
    return list(body["errors"])


def test_no_token_is_401_and_a_revoked_or_unknown_token_too(api: Api) -> None:
    errors = _problem(api.post("/api/v1/encounters", role=None, json=ADMIT), 401)
    assert "令牌" in errors[0]["message"]
    headers = {"Authorization": "Bearer wi_not-a-token"}
    _problem(api.get("/api/v1/encounters/E1", role=None, headers=headers), 401)


@pytest.mark.parametrize(
    ("method", "path", "role"),
    [
        ("POST", "/api/v1/encounters", "device"),
        ("POST", "/api/v1/encounters", "billing"),
        ("POST", "/api/v1/encounters/E1/fees", "admission"),
        ("POST", "/api/v1/encounters/E1/presettle", "his"),
        ("POST", "/api/v1/settlements/S1/revoke", "his"),
        ("POST", "/api/v1/device-fittings", "billing"),
        ("POST", "/api/v1/manual-claims", "admission"),
        ("POST", "/api/v1/identity/verify", "his"),
        ("PUT", "/api/v1/encounters/E1/fees/L1/mapping", "his"),
    ],
)
def test_the_wrong_role_is_403_naming_the_roles_needed(
    api: Api, method: str, path: str, role: str
) -> None:
    errors = _problem(api.call(method, path, role, json={}), 403)
    assert "角色" in errors[0]["message"]


def test_malformed_json_and_wrong_types_name_the_field_and_write_nothing(
    api: Api, db: Engine
) -> None:
    broken = api.post(
        "/api/v1/encounters",
        role="admission",
        content=b'{"card": {"kind": "physical"',
        headers={"Content-Type": "application/json"},
    )
    assert _problem(broken, 422)[0]["code"] == "INVALID_JSON_INVALID"
    cases = {
        "admitted_at": {**ADMIT, "admitted_at": "yesterday"},
        "kind": {**ADMIT, "kind": "dental"},
        "card.kind": {**ADMIT, "card": {"kind": "iris"}},
        "his_visit_id": {**ADMIT, "his_visit_id": 42},
        "surprise": {**ADMIT, "surprise": True},
    }
    for field, body in cases.items():
        errors = _problem(api.post("/api/v1/encounters", role="admission", json=body), 422)
        assert field in [e["field"] for e in errors], (field, errors)
        assert all(e["message"] for e in errors)
    naive = _problem(
        api.post("/api/v1/encounters", role="admission",
                 json={**ADMIT, "admitted_at": "2026-11-20T09:00:00"}),
        422,
    )  # fmt: skip
    assert naive[0]["field"] == "admitted_at" and "时区" in naive[0]["message"]
    assert _count(db, "encounter") == 0 and _count(db, "upload_job") == 0


def test_fee_amounts_beyond_the_fen_and_a_missing_card_number_are_refused_by_field(
    api: Api, db: Engine
) -> None:
    admitted = api.post("/api/v1/encounters", role="admission", json=ADMIT)
    assert admitted.status_code == 201, admitted.text
    encounter_id = admitted.json()["id"]
    line = {
        "his_line_id": "L1", "item_code": "XN02BEB001", "category": "drug", "quantity": "1",
        "unit_price": "18.25", "amount": "18.255", "occurred_at": "2026-11-21T10:00:00+08:00",
    }  # fmt: skip
    errors = _problem(
        api.post(f"/api/v1/encounters/{encounter_id}/fees", role="billing", json={"lines": [line]}),
        422,
    )
    assert errors[0]["field"] == "lines.0.amount"
    no_card = {**ADMIT, "his_visit_id": "ZY2", "card": {"kind": "physical"}}
    errors = _problem(api.post("/api/v1/encounters", role="admission", json=no_card), 400)
    assert errors[0]["field"] == "card.card_no"
    assert _count(db, "fee_line") == 0 and _count(db, "encounter") == 1


def test_unknown_encounter_and_settlement_are_404(api: Api) -> None:
    assert _problem(api.get("/api/v1/encounters/E404"), 404)[0]["code"] == "ENCOUNTER_NOT_FOUND"
    revoke = api.post("/api/v1/settlements/S404/revoke", role="billing", json={"reason": "x"})
    assert _problem(revoke, 404)[0]["code"] == "SETTLEMENT_NOT_FOUND"


def test_openapi_documents_the_routes_with_examples(api: Api) -> None:
    schema = api.get("/openapi.json", role=None).json()
    for path in (
        "/api/v1/encounters",
        "/api/v1/encounters/{encounter_id}/settle",
        "/api/v1/device-fittings",
        "/api/v1/manual-claims",
        "/api/v1/settlements/{settlement_id}/revoke",
    ):
        assert path in schema["paths"]
    assert schema["components"]["schemas"]["AdmitIn"]["examples"][0]["his_visit_id"]


def test_a_body_that_is_not_utf8_is_refused_in_chinese_like_broken_json(
    api: Api, db: Engine
) -> None:
    # a HIS sending GB 18030 where JSON must be UTF-8 (RFC 8259): 张三 in GB 18030
    body = '{"his_visit_id": "张三"}'.encode("gb18030")
    answer = api.post(
        "/api/v1/encounters",
        role="admission",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    (error,) = _problem(answer, 422)
    assert error["code"] == "INVALID_JSON_INVALID"
    assert "UTF-8" in error["message"] and "JSON" in error["message"], error
    assert _count(db, "encounter") == 0


def test_a_value_outside_its_choices_or_an_empty_list_says_what_is_expected(api: Api) -> None:
    wrong_kind = _problem(
        api.post("/api/v1/encounters", role="admission", json={**ADMIT, "kind": "dental"}), 422
    )
    (error,) = [e for e in wrong_kind if e["field"] == "kind"]
    assert "medical" in error["message"] and "rehab" in error["message"], error
    no_lines = _problem(
        api.post("/api/v1/encounters/E1/fees", role="billing", json={"lines": []}), 422
    )
    assert no_lines[0]["field"] == "lines" and "至少 1" in no_lines[0]["message"], no_lines
