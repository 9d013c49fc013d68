"""Presettle over REST tells the billing clerk what settle would refuse (``blocking``), with
the same code, message, article and field as settle's 422, and writes nothing."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import Engine, inspect

from tests.integration.api.bodies import iso_at, line_body, settle_over_api
from tests.integration.api.conftest import Api
from tests.integration.api.test_edges import _admitted

BED = "110900001A"  # 普通病房床位费（三人间）, standard 50.00/日


def _rows(db: Engine) -> dict[str, int]:
    """How many rows every table holds."""
    with db.connect() as connection:
        return {
            name: int(connection.exec_driver_sql(f'SELECT count(*) FROM "{name}"').scalar_one())
            for name in inspect(connection).get_table_names()
        }


def _presettle(api: Api, encounter_id: str, **body: Any) -> dict[str, Any]:
    answer = api.post(f"/api/v1/encounters/{encounter_id}/presettle", role="billing", json=body)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _fees(api: Api, encounter_id: str, *lines: dict[str, Any]) -> None:
    url = f"/api/v1/encounters/{encounter_id}/fees"
    assert api.post(url, role="his", json={"lines": list(lines)}).status_code == 200


def _same_refusal(settled: httpx.Response, blocking: dict[str, Any], status: int = 422) -> None:
    """Settle's refusal says what presettle listed, word for word."""
    assert settled.status_code == status, settled.text
    assert blocking in settled.json()["errors"]


def test_FEE_DAYS_OVER_STAY_presettle_of_a_3_day_stay_billed_5_bed_days_lists_it(
    api: Api, db: Engine
) -> None:
    """Admitted at 09:00 five days back, discharged at noon three days back: three days, billed
    five bed days. Presettle names the lines and the days, nothing is written, and settle
    refuses with the same words; once the HIS reverses two days, both say it settles."""
    encounter_id = _admitted(api)
    _fees(
        api,
        encounter_id,
        line_body("B1", BED, "150.00", "3", category="service"),
        line_body("B2", BED, "100.00", "2", category="service"),
    )
    discharged_at = iso_at(-3, 12)
    before = _rows(db)
    preview = _presettle(api, encounter_id, discharged_at=discharged_at)
    assert _rows(db) == before
    assert preview["can_settle"] is False and preview["total"] == "250.00"
    [blocking] = preview["blocking"]
    assert blocking["code"] == "FEE_DAYS_OVER_STAY" and blocking["field"] == "discharged_at"
    assert blocking["article"] == "N§32, N§37, B§30"
    assert "费用明细B1、B2的" in blocking["message"]
    assert "共计5日，超过本次住院的3天" in blocking["message"]
    _same_refusal(settle_over_api(api, encounter_id, discharged_at=discharged_at), blocking)

    back = line_body("R2", BED, "-100.00", "-2", category="service", reverses="B2")
    _fees(api, encounter_id, back)
    again = _presettle(api, encounter_id, discharged_at=discharged_at)
    assert again["blocking"] == [] and again["can_settle"] is True
    settled = settle_over_api(api, encounter_id, discharged_at=discharged_at)
    assert settled.status_code == 201, settled.text
    assert settled.json()["total"] == again["total"] == "150.00"


def test_presettle_of_a_clean_stay_lists_nothing_blocking(api: Api, db: Engine) -> None:
    encounter_id = _admitted(api)
    _fees(api, encounter_id, line_body("L1", "XN02BEB001", "36.50", "2"))
    before = _rows(db)
    preview = _presettle(api, encounter_id, discharged_at=iso_at(0, 0))
    assert _rows(db) == before
    assert preview["blocking"] == [] and preview["can_settle"] is True
    assert preview["total"] == "36.50"


def test_DISCHARGE_BEFORE_FEES_presettle_lists_a_fee_after_the_discharge_given(
    api: Api, db: Engine
) -> None:
    """A fee at 10:00 four days back; presettled with a discharge at noon five days back, after
    the admission but before the fee: listed naming the line, as settle refuses it."""
    encounter_id = _admitted(api)
    _fees(api, encounter_id, line_body("L1", "XN02BEB001", "18.25"))
    early = iso_at(-5, 12)
    before = _rows(db)
    preview = _presettle(api, encounter_id, discharged_at=early)
    assert _rows(db) == before
    [blocking] = preview["blocking"]
    assert blocking["code"] == "DISCHARGE_BEFORE_FEES" and blocking["field"] == "discharged_at"
    assert "费用明细L1" in blocking["message"] and preview["can_settle"] is False
    _same_refusal(settle_over_api(api, encounter_id, discharged_at=early), blocking)
    assert _presettle(api, encounter_id)["blocking"] == []  # discharged now: it settles


def test_presettle_lists_every_refusal_of_the_bill_not_only_the_first(api: Api) -> None:
    """An unmapped item and a bed day too many: settle refuses the first (the unmapped
    item); presettle lists both, in settle's order, so the clerk fixes both at once."""
    encounter_id = _admitted(api)
    _fees(
        api,
        encounter_id,
        line_body("X1", "HIS-OWN-77", "42.00"),
        line_body("B1", BED, "350.00", "7", category="service"),
    )
    preview = _presettle(api, encounter_id, discharged_at=iso_at(0, 0))
    codes = [b["code"] for b in preview["blocking"]]
    assert codes == ["FEES_UNMAPPED", "FEE_DAYS_OVER_STAY"]
    assert preview["unmapped"] == ["X1"] and "X1" in preview["blocking"][0]["message"]
    _same_refusal(settle_over_api(api, encounter_id), preview["blocking"][0])


def test_presettle_lists_a_discharge_time_settle_refuses_and_no_bill_before_the_admission(
    api: Api, db: Engine
) -> None:
    """A discharge typed before the admission: settle's refusal, and no bed-day count of a
    stay without days; one a day ahead of the clock: settle's refusal, beside the bill's."""
    encounter_id = _admitted(api)
    _fees(api, encounter_id, line_body("B1", BED, "50.00", category="service"))
    before_admission = iso_at(-6, 12)
    preview = _presettle(api, encounter_id, discharged_at=before_admission)
    [blocking] = preview["blocking"]
    assert (blocking["message"], blocking["field"]) == ("出院时间不能早于入院时间", "discharged_at")
    settled = settle_over_api(api, encounter_id, discharged_at=before_admission)
    _same_refusal(settled, blocking, status=400)  # as settle answers an unreadable time

    ahead = iso_at(2, 12)
    preview = _presettle(api, encounter_id, discharged_at=ahead)
    assert [b["code"] for b in preview["blocking"]] == ["TIME_IN_FUTURE"]
    _same_refusal(settle_over_api(api, encounter_id, discharged_at=ahead), preview["blocking"][0])
