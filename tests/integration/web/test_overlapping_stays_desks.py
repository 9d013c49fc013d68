"""One worker, one stay at a time (N§33, N§38, B§27), at the desks: the admission desk
registering 王建国 (P001) inside a stay settled for him, and the billing desk settling a stay
whose days run across it, each show the clerk the Chinese reason naming the settled stay and
what to check — a page, not 系统内部错误 — and nothing is admitted or settled."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine

from adapter.web.users import create_user, set_hash_cost
from tests.support.live import RunningSite, running_site
from tests.support.workers import SHANGHAI

PASSWORD = "overlap-desk-password-1"
CARD = "310100A0001"  # 王建国 (P001) in the simulator's demo seed


@pytest.fixture
def site(db_url: str, engine: Engine) -> Iterator[RunningSite]:
    set_hash_cost(2**12)
    try:
        with running_site(db_url, engine, "HIS", ["his", "billing"]) as running:
            create_user(engine, "入院处-01", ["admission"], PASSWORD)
            create_user(engine, "结算处-01", ["billing"], PASSWORD)
            yield running
    finally:
        set_hash_cost(2**17)


def _day(days: int, hour: int) -> datetime:
    today = datetime.now(SHANGHAI).replace(hour=hour, minute=0, second=0, microsecond=0)
    return today + timedelta(days=days)


def _stay(site: RunningSite, visit: str, admitted: datetime, fee_at: datetime) -> str:
    body = {
        "card": {"kind": "physical", "card_no": CARD}, "his_visit_id": visit,
        "kind": "medical", "admitted_at": admitted.isoformat(), "department": "骨科",
        "diagnoses": [{"code": "S62.301", "name": "左手第三掌骨骨折"}], "injury_parts": ["左手"],
    }  # fmt: skip
    admitted_reply = httpx.post(f"{site.base}/api/v1/encounters", json=body, headers=site.headers)
    assert admitted_reply.status_code == 201, admitted_reply.text
    eid = str(admitted_reply.json()["id"])
    line = {"his_line_id": "L1", "item_code": "XN02BEB001", "item_name": "布洛芬缓释胶囊",
            "category": "drug", "quantity": "1", "unit_price": "36.50", "amount": "36.50",
            "occurred_at": fee_at.isoformat()}  # fmt: skip
    fees = httpx.post(
        f"{site.base}/api/v1/encounters/{eid}/fees", json={"lines": [line]}, headers=site.headers
    )
    assert fees.status_code == 200, fees.text
    return eid


def _settled(site: RunningSite) -> str:
    """王建国 in hospital from five days ago to yesterday (ZY-FIRST), settled."""
    eid = _stay(site, "ZY-FIRST", _day(-5, 9), _day(-4, 10))
    settled = httpx.post(
        f"{site.base}/api/v1/encounters/{eid}/settle",
        json={"discharged_at": _day(-1, 9).isoformat()},
        headers=site.headers,
        timeout=30,
    )
    assert settled.status_code == 201, settled.text
    return eid


def _signed_in(site: RunningSite, name: str) -> tuple[httpx.Client, str]:
    browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    client = httpx.Client(base_url=site.base, headers=browser, timeout=30)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/web/login").text)
    assert token
    data = {"name": name, "password": PASSWORD, "csrf_token": token[1]}
    assert client.post("/web/login", data=data, follow_redirects=False).status_code == 303
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/web/").text)
    assert csrf
    return client, csrf[1]


def _error(page: httpx.Response) -> str:
    assert page.status_code < 500 and "text/html" in page.headers["content-type"]
    shown = re.search(r'data-testid="error">([^<]+)<', page.text)
    assert shown, page.text[:800]
    return html.unescape(shown[1])


def _statuses(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT his_visit_id, status FROM encounter ORDER BY his_visit_id"
        ).all()
    return [(str(visit), str(status)) for visit, status in rows]


def test_STAY_OVERLAPS_the_admission_desk_shows_the_settled_stay_it_falls_inside(
    site: RunningSite, engine: Engine
) -> None:
    first = _settled(site)
    client, csrf = _signed_in(site, "入院处-01")
    with closing(client):
        form = {
            "csrf_token": csrf, "card": CARD, "card_kind": "auto", "kind": "medical",
            "his_visit_id": "ZY-AGAIN", "department": "骨科",
            "admitted_at": _day(-3, 9).strftime("%Y-%m-%dT%H:%M"),
            "diagnosis_lines": "S62.301 左手第三掌骨骨折", "injury_parts": "左手",
        }  # fmt: skip
        error = _error(client.post("/web/admission/admit", data=form))
    assert first in error and "HIS住院号ZY-FIRST" in error and "已结算" in error
    assert "与本次住院时间重叠" in error and "请核对入院、出院时间" in error
    assert _statuses(engine) == [("ZY-FIRST", "settled")]


def test_STAY_OVERLAPS_the_billing_desk_shows_the_settled_stay_a_discharge_runs_across(
    site: RunningSite, engine: Engine
) -> None:
    first = _settled(site)
    early = _stay(site, "ZY-EARLY", _day(-7, 9), _day(-6, 10))  # back-dated before it
    client, csrf = _signed_in(site, "结算处-01")
    with closing(client):
        form = {"csrf_token": csrf, "discharged_at": _day(0, 0).strftime("%Y-%m-%dT%H:%M")}
        error = _error(client.post(f"/web/billing/{early}/settle", data=form))
    assert first in error and "HIS住院号ZY-FIRST" in error and "请核对入院、出院时间" in error
    assert _statuses(engine) == [("ZY-EARLY", "admitted"), ("ZY-FIRST", "settled")]
