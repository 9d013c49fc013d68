"""Bed days beyond the stay's own days, or billed again on a day a readmission shares with
a settled stay, over REST (N§32, N§33, N§37, B§30)."""

from __future__ import annotations

from tests.integration.api.bodies import admit_over_api, iso_at, line_body, settle_over_api
from tests.integration.api.conftest import Api
from tests.integration.api.test_edges import _admitted, _refused

BED = "110900001A"  # 普通病房床位费（三人间）, standard 50.00/日


def test_FEE_DAYS_OVER_STAY_rest_a_bed_line_posted_twice_is_422_naming_the_lines(
    api: Api,
) -> None:
    """Admitted five days back, discharged today at 00:00: six days. The HIS posts the stay's
    six bed days, then the same six again under new line ids: the fund paid 600.00; now the
    settlement is 422 naming both lines, and settles at 300.00 once one is reversed."""
    encounter_id = _admitted(api)
    url = f"/api/v1/encounters/{encounter_id}/fees"
    beds = [line_body(line_id, BED, "300.00", "6", category="service") for line_id in ("B1", "B2")]
    assert api.post(url, role="his", json={"lines": beds}).status_code == 200
    error = _refused(settle_over_api(api, encounter_id), "FEE_DAYS_OVER_STAY", "discharged_at")
    assert (
        "费用明细B1、B2的" in error["message"] and "共计12日，超过本次住院的6天" in error["message"]
    )
    assert error["article"] == "N§32, N§37, B§30"

    back = line_body("R2", BED, "-300.00", "-6", category="service", reverses="B2")
    assert api.post(url, role="his", json={"lines": [back]}).status_code == 200
    settled = settle_over_api(api, encounter_id)
    assert settled.status_code == 201, settled.text
    assert (settled.json()["total"], settled.json()["fund_pay"]) == ("300.00", "300.00")


def test_FEE_DAYS_SHARED_WITH_STAY_rest_a_readmission_billing_the_discharge_day_is_422(
    api: Api,
) -> None:
    """ZY1 in hospital from five days ago to two days ago at 10:00, a bed every day of its
    four (its discharge day too), settled; ZY2 readmitted that afternoon bills that day's bed
    (dated by day, as HIS send it) and the next two: 422 naming ZY1 and the day, the fund
    paid once it is reversed."""
    first = str(admit_over_api(api, visit="ZY1").json()["id"])
    beds = [_bed(f"A{-n}", iso_at(n, 10)) for n in range(-5, -1)]
    _post(api, first, beds)
    assert settle_over_api(api, first, discharged_at=iso_at(-2, 10)).status_code == 201
    readmitted = admit_over_api(api, visit="ZY2", admitted_at=iso_at(-2, 14))
    second = str(readmitted.json()["id"])
    beds = [_bed("B2", iso_at(-2, 0)), _bed("B1", iso_at(-1, 0)), _bed("B0", iso_at(0, 0))]
    _post(api, second, beds)

    preview = api.post(
        f"/api/v1/encounters/{second}/presettle", json={"discharged_at": iso_at(0, 10)}
    )
    assert preview.status_code == 200, preview.text
    (blocking,) = preview.json()["blocking"]  # the billing desk sees it before settling
    assert blocking["code"] == "FEE_DAYS_SHARED_WITH_STAY" and not preview.json()["can_settle"]
    refused = settle_over_api(api, second, discharged_at=iso_at(0, 10))
    error = _refused(refused, "FEE_DAYS_SHARED_WITH_STAY", "discharged_at")
    assert blocking["message"] == error["message"]
    shared = iso_at(-2)[:10]
    assert f"就诊编号{first}，HIS住院号ZY1，" in error["message"]
    assert f"也有{shared}这一天，该次住院4天计4日" in error["message"]
    assert f"请冲销本次住院{shared}的" in error["message"]
    assert api.get(f"/api/v1/encounters/{second}").json()["status"] == "admitted"

    back = _bed("R2", iso_at(0, 9)) | {"quantity": "-1", "amount": "-50.00", "reverses": "B2"}
    _post(api, second, [back])
    settled = settle_over_api(api, second, discharged_at=iso_at(0, 10))
    assert settled.status_code == 201, settled.text
    body = settled.json()
    assert (body["total"], body["fund_pay"], body["personal_pay"]) == ("100.00", "100.00", "0.00")


def _bed(line_id: str, occurred_at: str) -> dict[str, str]:
    return line_body(line_id, BED, "50.00", category="service", occurred_at=occurred_at)


def _post(api: Api, encounter_id: str, lines: list[dict[str, str]]) -> None:
    posted = api.post(f"/api/v1/encounters/{encounter_id}/fees", role="his", json={"lines": lines})
    assert posted.status_code == 200, posted.text
