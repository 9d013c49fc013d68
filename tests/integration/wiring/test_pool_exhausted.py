"""Every pooled database connection busy (issue 14, item 2): the clerk gets a clear 503
problem+json in Chinese within the pool's time-out — never a 500, never a minute's hang — and
the HIS an AE it may resend; the pool's size and time-out are settings."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import TimeoutError as PoolExhausted

from adapter.bootstrap import build_app
from adapter.domain.commands import Admit
from adapter.settings import load_settings
from adapter.store.db import make_engine
from adapter.store.migrate import upgrade
from adapter.store.tokens import create_token
from adapter.wiring.runtime import build_runtime
from connectors.hl7 import ListenerConfig, ListenerThread, build_listener, create_tables
from connectors.hl7.reader import Hl7Message
from connectors.upstream.simulator import start_simulator
from tests.integration.hl7.conftest import PROFILE, MllpClient
from tests.integration.hl7.fakes import FakeEncounters
from tests.support.live import serving
from tests.unit.hl7 import messages as m

POOL_TIMEOUT_S = 0.5
ADMIT = {
    "card": {"kind": "physical", "card_no": "310100A0001"},
    "his_visit_id": "ZY-POOL-1",
    "kind": "medical",
    "admitted_at": "2026-11-24T09:00:00+08:00",
    "injury_parts": ["左手"],
}


def tiny_pool(url: str) -> Engine:
    return make_engine(url, pool_size=1, max_overflow=0, pool_timeout=POOL_TIMEOUT_S)


@pytest.fixture
def simulator() -> Iterator[Any]:
    with start_simulator() as server:
        yield server


def settings_for(url: str, simulator: Any, **database: Any) -> Any:
    settings = load_settings(database={"url": url, **database})
    return settings.model_copy(
        update={
            "upstream": settings.upstream.model_copy(update={"base_url": simulator.url}),
            "schedule": settings.schedule.model_copy(update={"enabled": False}),
        }
    )


def test_the_pool_size_and_time_out_are_settings(db_url: str, simulator: Any) -> None:
    settings = settings_for(db_url, simulator, pool_size=3, max_overflow=2, pool_timeout_s=1.5)
    runtime = build_runtime(settings, workers=0, hl7=False, scheduled=False)
    try:
        pool: Any = runtime.engine.pool
        assert (pool.size(), pool._max_overflow, pool._timeout) == (3, 2, 1.5)
    finally:
        runtime.stop()


def test_an_exhausted_pool_is_a_clear_503_within_the_pool_time_out(
    db_url: str, engine: Engine, simulator: Any
) -> None:
    upgrade(engine)
    token = create_token(engine, "住院处-01", ["admission"], datetime.now(UTC))
    headers = {"Authorization": f"Bearer {token}"}
    db = tiny_pool(db_url)
    settings = settings_for(db_url, simulator)
    runtime = build_runtime(settings, engine=db, workers=0, hl7=False, scheduled=False)
    with serving(build_app(settings, runtime)) as base:
        held = db.connect()  # the pool's only connection, busy elsewhere
        try:
            held.execute(text("SELECT 1"))
            began = time.monotonic()
            reply = httpx.post(f"{base}/api/v1/encounters", json=ADMIT, headers=headers, timeout=30)
            took = time.monotonic() - began
        finally:
            held.close()
        assert reply.status_code == 503, reply.text
        assert reply.headers["content-type"].startswith("application/problem+json")
        assert reply.headers["retry-after"] == "2"
        (error,) = reply.json()["errors"]
        assert error["code"] == "DATABASE_BUSY" and "繁忙" in error["message"]
        assert took < POOL_TIMEOUT_S + 5, f"answered after {took:.1f}s"

        reply = httpx.post(f"{base}/api/v1/encounters", json=ADMIT, headers=headers, timeout=30)
        assert reply.status_code == 201, reply.text  # the connection is free again


def _ack(raw: bytes) -> tuple[str, str]:
    ack = Hl7Message(raw.decode("utf-8"))
    err = ack.require("ERR")
    return ack.require("MSA").get(1), err.get(3)


def test_hl7_gets_an_ae_it_may_resend_while_the_pool_is_exhausted(db_url: str) -> None:
    db = tiny_pool(db_url)
    create_tables(db)
    thread = ListenerThread(
        build_listener(db, FakeEncounters(), PROFILE, ListenerConfig(host="127.0.0.1", port=0))
    )
    port = thread.start()
    client = MllpClient(port)
    try:
        held = db.connect()
        try:
            held.execute(text("SELECT 1"))
            code, error = _ack(client.send(m.admit("POOL-1").encode()))
        finally:
            held.close()
        assert code == "AE" and "DATABASE_BUSY" in error
        ack = Hl7Message(client.send(m.admit("POOL-1").encode()).decode("utf-8"))
        assert ack.require("MSA").get(1) == "AA"  # nothing was stored: the resend is processed
    finally:
        client.close()
        thread.stop()
        db.dispose()


class BusyEncounters(FakeEncounters):
    """Services whose store found every pooled connection busy (as the real one raises it)."""

    def admit(self, command: Admit, *, actor: str) -> Any:
        raise PoolExhausted("QueuePool limit of size 5 overflow 10 reached")


def test_hl7_processing_that_finds_the_pool_exhausted_is_an_ae_not_a_final_failure(
    db_url: str,
) -> None:
    db = make_engine(db_url)
    create_tables(db)
    thread = ListenerThread(
        build_listener(db, BusyEncounters(), PROFILE, ListenerConfig(host="127.0.0.1", port=0))
    )
    port = thread.start()
    client = MllpClient(port)
    try:
        code, error = _ack(client.send(m.admit("POOL-2").encode()))
        assert code == "AE" and "DATABASE_BUSY" in error
    finally:
        client.close()
        thread.stop()
        db.dispose()
