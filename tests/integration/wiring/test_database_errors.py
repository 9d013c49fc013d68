"""A read-only (or otherwise unusable) database: the clerk gets a clear problem+json 503 in
Chinese, nothing half-written, and the adapter works again once the database does."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select

from adapter.bootstrap import build_app
from adapter.settings import load_settings
from adapter.store.db import make_engine
from adapter.store.migrate import upgrade
from adapter.store.tables import EncounterRow
from adapter.store.tokens import create_token
from adapter.wiring.runtime import build_runtime
from connectors.upstream.simulator import start_simulator
from tests.support.live import serving

ADMIT = {
    "card": {"kind": "physical", "card_no": "310100A0001"},
    "his_visit_id": "ZY-RO-1",
    "kind": "medical",
    "admitted_at": "2026-11-24T09:00:00+08:00",
    "injury_parts": ["左手"],
}


def read_only(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        return make_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    return make_engine(url, connect_args={"options": "-c default_transaction_read_only=on"})


def encounters(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(EncounterRow)).scalar_one())


@pytest.fixture
def simulator() -> Iterator[Any]:
    with start_simulator() as server:
        yield server


def serve(db: Engine, url: str, simulator: Any) -> Any:
    settings = load_settings(database={"url": url})
    settings = settings.model_copy(
        update={
            "upstream": settings.upstream.model_copy(update={"base_url": simulator.url}),
            "schedule": settings.schedule.model_copy(update={"enabled": False}),
        }
    )
    runtime = build_runtime(settings, engine=db, workers=0, hl7=False)
    return serving(build_app(settings, runtime))


def test_a_read_only_database_is_a_clear_503_and_nothing_is_written(
    db_url: str, engine: Engine, simulator: Any
) -> None:
    upgrade(engine)
    token = create_token(engine, "住院处-01", ["admission"], datetime.now(UTC))
    headers = {"Authorization": f"Bearer {token}"}

    with serve(read_only(db_url), db_url, simulator) as base:
        reply = httpx.post(f"{base}/api/v1/encounters", json=ADMIT, headers=headers, timeout=30)
        assert reply.status_code == 503, reply.text
        assert reply.headers["content-type"].startswith("application/problem+json")
        (error,) = reply.json()["errors"]
        assert error["code"] == "DATABASE_UNAVAILABLE" and "未保存" in error["message"]
    assert encounters(engine) == 0

    with serve(make_engine(db_url), db_url, simulator) as base:  # the database is back
        reply = httpx.post(f"{base}/api/v1/encounters", json=ADMIT, headers=headers, timeout=30)
        assert reply.status_code == 201, reply.text
    assert encounters(engine) == 1
