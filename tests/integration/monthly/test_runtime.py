"""The monthly work on the real runtime (as ``serve`` builds it) over HTTP: the scheduler
catches up at start, IT sees and triggers runs, a device fund confirmation is delivered by
the runtime's own queue workers, and /healthz carries the reminder."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from adapter.bootstrap import build_app
from adapter.store.tokens import create_token
from adapter.wiring.runtime import build_runtime
from tests.support.live import serving, simulated
from tests.support.polling import eventually


@pytest.fixture
def live(db_url: str, engine: Engine) -> Iterator[tuple[str, dict[str, str], Any, Any]]:
    off = {"deductions": "", "catalogue_sync": ""}  # caught up at start: the jobs below
    with simulated(db_url, engine, schedule=off) as (settings, simulator):
        runtime = build_runtime(settings, hl7=False)
        app = build_app(settings, runtime)  # its lifespan starts and stops the scheduler
        now = datetime.now(UTC)
        tokens = {r: create_token(runtime.engine, f"{r}-01", [r], now) for r in ("it", "device")}
        with serving(app) as base:
            yield base, tokens, simulator, runtime.scheduler


def test_the_monthly_work_runs_on_the_real_runtime(
    live: tuple[str, dict[str, str], Any, Any],
) -> None:
    base, tokens, simulator, scheduler = live
    it = {"Authorization": f"Bearer {tokens['it']}"}
    device = {"Authorization": f"Bearer {tokens['device']}"}

    def runs() -> list[dict[str, Any]]:
        found = httpx.get(f"{base}/api/v1/schedule/runs", headers=it).json()
        return [r for r in found if r["outcome"] != "running"]

    # the 3rd of this month at 06:00 and today's 09:00 reminder were missed: run at start-up
    done = eventually(lambda: len(runs()) == len(scheduler.caught_up) and runs())
    assert {r["job"] for r in done} <= {
        "reconciliation",
        "reconciliation_after_cutoff",
        "device_funds_reminder",
        "housekeeping",
    }
    assert {(r["trigger"], r["outcome"]) for r in done} == {("startup", "ok")}
    reply = httpx.post(f"{base}/api/v1/schedule/jobs/reconciliation/run", headers=it)
    assert reply.status_code == 200 and reply.json()["outcome"] == "ok"
    unknown = httpx.post(f"{base}/api/v1/schedule/jobs/nothing/run", headers=it)
    assert unknown.status_code == 404
    assert httpx.get(f"{base}/api/v1/schedule/runs", headers=it).json()[0]["trigger"] == "manual"

    health = httpx.get(f"{base}/healthz").json()
    assert health["checks"]["device_funds"]["ok"] is True

    confirm = httpx.post(
        f"{base}/api/v1/device-funds/2026-10/confirm", json={"amount": "29800.00"}, headers=device
    )
    assert confirm.status_code == 201, confirm.text
    msgid = confirm.json()["msgid"]

    def delivered() -> bool:
        listed = httpx.get(f"{base}/api/v1/device-funds", headers=device).json()
        return any(m["month"] == "2026-10" and m["status"] == "confirmed" for m in listed)

    eventually(delivered)
    received = httpx.get(f"{simulator.url}/_sim/received", params={"msgid": msgid}).json()
    [write] = received["writes"]
    assert write["infno"] == "WI3301" and write["took_effect"] and write["times_received"] == 1
