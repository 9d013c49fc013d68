"""Fixtures shared by the use-case and REST tests (each package's conftest star-imports them):
a fresh database on each backend with the full schema and the simulator's catalogue; the
simulator over real HTTP with the real client; the services built directly."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import httpx
import pytest
from sqlalchemy import Engine

from adapter.services.container import Services
from adapter.services.context import InstitutionProfile, Policy
from connectors.upstream.client import ReferenceClient
from connectors.upstream.clock import FixedClock
from connectors.upstream.config import UpstreamConfig
from connectors.upstream.msgids import MsgidSequence
from connectors.upstream.simulator import SimulatorServer, start_simulator
from tests.integration.services.helpers import INSTITUTION, NOON, TODAY
from tests.integration.services.support import (
    MovableClock,
    QueueOutbox,
    create_schema,
    delivery_queue,
    load_catalogue,
)
from upload_queue import UploadQueue

PROFILE = InstitutionProfile(
    INSTITUTION, "示例工伤协议医院", frozenset({"medical", "rehab", "device"}), "110100"
)


@pytest.fixture(scope="package")
def simulator() -> Iterator[SimulatorServer]:
    # The simulator's clock stays on TODAY, the day its seed is for. On the wall clock it is
    # TODAY + 1 before 16:00 (TODAY is shifted back), so a run crossing midnight then found
    # the demo e-card's QR token (valid to the end of TODAY + 1) expired.
    server = start_simulator(today=TODAY, clock=FixedClock(NOON), random_seed=7)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sim(simulator: SimulatorServer) -> SimulatorServer:
    assert httpx.post(f"{simulator.url}/_sim/reset").status_code == 200
    return simulator


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def msgids(clock: MovableClock) -> MsgidSequence:
    return MsgidSequence(INSTITUTION, clock)


def upstream_config(sim_url: str, budget: float) -> UpstreamConfig:
    return UpstreamConfig(
        base_url=sim_url,
        institution_code=INSTITUTION,
        institution_name=PROFILE.name,
        treatment_admdvs="110100",
        connect_timeout_s=min(budget, 5.0),
        read_timeout_s=budget,
        write_timeout_s=budget,
        read_budget_s=budget,
    )


# Generous: the simulator shares this process, and on a busy CI machine one read took more
# than 2 s. A module that takes upstream down waits for the budget to be spent on every
# refused read, so its tests' client keeps a short one (marker ``upstream_outage``); what
# the fixtures load before the test (the catalogue) always goes through a generous one.
GENEROUS_S, SHORT_S = 10.0, 3.0


@pytest.fixture
def client(
    sim: SimulatorServer, msgids: MsgidSequence, request: pytest.FixtureRequest
) -> Iterator[ReferenceClient]:
    outage = request.node.get_closest_marker("upstream_outage") is not None
    config = upstream_config(sim.url, SHORT_S if outage else GENEROUS_S)
    client = ReferenceClient.from_config(config, msgids=msgids)
    try:
        yield client
    finally:
        client.close()


@contextmanager
def loading_client(client: ReferenceClient, msgids: MsgidSequence) -> Iterator[ReferenceClient]:
    """A client for the fixtures' own reads, with the generous budget whatever the test's."""
    config = replace(
        client.config,
        connect_timeout_s=5.0,
        read_timeout_s=GENEROUS_S,
        write_timeout_s=GENEROUS_S,
        read_budget_s=GENEROUS_S,
    )
    loader = ReferenceClient.from_config(config, msgids=msgids)
    try:
        yield loader
    finally:
        loader.close()


@pytest.fixture
def db(engine: Engine, client: ReferenceClient, msgids: MsgidSequence) -> Engine:
    create_schema(engine)
    with loading_client(client, msgids) as loader:
        load_catalogue(engine, loader)
    return engine


def make_services(
    db: Engine,
    client: ReferenceClient,
    clock: MovableClock,
    msgids: MsgidSequence,
    outbox: QueueOutbox | None = None,
    policy: Policy | None = None,
) -> Services:
    return Services(
        engine=db,
        gateway=client,
        outbox=outbox or QueueOutbox(delivery_queue(db, client)),
        msgids=msgids,
        clock=clock,
        institution=PROFILE,
        time_zone="Asia/Shanghai",
        policy=policy,
    )


@pytest.fixture
def services(
    db: Engine, client: ReferenceClient, clock: MovableClock, msgids: MsgidSequence
) -> Services:
    return make_services(db, client, clock, msgids)


@pytest.fixture
def queue(db: Engine, client: ReferenceClient) -> UploadQueue:
    return delivery_queue(db, client)
