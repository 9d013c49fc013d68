"""Fixtures shared by the use-case and REST tests (each package's conftest star-imports them):
a fresh database on each backend with the full schema and the simulator's catalogue; the
simulator over real HTTP with the real client; the services built directly."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine

from adapter.services.container import Services
from adapter.services.context import InstitutionProfile, Policy
from connectors.upstream.client import ReferenceClient
from connectors.upstream.config import UpstreamConfig
from connectors.upstream.msgids import MsgidSequence
from connectors.upstream.simulator import SimulatorServer, start_simulator
from tests.integration.services.helpers import INSTITUTION, TODAY
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
    server = start_simulator(today=TODAY, random_seed=7)
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


@pytest.fixture
def client(
    sim: SimulatorServer, msgids: MsgidSequence, request: pytest.FixtureRequest
) -> Iterator[ReferenceClient]:
    # Generous: the simulator shares this process, and on a busy CI machine one read took
    # more than 2 s. A module that takes upstream down waits for the budget to be spent on
    # every refused read, so it keeps the short one (marker ``upstream_outage``).
    budget = 2.0 if request.node.get_closest_marker("upstream_outage") else 10.0
    config = UpstreamConfig(
        base_url=sim.url,
        institution_code=INSTITUTION,
        institution_name=PROFILE.name,
        treatment_admdvs="110100",
        connect_timeout_s=min(budget, 5.0),
        read_timeout_s=budget,
        write_timeout_s=budget,
        read_budget_s=budget,
    )
    client = ReferenceClient.from_config(config, msgids=msgids)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def db(engine: Engine, client: ReferenceClient) -> Engine:
    create_schema(engine)
    load_catalogue(engine, client)
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
