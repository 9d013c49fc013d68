"""The device counter's page over a real socket (N§34, B§35): what the counter's browser
posts, as it posts it."""

from __future__ import annotations

import html
import re

from sqlalchemy import Engine

from adapter.services.container import Services
from adapter.services.monthly import MonthlyServices
from connectors.upstream.simulator import SimulatorServer
from tests.integration.monthly.api import desk_pages
from tests.integration.services.device_world import NAMES, NOTICE, ORTHOSIS, WHEELCHAIR
from tests.integration.services.helpers import CARD_NO
from tests.integration.services.support import jobs


def _section(page: str, testid: str) -> str:
    found = re.search(rf'<section class="card" data-testid="{testid}">(.*?)</section>', page, re.S)
    assert found, page
    return found[1]


def _hidden(form: str) -> dict[str, list[str]]:
    """The form's hidden fields, each name's values in order, as a browser submits them."""
    fields: dict[str, list[str]] = {}
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form):
        fields.setdefault(html.unescape(name), []).append(html.unescape(value))
    return fields


def test_n34_confirming_a_previewed_fitting_twice_settles_it_once(
    services: Services, db: Engine, db_url: str, sim: SimulatorServer
) -> None:
    """The orthosis on the notice and a wheelchair off it: the counter is shown the preview
    (the wheelchair is the worker's) and confirms — the button clicked twice, or the page
    sent again. One fitting, one settlement: before, the second click settled the same
    items again with the worker paying all of them (read as the notice used a second time,
    already confirmed), and a second WI2701 went upstream."""
    monthly = MonthlyServices(services.context)
    with desk_pages(db, db_url, services, monthly, role="device") as desk:
        start = desk.get("/web/device").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', start)
        assert token, start
        fitting = {
            "csrf_token": token[1],
            "card": CARD_NO["P011"],
            "notice": NOTICE,
            "code": [ORTHOSIS, WHEELCHAIR],
            "name": [NAMES[ORTHOSIS], NAMES[WHEELCHAIR]],
            "cost": ["1500.00", "900.00"],
        }
        preview = desk.post("/web/device/fit", data=fitting)
        assert preview.status_code == 200, preview.text
        confirm = _hidden(_section(preview.text, "preview"))
        assert confirm["confirmed"] == ["1"] and jobs(db) == []

        first = desk.post("/web/device/fit", data=confirm)
        again = desk.post("/web/device/fit", data=confirm)
    assert first.status_code == again.status_code == 200, again.text
    slips = [re.search(r"<h2>结算单 (\w+)</h2>", r.text) for r in (first, again)]
    assert slips[0] and slips[1], again.text
    assert slips[0][1] == slips[1][1]  # the first fitting's slip, shown again
    assert "该配置已结算，显示原结算结果" in again.text
    assert len(jobs(db, kind="WI2701")) == 1
