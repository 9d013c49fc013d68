"""A read-only (or otherwise unusable) database: the clerk gets a clear problem+json 503 in
Chinese, nothing half-written, and the adapter works again once the database does."""

from __future__ import annotations

import httpx
from sqlalchemy import Engine, func, select

from adapter.store.db import make_engine
from adapter.store.migrate import upgrade
from adapter.store.tables import EncounterRow
from connectors.upstream.simulator import SimulatorServer
from tests.support.database_faults import admission, assert_refused, clerk_headers, serving_over
from tests.support.live import simulated_settings


def read_only(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        return make_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    return make_engine(url, connect_args={"options": "-c default_transaction_read_only=on"})


def encounters(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(EncounterRow)).scalar_one())


def test_a_read_only_database_is_a_clear_503_and_nothing_is_written(
    db_url: str, engine: Engine, simulator: SimulatorServer
) -> None:
    upgrade(engine)
    headers = clerk_headers(engine, "住院处-01", "admission")
    admit = admission("ZY-RO-1")
    settings = simulated_settings(db_url, simulator.url, schedule={"enabled": False})

    with serving_over(read_only(db_url), settings) as base:
        reply = httpx.post(f"{base}/api/v1/encounters", json=admit, headers=headers, timeout=30)
        assert_refused(reply, "DATABASE_UNAVAILABLE", "未保存")
    assert encounters(engine) == 0

    with serving_over(make_engine(db_url), settings) as base:  # the database is back
        reply = httpx.post(f"{base}/api/v1/encounters", json=admit, headers=headers, timeout=30)
        assert reply.status_code == 201, reply.text
    assert encounters(engine) == 1
