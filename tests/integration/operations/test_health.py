"""Liveness, readiness and the business state, each where an orchestrator or IT needs it."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import Engine

from adapter.api.app import create_app
from adapter.settings import load_settings
from adapter.store.migrate import upgrade
from tests.integration.operations.conftest import live_adapter
from tests.support.live import serving


def scrape(base: str, headers: dict[str, str]) -> str:
    return httpx.get(f"{base}/metrics", headers=headers, timeout=10).text


def test_an_upstream_outage_is_business_state_not_a_reason_to_restart_or_reroute(
    db_url: str, engine: Engine
) -> None:
    with live_adapter(db_url, engine) as live:
        # the gateway still accepts connections but answers nothing: a TCP connect would pass
        httpx.post(f"{live.simulator.url}/_sim/faults", json={"outage": True}, timeout=5)
        health = httpx.get(f"{live.base}/healthz", timeout=30)
        assert health.status_code == 200, health.text
        body = health.json()
        assert body["status"] == "degraded" and body["ready"] is True
        upstream = body["checks"]["upstream"]
        assert upstream["reachable"] is False and upstream["probe"] == "WI1301"
        assert "adapter_upstream_reachable 0.0" in scrape(live.base, live.headers)
        assert httpx.get(f"{live.base}/livez", timeout=5).json() == {"status": "ok"}
        ready = httpx.get(f"{live.base}/readyz", timeout=10)
        assert ready.status_code == 200, ready.text
        assert set(ready.json()["checks"]) >= {"database", "hl7"}
        assert "upstream" not in ready.json()["checks"]


def test_a_stopped_hl7_listener_makes_the_instance_not_ready_but_still_alive(
    db_url: str, engine: Engine
) -> None:
    with live_adapter(db_url, engine) as live:
        assert httpx.get(f"{live.base}/readyz", timeout=10).status_code == 200
        assert live.runtime.hl7 is not None
        live.runtime.hl7.stop()
        ready = httpx.get(f"{live.base}/readyz", timeout=10)
        assert ready.status_code == 503
        assert ready.json()["status"] == "not_ready"
        assert ready.json()["checks"]["hl7"]["ok"] is False
        assert httpx.get(f"{live.base}/healthz", timeout=30).status_code == 503
        assert httpx.get(f"{live.base}/livez", timeout=5).status_code == 200


def test_a_database_behind_the_newest_migration_is_not_ready_until_migrated(
    db_url: str, engine: Engine
) -> None:
    upgrade(engine, "0006")
    app = create_app(load_settings(database={"url": db_url}), engine)
    with serving(app) as base:
        ready = httpx.get(f"{base}/readyz", timeout=10)
        assert ready.status_code == 503
        database = ready.json()["checks"]["database"]
        assert database["ok"] is False and database["schema"] == "0006"
        assert "wi-adapter migrate" in database["error"]
        assert httpx.get(f"{base}/livez", timeout=5).status_code == 200
        upgrade(engine)
        assert httpx.get(f"{base}/readyz", timeout=10).status_code == 200


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_database_that_refuses_writes_is_not_ready(db_url: str, engine: Engine) -> None:
    upgrade(engine)
    app = create_app(load_settings(database={"url": db_url}), engine)
    with serving(app) as base:
        # another writer holds the write lock longer than the probe waits
        holder = engine.connect().execution_options(sqlite_begin="IMMEDIATE")
        with holder, holder.begin():
            ready = httpx.get(f"{base}/readyz", timeout=60)
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"]["ok"] is False
        assert httpx.get(f"{base}/readyz", timeout=10).status_code == 200
