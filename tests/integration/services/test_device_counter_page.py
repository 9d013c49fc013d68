"""The device counter's page over a real socket (N§34, B§35): what the counter's browser
posts, as it posts it."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from adapter.services.container import Services
from adapter.services.monthly import MonthlyServices
from adapter.store.tables.workflow import manual_claim
from connectors.upstream.simulator import SimulatorServer
from tests.integration.monthly.api import desk_pages
from tests.integration.services.device_world import NAMES, NOTICE, ORTHOSIS, WHEELCHAIR
from tests.integration.services.helpers import CARD_NO, local
from tests.integration.services.support import jobs

# Upstream goes down here: each refused read waits out the client's short budget.
pytestmark = pytest.mark.upstream_outage


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


def _csrf(desk: httpx.Client) -> str:
    """The desk page's CSRF token, as a form posted from it carries."""
    start = desk.get("/web/device").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', start)
    assert token, start
    return token[1]


def _orthosis(token: str) -> dict[str, Any]:
    """P011's orthosis under the notice, as the counter types it."""
    return {
        "csrf_token": token,
        "card": CARD_NO["P011"],
        "notice": NOTICE,
        "code": [ORTHOSIS],
        "name": [NAMES[ORTHOSIS]],
        "cost": ["1500.00"],
    }


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
        token = _csrf(desk)
        fitting = {
            "csrf_token": token,
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


def _fields(form: str) -> dict[str, list[str]]:
    """Every input of the form with its value as shown (empty when it has none), in order."""
    fields: dict[str, list[str]] = {}
    for tag in re.findall(r"<input\b[^>]*>", form):
        name = re.search(r'\bname="([^"]+)"', tag)
        if name is None:
            continue
        value = re.search(r'\bvalue="([^"]*)"', tag)
        fields.setdefault(name[1], []).append(html.unescape(value[1]) if value else "")
    return fields


def test_n38_b27_recording_a_fitting_as_a_manual_claim_twice_records_one_case(
    services: Services, db: Engine, db_url: str, sim: SimulatorServer
) -> None:
    """Upstream down at the counter: the fitting is offered as a manual-claim case and the
    counter records it — the button clicked twice. One case, one fee list for the insured
    place: before, each click made its own case of the same orthosis under the same notice,
    two fee lists the insured place could reimburse (N§38 杜绝重复报销, B§27)."""
    monthly = MonthlyServices(services.context)
    with desk_pages(db, db_url, services, monthly, role="device") as desk:
        token = _csrf(desk)
        assert httpx.post(f"{sim.url}/_sim/faults", json={"outage": True}).status_code == 200
        try:
            down = desk.post(
                "/web/device/fit",
                data=_orthosis(token),
            )
            assert "按手工报销登记本次配置" in down.text, down.text
            record = _fields(_section(down.text, "manual-claim-device"))
            assert record["cost"][0] == "1500.00"
            first = desk.post("/web/device/manual-claim", data=record)
            again = desk.post("/web/device/manual-claim", data=record)
        finally:
            httpx.post(f"{sim.url}/_sim/faults", json={})
    cases = [re.search(r"手工报销记录 (\S+)　登记于", r.text) for r in (first, again)]
    assert cases[0] and cases[1], again.text
    assert cases[0][1] == cases[1][1]
    with db.connect() as connection:
        assert len(connection.execute(select(manual_claim.c.id)).all()) == 1


def test_FITTING_TOO_OLD_a_preview_confirmed_days_later_is_refused_on_the_page(
    services: Services, db: Engine, db_url: str, sim: SimulatorServer
) -> None:
    """The preview page left open and confirmed a month later: the fitting time it carries
    is past ``[devices]`` ``max_fitting_age_days``; the page says so, nothing is settled."""
    monthly = MonthlyServices(services.context)
    month_ago = datetime.now(UTC) - timedelta(days=31, hours=1)
    with desk_pages(db, db_url, services, monthly, role="device") as desk:
        token = _csrf(desk)
        old = desk.post(
            "/web/device/fit",
            data={**_orthosis(token), "confirmed": "1", "fitted_at": month_ago.isoformat()},
        )
    assert old.status_code == 422, old.text
    assert "配置时间" in old.text and "30天前" in old.text and "N§34、B§35" in old.text
    assert jobs(db) == []


def test_PR_DEVICE_NOTICE_USED_a_second_case_on_the_page_is_shown_then_confirmed_as_the_workers(
    services: Services, db: Engine, db_url: str, sim: SimulatorServer
) -> None:
    """Upstream down twice: the orthosis recorded as a case at 09:00 and again at 11:00. The
    second time the page shows the first case and asks; confirmed, the list claims nothing
    and says the worker pays (N§34, N§38 杜绝重复报销)."""
    monthly = MonthlyServices(services.context)
    with desk_pages(db, db_url, services, monthly, role="device") as desk:
        token = _csrf(desk)
        assert httpx.post(f"{sim.url}/_sim/faults", json={"outage": True}).status_code == 200
        try:
            form = _orthosis(token)
            first = desk.post(
                "/web/device/manual-claim", data={**form, "fitted_at": local(0, 9).isoformat()}
            )
            case = re.search(r"手工报销记录 (\S+)　登记于", first.text)
            assert case, first.text
            asked = desk.post(
                "/web/device/manual-claim", data={**form, "fitted_at": local(0, 11).isoformat()}
            )
            assert asked.status_code == 200, asked.text
            warning = _section(asked.text, "manual-claim-device")
            assert 'data-code="PR_DEVICE_NOTICE_USED"' in warning and case[1] in warning
            assert "确认登记" in warning
            confirmed = desk.post("/web/device/manual-claim", data=_fields(warning))
        finally:
            httpx.post(f"{sim.url}/_sim/faults", json={})
    second = re.search(r"手工报销记录 (\S+)　登记于", confirmed.text)
    assert second and second[1] != case[1], confirmed.text
    assert re.search(r'data-testid="case-personal">1500.00<', confirmed.text), confirmed.text
    assert re.search(r'data-testid="case-total">0.00<', confirmed.text)
    assert "个人支付，不申请报销" in confirmed.text
    with db.connect() as connection:
        assert len(connection.execute(select(manual_claim.c.id)).all()) == 2


def test_DEVICE_CODE_CASE_a_code_typed_in_another_case_is_refused_on_the_page(
    services: Services, db: Engine, db_url: str, sim: SimulatorServer
) -> None:
    """The orthosis's code typed ``sh-fz-0305`` at the counter: before, the preview priced it
    as off the notice and the worker paid all. The page names the line and the catalogue's
    code to enter; nothing is settled."""
    monthly = MonthlyServices(services.context)
    with desk_pages(db, db_url, services, monthly, role="device") as desk:
        token = _csrf(desk)
        typed = desk.post("/web/device/fit", data={**_orthosis(token), "code": [ORTHOSIS.lower()]})
    assert typed.status_code == 422, typed.text
    error = re.search(r'data-testid="error">([^<]*)<', typed.text)
    assert error, typed.text
    assert ORTHOSIS.lower() in error[1] and f"请按目录编码“{ORTHOSIS}”录入" in error[1]
    assert jobs(db) == []
