"""What probing the REST face by hand found (issue 14): a fee amount the fund paid unchecked,
times without bounds, lists without end — each refused with a 422 naming the field, and
nothing written, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import Engine

from adapter.domain.text import MAX_DIAGNOSES, MAX_FEE_LINES, MAX_INJURY_PARTS, MAX_REHAB_ITEMS
from tests.integration.api.bodies import admit_over_api, iso_at, line_body, settle_over_api
from tests.integration.api.conftest import Api
from tests.integration.services.helpers import ZONE, local
from tests.integration.services.support import MovableClock


def _count(db: Engine, table: str) -> int:
    with db.connect() as connection:
        return int(connection.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one())


def _refused(response: httpx.Response, code: str, field: str) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    errors = response.json()["errors"]
    found = [e for e in errors if e["code"] == code and e["field"] == field]
    assert found, errors
    return dict(found[0])


def _admitted(api: Api) -> str:
    admitted = admit_over_api(api)
    assert admitted.status_code == 201, admitted.text
    return str(admitted.json()["id"])


def test_n32_a_fee_amount_that_is_not_quantity_times_price_is_refused(api: Api, db: Engine) -> None:
    encounter_id = _admitted(api)
    # the line: one box at 0.01 stated as 999,999.00 — the fund paid the stated amount
    forged = line_body("L1", "XN02BEB001", "999999.00") | {"unit_price": "0.01"}
    fair = line_body("L0", "XN02BEB001", "18.25")
    response = api.post(f"/api/v1/encounters/{encounter_id}/fees", json={"lines": [fair, forged]})
    error = _refused(response, "FEE_AMOUNT_MISMATCH", "lines.1.amount")
    assert "999999.00" in error["message"] and error["article"] == "N§32"
    assert _count(db, "fee_line") == 0  # the batch is all or nothing
    # within a fen (a four-decimal unit price rounded to the fen) is the same amount
    rounded = line_body("L2", "XN02BEB001", "1.00", "3") | {"unit_price": "0.3333"}
    ok = api.post(f"/api/v1/encounters/{encounter_id}/fees", json={"lines": [rounded]})
    assert ok.status_code == 200, ok.text


def test_FEE_REVERSAL_PRICE_MISMATCH_n32_n33_a_reversal_at_another_price_is_refused_over_rest(
    api: Api, db: Engine
) -> None:
    encounter_id = _admitted(api)
    url = f"/api/v1/encounters/{encounter_id}/fees"
    charged = api.post(url, json={"lines": [line_body("L2", "XN02BEB001", "36.50")]})
    assert charged.status_code == 200, charged.text
    # the audit's drug: one box charged 36.50, reversed at 100.00 (the worker paid 63.50)
    dear = line_body("R2", "XN02BEB001", "-100.00", "-1") | {"reverses": "L2"}
    response = api.post(url, json={"lines": [line_body("L3", "XA11DBM001", "9.90"), dear]})
    error = _refused(response, "FEE_REVERSAL_PRICE_MISMATCH", "lines.1.unit_price")
    assert "原明细L2的单价36.50元" in error["message"] and error["article"] == "N§32, N§33, N§47"
    assert _count(db, "fee_line") == 1  # the batch is all or nothing
    fair = line_body("R2", "XN02BEB001", "-36.50", "-1") | {"reverses": "L2"}
    assert api.post(url, json={"lines": [fair]}).status_code == 200


def test_FEE_LINE_ID_REUSED_n47_a_line_id_resent_as_another_fee_is_refused_over_rest(
    api: Api, db: Engine
) -> None:
    encounter_id = _admitted(api)
    url = f"/api/v1/encounters/{encounter_id}/fees"
    assert (
        api.post(url, json={"lines": [line_body("L2", "XN02BEB001", "36.50")]}).status_code == 200
    )
    cheaper = line_body("L2", "XN02BEB001", "18.25")
    response = api.post(url, json={"lines": [line_body("L3", "XA11DBM001", "9.90"), cheaper]})
    error = _refused(response, "FEE_LINE_ID_REUSED", "lines.1.his_line_id")
    assert "金额18.25（已记录36.50）" in error["message"] and error["article"] == "N§47"
    assert _count(db, "fee_line") == 1
    same = api.post(url, json={"lines": [line_body("L2", "XN02BEB001", "36.50")]})
    assert same.status_code == 200 and same.json()["ignored"] == ["L2"]


def test_FEE_LINE_ID_REPEATED_n47_a_line_id_twice_in_one_batch_is_refused_over_rest(
    api: Api, db: Engine
) -> None:
    """The same fee twice under one his_line_id in one batch was stored once and reported
    ignored: the HIS that sent two boxes of 36.50 saw 200 and the fund paid one. Refused, as
    HL7 refuses an FT1-2 repeated in one message, naming the second; nothing is stored. The
    same fee sent again in a later batch stays a resend."""
    encounter_id = _admitted(api)
    url = f"/api/v1/encounters/{encounter_id}/fees"
    box = line_body("L2", "XN02BEB001", "36.50")
    response = api.post(url, json={"lines": [box, line_body("L3", "XA11DBM001", "9.90"), box]})
    error = _refused(response, "FEE_LINE_ID_REPEATED", "lines.2.his_line_id")
    assert "L2" in error["message"] and error["article"] == "N§47"
    assert _count(db, "fee_line") == 0
    assert api.post(url, json={"lines": [box]}).status_code == 200
    # a line already stored, named twice again, is refused too: the batch itself is wrong
    twice = api.post(url, json={"lines": [box, box]})
    _refused(twice, "FEE_LINE_ID_REPEATED", "lines.1.his_line_id")
    again = api.post(url, json={"lines": [box]})
    assert again.status_code == 200 and again.json()["ignored"] == ["L2"]
    assert _count(db, "fee_line") == 1


def _from_now(clock: MovableClock, *, days: int) -> str:
    """``days`` from the adapter's clock now (negative: ago), in Beijing time."""
    return (clock.now() + timedelta(days=days)).astimezone(ZONE).isoformat()


def test_n33_admission_times_in_the_future_or_too_far_back_are_refused(
    api: Api, db: Engine, clock: MovableClock
) -> None:
    future = admit_over_api(api, admitted_at="9999-12-31T00:00:00+08:00")
    _refused(future, "TIME_IN_FUTURE", "admitted_at")
    # Ahead of the adapter's clock now: a day counted from TODAY (shifted back 16 h, taken
    # at import) is no longer ahead once the run has crossed midnight in Shanghai.
    ahead = admit_over_api(api, admitted_at=_from_now(clock, days=2))
    _refused(ahead, "TIME_IN_FUTURE", "admitted_at")
    old = admit_over_api(api, admitted_at=iso_at(-31))
    _refused(old, "TIME_TOO_FAR_BACK", "admitted_at")
    assert _count(db, "encounter") == 0
    # late registration, 29 days before now: 29 days before TODAY at 09:00 is more than 30
    # days back from 09:00 until 16:00 in Shanghai, when TODAY is yesterday
    assert admit_over_api(api, admitted_at=_from_now(clock, days=-29)).status_code == 201


def test_n33_a_discharge_at_9999_or_400_days_ahead_is_not_settled(api: Api, db: Engine) -> None:
    encounter_id = _admitted(api)
    fees = {"lines": [line_body("L1", "XN02BEB001", "18.25")]}
    assert api.post(f"/api/v1/encounters/{encounter_id}/fees", json=fees).status_code == 200
    for when in ("9999-12-31T10:00:00+08:00", (local(400)).isoformat()):
        response = settle_over_api(api, encounter_id, discharged_at=when)
        _refused(response, "TIME_IN_FUTURE", "discharged_at")
    before = settle_over_api(api, encounter_id, discharged_at=iso_at(-6))
    assert before.status_code in (400, 422)  # settle's own check (400) comes first
    assert before.json()["errors"][0]["field"] == "discharged_at"
    assert _count(db, "settlement") == 0
    assert settle_over_api(api, encounter_id).status_code == 201


def test_n33_a_fee_outside_the_stay_is_refused_naming_the_line(
    api: Api, db: Engine, clock: MovableClock
) -> None:
    encounter_id = _admitted(api)  # admitted five days ago at 09:00
    url = f"/api/v1/encounters/{encounter_id}/fees"
    early = line_body("L1", "XN02BEB001", "18.25", occurred_at=iso_at(-6, 23))
    _refused(api.post(url, json={"lines": [early]}), "FEE_OUTSIDE_STAY", "lines.0.occurred_at")
    # Ahead of the adapter's clock, not "tomorrow 10:00" from TODAY: before 16:00 in
    # Shanghai TODAY is yesterday, and that moment was already past from 10:00 on.
    ahead = line_body("L2", "XN02BEB001", "18.25", occurred_at=_from_now(clock, days=1))
    _refused(api.post(url, json={"lines": [ahead]}), "FEE_OUTSIDE_STAY", "lines.0.occurred_at")
    assert _count(db, "fee_line") == 0
    # the admission day from midnight (HIS fee lines dated by day) up to now are in
    day_only = line_body("L3", "XN02BEB001", "18.25", occurred_at=local(-5, 0).isoformat())
    assert api.post(url, json={"lines": [day_only]}).status_code == 200


def test_every_list_in_a_request_is_bounded(api: Api) -> None:
    parts = admit_over_api(api, injury_parts=["左手"] * (MAX_INJURY_PARTS + 1))
    too_many = _refused(parts, "INVALID_TOO_LONG", "injury_parts")
    assert too_many["message"] == f"injury_parts：条目过多（最多 {MAX_INJURY_PARTS} 条）"
    diagnosis = {"code": "S62.301", "name": "左手第三掌骨骨折"}
    many = admit_over_api(api, diagnoses=[diagnosis] * (MAX_DIAGNOSES + 1))
    _refused(many, "INVALID_TOO_LONG", "diagnoses")
    encounter_id = _admitted(api)
    lines = [line_body(f"L{i}", "XN02BEB001", "18.25") for i in range(MAX_FEE_LINES + 1)]
    fees = api.post(f"/api/v1/encounters/{encounter_id}/fees", json={"lines": lines})
    _refused(fees, "INVALID_TOO_LONG", "lines")
    item = {"item_code": "340200001", "item_name": "运动疗法"}
    plan = {"goals": "恢复肌力", "items": [item] * (MAX_REHAB_ITEMS + 1), "expected_days": 30}
    _refused(
        api.put(f"/api/v1/encounters/{encounter_id}/rehab-plan", json=plan),
        "INVALID_TOO_LONG",
        "items",
    )
    settle = settle_over_api(
        api, encounter_id, discharge_diagnoses=[diagnosis] * (MAX_DIAGNOSES + 1)
    )
    _refused(settle, "INVALID_TOO_LONG", "discharge_diagnoses")
    long_part = admit_over_api(api, visit="ZY9", injury_parts=["左" * 65])
    too_long = _refused(long_part, "INVALID_STRING_TOO_LONG", "injury_parts.0")
    assert too_long["message"] == "injury_parts.0：内容过长（最多 64 个字符）"


def test_n33_a_discharge_before_the_last_recorded_fee_is_not_settled(api: Api, db: Engine) -> None:
    encounter_id = _admitted(api)
    late = line_body("L1", "XN02BEB001", "18.25", occurred_at=iso_at(-1, 10))
    assert api.post(f"/api/v1/encounters/{encounter_id}/fees", json={"lines": [late]}).is_success
    early = settle_over_api(api, encounter_id, discharged_at=iso_at(-2, 10))
    error = _refused(early, "DISCHARGE_BEFORE_FEES", "discharged_at")
    assert "L1" in error["message"]
    assert _count(db, "settlement") == 0
