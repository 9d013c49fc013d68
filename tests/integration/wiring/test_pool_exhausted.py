"""Every pooled database connection busy (issue 14, item 2): the clerk gets a clear 503
problem+json in Chinese within the pool's time-out — never a 500, never a minute's hang — and
the HIS an AE it may resend; the pool's size and time-out are settings."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from sqlalchemy import Engine, text
from sqlalchemy.exc import TimeoutError as PoolExhausted

from adapter.domain.commands import Admit
from adapter.settings import Settings
from adapter.store.db import make_engine
from adapter.store.migrate import upgrade
from adapter.wiring.runtime import build_runtime
from connectors.hl7 import ListenerConfig, ListenerThread, build_listener, create_tables
from connectors.hl7.reader import Hl7Message
from connectors.upstream.simulator import SimulatorServer
from tests.integration.hl7.conftest import PROFILE, MllpClient
from tests.integration.hl7.fakes import FakeEncounters
from tests.support.database_faults import admission, assert_refused, clerk_headers, serving_over
from tests.support.live import simulated_settings
from tests.unit.hl7 import messages as m

POOL_TIMEOUT_S = 0.5


def tiny_pool(url: str) -> Engine:
    return make_engine(url, pool_size=1, max_overflow=0, pool_timeout=POOL_TIMEOUT_S)


def settings_for(url: str, simulator: SimulatorServer, **database: Any) -> Settings:
    return simulated_settings(url, simulator.url, schedule={"enabled": False}, database=database)


def test_the_pool_size_and_time_out_are_settings(db_url: str, simulator: SimulatorServer) -> None:
    settings = settings_for(db_url, simulator, pool_size=3, max_overflow=2, pool_timeout_s=1.5)
    runtime = build_runtime(settings, workers=0, hl7=False, scheduled=False)
    try:
        pool: Any = runtime.engine.pool
        assert (pool.size(), pool._max_overflow, pool._timeout) == (3, 2, 1.5)
    finally:
        runtime.stop()


def test_an_exhausted_pool_is_a_clear_503_within_the_pool_time_out(
    db_url: str, engine: Engine, simulator: SimulatorServer
) -> None:
    upgrade(engine)
    headers = clerk_headers(engine, "住院处-01", "admission")
    admit = admission("ZY-POOL-1")
    db = tiny_pool(db_url)
    with serving_over(db, settings_for(db_url, simulator)) as base:
        held = db.connect()  # the pool's only connection, busy elsewhere
        try:
            held.execute(text("SELECT 1"))
            began = time.monotonic()
            reply = httpx.post(f"{base}/api/v1/encounters", json=admit, headers=headers, timeout=30)
            took = time.monotonic() - began
        finally:
            held.close()
        assert_refused(reply, "DATABASE_BUSY", "繁忙")
        assert reply.headers["retry-after"] == "2"
        assert took < POOL_TIMEOUT_S + 5, f"answered after {took:.1f}s"

        reply = httpx.post(f"{base}/api/v1/encounters", json=admit, headers=headers, timeout=30)
        assert reply.status_code == 201, reply.text  # the connection is free again


def _ack(raw: bytes) -> tuple[str, str]:
    ack = Hl7Message(raw.decode("utf-8"))
    err = ack.require("ERR")
    return ack.require("MSA").get(1), err.get(3)


@contextmanager
def listening(db: Engine, services: FakeEncounters) -> Iterator[MllpClient]:
    """The MLLP listener over ``db`` (its message log there), processing with ``services``;
    yields a HIS connected to it."""
    create_tables(db)
    thread = ListenerThread(
        build_listener(db, services, PROFILE, ListenerConfig(host="127.0.0.1", port=0))
    )
    client = MllpClient(thread.start())
    try:
        yield client
    finally:
        client.close()
        thread.stop()
        db.dispose()


def test_hl7_gets_an_ae_it_may_resend_while_the_pool_is_exhausted(db_url: str) -> None:
    db = tiny_pool(db_url)
    with listening(db, FakeEncounters()) as client:
        held = db.connect()
        try:
            held.execute(text("SELECT 1"))
            code, error = _ack(client.send(m.admit("POOL-1").encode()))
        finally:
            held.close()
        assert code == "AE" and "DATABASE_BUSY" in error
        ack = Hl7Message(client.send(m.admit("POOL-1").encode()).decode("utf-8"))
        assert ack.require("MSA").get(1) == "AA"  # nothing was stored: the resend is processed


class BusyEncounters(FakeEncounters):
    """Services whose store found every pooled connection busy (as the real one raises it)."""

    def admit(self, command: Admit, *, actor: str) -> Any:
        raise PoolExhausted("QueuePool limit of size 5 overflow 10 reached")


def test_hl7_processing_that_finds_the_pool_exhausted_is_an_ae_not_a_final_failure(
    db_url: str,
) -> None:
    with listening(make_engine(db_url), BusyEncounters()) as client:
        code, error = _ack(client.send(m.admit("POOL-2").encode()))
        assert code == "AE" and "DATABASE_BUSY" in error
