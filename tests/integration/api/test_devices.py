"""The device counter over REST (N§32, N§34, B§34, B§35, 附表2): what the HIS or a counter
client sees — one limit per item, an item off the notice warned and priced to the worker, a
replacement inside the minimum years warned and confirmed, a missing catalogue fetched or
refused — against the simulator over real HTTP."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
from sqlalchemy import Engine

from adapter import web
from adapter.api.app import create_app
from adapter.domain.catalogue import CatalogueKind
from adapter.services.container import Services
from adapter.settings import load_settings
from connectors.upstream.simulator import SimulatorServer
from tests.integration.api.conftest import Api
from tests.integration.services.device_world import (
    ARM,
    NOTICE,
    ORTHOSIS,
    WHEELCHAIR,
    device_worker,
    filed_item,
)
from tests.integration.services.helpers import TODAY
from tests.integration.services.support import jobs
from tests.support.devices import fitting
from tests.support.live import serving

FITTINGS = "/api/v1/device-fittings"


def test_n34_b35_rest_lines_of_one_device_share_one_limit_shown_once(api: Api) -> None:
    body = fitting((ARM, "20000.00"), (ARM, "15000.00"))
    fitted = api.post(FITTINGS, role="device", json=body)
    assert fitted.status_code == 201, fitted.text
    f = fitted.json()
    assert [(line["fund_pay"], line["personal_pay"]) for line in f["lines"]] == [
        ("20000.00", "0.00"),
        ("8000.00", "7000.00"),
    ]
    assert (f["fund_pay"], f["breakdown"]["over_limit"]) == ("28000.00", "7000.00")
    [arm] = f["devices"]
    assert (arm["device_code"], arm["lines"], arm["amount"], arm["limit"]) == (
        ARM,
        2,
        "35000.00",
        "28000.00",
    )


def test_n34_b34_rest_an_item_off_the_notice_is_warned_before_and_the_rest_is_settled(
    api: Api, db: Engine
) -> None:
    body = fitting((ORTHOSIS, "1500.00"), (WHEELCHAIR, "900.00"))
    checked = api.post(
        "/api/v1/eligibility",
        role="device",
        json={"card": body["card"], "kind": "device", "on": TODAY.isoformat(),
              "approval_notice_no": NOTICE, "device_codes": [ORTHOSIS, WHEELCHAIR]},
    )  # fmt: skip
    assert checked.status_code == 200 and checked.json()["eligible"] is True
    assert [w["code"] for w in checked.json()["warnings"]] == ["EL_DEVICES_ON_NOTICE"]

    preview = api.post(f"{FITTINGS}/presettle", role="device", json=body)
    assert preview.status_code == 200, preview.text
    p = preview.json()
    assert [(w["code"], w["field"], w["article"]) for w in p["warnings"]] == [
        ("PR_DEVICE_NOT_ON_NOTICE", WHEELCHAIR, "N§34, B§34")
    ]
    assert p["needs_confirmation"] == [] and p["fund_pay"] == "1500.00"
    assert jobs(db) == []

    fitted = api.post(FITTINGS, role="device", json=body)
    assert fitted.status_code == 201, fitted.text
    f = fitted.json()
    assert (f["fund_pay"], f["out_of_catalogue"]) == ("1500.00", "900.00")
    assert [w["code"] for w in f["warnings"]] == ["PR_DEVICE_NOT_ON_NOTICE"]
    off = next(line for line in f["lines"] if line["item_code"] == WHEELCHAIR)
    assert off["personal_reason"] == "out_of_catalogue"
    assert off["rule"]["message"].startswith("未列入核付通知单")


def test_n34_fujian2_rest_a_replacement_is_confirmed_before_the_worker_pays_it(
    api: Api, db: Engine
) -> None:
    assert api.post(FITTINGS, role="device", json=fitting((ORTHOSIS, "1500.00"))).status_code == 201
    again = fitting((ORTHOSIS, "1600.00"), hour=15)
    preview = api.post(f"{FITTINGS}/presettle", role="device", json=again).json()
    [pending] = preview["needs_confirmation"]
    assert pending["code"] == "PR_DEVICE_MIN_YEARS" and TODAY.isoformat() in pending["message"]

    refused = api.post(FITTINGS, role="device", json=again)
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert refused.headers["content-type"].startswith("application/problem+json")
    [error] = problem["errors"]
    assert (error["code"], error["field"], error["article"]) == (
        "PR_DEVICE_MIN_YEARS",
        ORTHOSIS,
        "N§34, 附表2",
    )
    assert "最低使用年限内更换" in error["message"] and "示例工伤协议医院" in error["message"]
    assert len(jobs(db)) == 1  # nothing settled silently

    confirmed = api.post(FITTINGS, role="device", json={**again, "replacement_confirmed": True})
    assert confirmed.status_code == 201, confirmed.text
    c = confirmed.json()
    assert (c["fund_pay"], c["personal_pay"], c["out_of_catalogue"]) == (
        "0.00",
        "1600.00",
        "1600.00",
    )


def test_n32_rest_a_missing_catalogue_falls_back_or_is_refused_naming_it(
    api: Api, sim: SimulatorServer, db: Engine
) -> None:
    district = device_worker(sim.url, "P071", insured="310104")
    fitted = api.post(FITTINGS, role="device", json=fitting((ARM, "30000.00"), card_no=district))
    assert fitted.status_code == 201, fitted.text
    assert fitted.json()["fund_pay"] == "28000.00"  # 上海市's catalogue, not 0.00

    nowhere = device_worker(sim.url, "P072", insured="370102")
    refused = api.post(FITTINGS, role="device", json=fitting((ARM, "300.00"), card_no=nowhere))
    assert refused.status_code == 422, refused.text
    [error] = refused.json()["errors"]
    assert error["code"] == "PR_DEVICE_CATALOGUE_MISSING" and error["article"] == "N§32, N§34"
    assert "370102、370100、370000" in error["message"]
    assert len(jobs(db)) == 1


def test_n34_b35_rest_a_reprinted_fitting_shows_the_limit_it_was_priced_against(
    api: Api, sim: SimulatorServer, services: Services, db: Engine, db_url: str
) -> None:
    """Priced within the filing's 1500 (sent without decimals, below the catalogue's
    1,800.00); the catalogue then lowers the item to 1,000.00. The fitting sent again (its
    settlement, 200) and the slip printed again both say 1,500.00."""
    card_no = device_worker(
        sim.url,
        "P082",
        devices=[filed_item(ORTHOSIS, "1500")],
    )
    body = fitting((ORTHOSIS, "1400.00"), card_no=card_no)
    fitted = api.post(FITTINGS, role="device", json=body)
    assert fitted.status_code == 201, fitted.text
    assert [d["limit"] for d in fitted.json()["devices"]] == ["1500.00"]
    with services.context.uow() as uow:
        item = uow.catalogue.device_catalogue("310100").lookup(
            CatalogueKind.DEVICE, "310100", ORTHOSIS, TODAY
        )
        assert item is not None
        uow.catalogue.load([replace(item, limit=Decimal("1000.00"))])
        uow.commit()

    again = api.post(FITTINGS, role="device", json=body)
    assert again.status_code == 200, again.text
    [device] = again.json()["devices"]
    assert (device["limit"], device["fund_pay"], device["personal_pay"]) == (
        "1500.00",
        "1400.00",
        "0.00",
    )
    # the printable slip (HTML), as the desks and a client printing it get it
    app = create_app(load_settings(database={"url": db_url}), db)
    app.state.services = services
    web.install(app)
    with serving(app) as base:
        slip = httpx.get(
            f"{base}/api/v1/settlements/{fitted.json()['id']}/slip?format=html",
            headers={"Authorization": f"Bearer {api.tokens['device']}"},
            timeout=30,
        )
    assert slip.status_code == 200, slip.text
    assert re.findall(r'data-testid="device-limit">([^<]*)<', slip.text) == ["1500.00"]


def test_FITTING_IN_FUTURE_n34_rest_a_fitting_dated_ahead_of_the_clock_is_refused(
    api: Api, db: Engine
) -> None:
    """A fitting is settled once it is done (N§34, B§35 配置完成后): one dated two days ahead
    — a mistyped day — would be priced against whatever catalogue version is in force then
    and start its minimum years then. Refused naming the field, nothing settled or queued,
    at the counter's price check as at the fitting."""
    for path in (f"{FITTINGS}/presettle", FITTINGS):
        body = fitting((ORTHOSIS, "1500.00"), fitted_at=datetime.now(UTC) + timedelta(days=2))
        ahead = api.post(path, role="device", json=body)
        assert ahead.status_code == 422, ahead.text
        [error] = ahead.json()["errors"]
        assert (error["code"], error["field"], error["article"]) == (
            "FITTING_IN_FUTURE",
            "fitted_at",
            "N§34",
        )
        assert "配置时间" in error["message"]
    assert jobs(db) == []
    assert api.post(FITTINGS, role="device", json=fitting((ORTHOSIS, "1500.00"))).status_code == 201


def test_FITTING_TOO_OLD_n34_b35_rest_a_fitting_dated_past_the_window_is_refused(
    api: Api, db: Engine
) -> None:
    """``[devices]`` ``max_fitting_age_days`` (30): a fitting typed 31 days back would settle
    today at that day's catalogue and start its minimum years then. Refused naming the
    field, at the price check as at the fitting; nothing settled or queued."""
    month_ago = datetime.now(UTC) - timedelta(days=31, hours=1)
    for path in (f"{FITTINGS}/presettle", FITTINGS):
        body = fitting((ORTHOSIS, "1500.00"), fitted_at=month_ago)
        old = api.post(path, role="device", json=body)
        assert old.status_code == 422, old.text
        assert old.headers["content-type"].startswith("application/problem+json")
        [error] = old.json()["errors"]
        assert (error["code"], error["field"], error["article"]) == (
            "FITTING_TOO_OLD",
            "fitted_at",
            "N§34, B§35",
        )
        assert "配置时间" in error["message"] and "30天前" in error["message"]
    assert jobs(db) == []


def test_DEVICE_CODE_CASE_n32_n34_b35_rest_a_code_in_another_case_is_refused_not_the_workers(
    api: Api, db: Engine
) -> None:
    """``sh-fz-0101`` where the catalogue and the notice say ``SH-FZ-0101``: before, priced as
    off the notice and the worker paid all 27,000.00 the fund pays. Refused at the price check
    and at the fitting, naming the line, the code sent and the catalogue's; nothing settled."""
    body = fitting((ORTHOSIS, "1500.00"), (ARM.lower(), "27000.00"))
    for path in (f"{FITTINGS}/presettle", FITTINGS):
        refused = api.post(path, role="device", json=body)
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        [error] = refused.json()["errors"]
        assert (error["code"], error["field"], error["article"]) == (
            "DEVICE_CODE_CASE",
            "items.1.device_code",
            "N§32, N§34, B§35",
        )
        assert ARM.lower() in error["message"] and f"请按目录编码“{ARM}”录入" in error["message"]
    assert jobs(db) == []

    fitted = api.post(FITTINGS, role="device", json=fitting((ARM, "27000.00")))
    assert fitted.status_code == 201, fitted.text
    assert (fitted.json()["fund_pay"], fitted.json()["personal_pay"]) == ("27000.00", "0.00")


def test_DEVICE_CODE_CASE_rest_a_code_the_catalogue_has_exactly_keeps_its_own_row(
    api: Api, services: Services
) -> None:
    """The insured place's catalogue lists ``sh-fz-0101`` of its own beside ``SH-FZ-0101``: the
    code sent is that row, priced as before (off the notice: the worker's, warned)."""
    with services.context.uow() as uow:
        item = uow.catalogue.device_catalogue("310100").lookup(
            CatalogueKind.DEVICE, "310100", ARM, TODAY
        )
        assert item is not None
        uow.catalogue.load([replace(item, code=ARM.lower(), name="另一器具")])
        uow.commit()
    fitted = api.post(FITTINGS, role="device", json=fitting((ARM.lower(), "300.00")))
    assert fitted.status_code == 201, fitted.text
    f = fitted.json()
    assert (f["fund_pay"], f["personal_pay"]) == ("0.00", "300.00")
    assert [w["code"] for w in f["warnings"]] == ["PR_DEVICE_NOT_ON_NOTICE"]


def test_DEVICE_CODE_CASE_rest_a_settled_fitting_entered_again_in_another_case_is_refused(
    api: Api, db: Engine
) -> None:
    """The arm settled, then the same fitting sent again typed ``sh-fz-0101`` (another key, so
    not its settlement again): before, settled a second time with the worker paying all and a
    second WI2701 queued. Refused; the one settlement stands."""
    assert api.post(FITTINGS, role="device", json=fitting((ARM, "27000.00"))).status_code == 201
    again = api.post(FITTINGS, role="device", json=fitting((ARM.lower(), "27000.00")))
    assert again.status_code == 422, again.text
    assert again.json()["errors"][0]["code"] == "DEVICE_CODE_CASE"
    assert [j["kind"] for j in jobs(db)] == ["WI2701"]
