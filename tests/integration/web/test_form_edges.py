"""Numbers at a desk form's edge: a fund receipt of 1e309 yuan, a monitor job id past any row.
Each is the desk's page saying what is wrong — never 系统内部错误 — and nothing is written."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import closing

import httpx
import pytest
from sqlalchemy import Engine

from adapter.bootstrap import build_app
from adapter.settings import load_settings
from adapter.store.migrate import upgrade
from adapter.web.users import create_user, set_hash_cost
from adapter.wiring.runtime import build_runtime
from tests.support.live import serving

PASSWORD = "form-edge-password-1"


@pytest.fixture
def base(engine: Engine, db_url: str) -> Iterator[str]:
    upgrade(engine)
    settings = load_settings(database={"url": db_url})
    runtime = build_runtime(settings, engine=engine, workers=0, hl7=False, scheduled=False)
    set_hash_cost(2**12)
    try:
        create_user(engine, "器具室-01", ["device"], PASSWORD)
        create_user(engine, "信息科-01", ["it"], PASSWORD)
        with serving(build_app(settings, runtime)) as url:
            yield url
    finally:
        set_hash_cost(2**17)


def _signed_in(base: str, name: str) -> tuple[httpx.Client, str]:
    browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    client = httpx.Client(base_url=base, headers=browser, follow_redirects=False, timeout=30)
    form = client.get("/web/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token, form.text
    data = {"name": name, "password": PASSWORD, "csrf_token": token[1]}
    assert client.post("/web/login", data=data).status_code == 303
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/web/").text)
    assert csrf
    return client, csrf[1]


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as connection:
        return int(connection.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one())


def test_a_fund_receipt_too_large_for_money_is_refused_on_the_page(
    base: str, engine: Engine
) -> None:
    client, csrf = _signed_in(base, "器具室-01")
    with closing(client):
        for received in ("1e309", "99999999999999999999", "1E+28"):
            answer = client.post(
                "/web/reconciliation/device-funds/confirm",
                data={"csrf_token": csrf, "month": "2026-11", "received_amount": received},
            )
            assert answer.status_code == 422, (received, answer.status_code, answer.text[:300])
            assert "text/html" in answer.headers["content-type"]
            error = re.search(r'data-testid="error">([^<]+)<', answer.text)
            assert error and "到账金额" in error[1], (received, answer.text[:500])
    assert _count(engine, "device_funds_receipt") == 0 and _count(engine, "upload_job") == 0


@pytest.mark.parametrize("action", ["resend", "reverse", "withdraw"])
def test_a_monitor_job_id_past_any_row_is_a_page_not_an_internal_error(
    base: str, action: str
) -> None:
    client, csrf = _signed_in(base, "信息科-01")
    with closing(client):
        for job_id in ("99999999999999999999", "9223372036854775808"):
            answer = client.post(f"/web/monitor/jobs/{job_id}/{action}", data={"csrf_token": csrf})
            assert answer.status_code in (404, 422), (job_id, answer.status_code, answer.text[:300])
            assert "text/html" in answer.headers["content-type"], answer.text[:300]
            assert "系统内部错误" not in answer.text and "job_id" in answer.text
