"""The billing desk's discharge time starts at the discharge the HIS noted (A03), not at the
moment the page is opened: a clerk settling in the morning a worker the HIS discharged the
evening before settles by the evening's time unless they type another (the stay's days, its
bed days and the discharge record all follow it)."""

from __future__ import annotations

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

PASSWORD = "discharge-desk-password-1"


@pytest.fixture
def site(db_url: str, engine: Engine) -> Iterator[RunningSite]:
    set_hash_cost(2**12)
    try:
        with running_site(db_url, engine, "HIS", ["his", "billing"]) as running:
            create_user(engine, "结算处-02", ["billing"], PASSWORD)
            yield running
    finally:
        set_hash_cost(2**17)


def _admitted(site: RunningSite, admitted: datetime) -> str:
    body = {
        "card": {"kind": "physical", "card_no": "310100A0001"}, "his_visit_id": "ZY-EVENING",
        "kind": "medical", "admitted_at": admitted.isoformat(), "department": "骨科",
        "diagnoses": [{"code": "S62.301", "name": "左手第三掌骨骨折"}], "injury_parts": ["左手"],
    }  # fmt: skip
    reply = httpx.post(f"{site.base}/api/v1/encounters", json=body, headers=site.headers)
    assert reply.status_code == 201, reply.text
    return str(reply.json()["id"])


def _discharge_field(site: RunningSite, encounter_id: str) -> str:
    browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    with closing(httpx.Client(base_url=site.base, headers=browser, timeout=30)) as client:
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/web/login").text)
        assert token
        data = {"name": "结算处-02", "password": PASSWORD, "csrf_token": token[1]}
        assert client.post("/web/login", data=data, follow_redirects=False).status_code == 303
        page = client.get(f"/web/billing/{encounter_id}").text
    field = re.search(
        r'出院时间 <input type="datetime-local" name="discharged_at" value="([^"]*)"', page
    )
    assert field, page[:800]
    return field[1]


def test_the_billing_desk_offers_the_discharge_the_his_noted(site: RunningSite) -> None:
    today = datetime.now(SHANGHAI).replace(second=0, microsecond=0)
    admitted = (today - timedelta(days=4)).replace(hour=9, minute=0)
    evening = (today - timedelta(days=1)).replace(hour=19, minute=30)
    encounter_id = _admitted(site, admitted)
    opened = _discharge_field(site, encounter_id)  # no discharge noted: the page's now
    assert opened[:10] == f"{today:%Y-%m-%d}"
    site.runtime.services.stays.mark_ready(encounter_id, discharged_at=evening, actor="HIS")
    assert _discharge_field(site, encounter_id) == f"{evening:%Y-%m-%dT%H:%M}"
