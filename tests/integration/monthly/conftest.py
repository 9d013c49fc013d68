"""The monthly work's fixtures: the shared use-case fixtures (services, queue, client), with
the simulator's world set in January 2026 — so a stay can cross New Year — and a clock the
tests set to the moment each step happens."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine

from adapter.services.monthly import MonthlyServices
from connectors.upstream.client import ReferenceClient
from connectors.upstream.msgids import MsgidSequence
from connectors.upstream.simulator import SimulatorServer, start_simulator
from tests.integration.monthly.world import SIM_TODAY, SetClock, catalogue_2025
from tests.integration.services.fixtures import *  # noqa: F403 - services, queue, client …
from tests.integration.services.fixtures import loading_client, make_services
from tests.integration.services.support import create_schema, load_catalogue


@pytest.fixture(scope="package")
def simulator() -> Iterator[SimulatorServer]:
    server = start_simulator(today=SIM_TODAY, random_seed=7)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def clock() -> SetClock:  # type: ignore[override]
    return SetClock()


@pytest.fixture
def db(
    engine: Engine, client: ReferenceClient, sim: SimulatorServer, msgids: MsgidSequence
) -> Engine:
    create_schema(engine)
    reply = httpx.post(f"{sim.url}/_sim/seed", json={"catalogue": catalogue_2025()})
    assert reply.status_code == 200, reply.text
    with loading_client(client, msgids) as loader:
        load_catalogue(engine, loader)
    return engine


@pytest.fixture
def monthly(services) -> MonthlyServices:  # type: ignore[no-untyped-def]
    return MonthlyServices(services.context)


__all__ = ["make_services"]
