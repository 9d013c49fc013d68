"""Bed days beyond the stay's own days over REST (N§32, N§37, B§30)."""

from __future__ import annotations

from tests.integration.api.bodies import line_body, settle_over_api
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
