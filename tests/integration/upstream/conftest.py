"""The simulator on a real port, shared by the module, reset before every test."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from connectors.upstream.client import ReferenceClient
from connectors.upstream.clock import FixedClock
from connectors.upstream.config import UpstreamConfig
from connectors.upstream.records import MemoryRecorder
from connectors.upstream.simulator import SimulatorServer, start_simulator

SHANGHAI = ZoneInfo("Asia/Shanghai")
TODAY = datetime.now(SHANGHAI).date()  # the simulator's and the client's clocks are Shanghai
# The simulator's clock stays on TODAY: a run that crosses midnight in Shanghai would otherwise
# get sign-in numbers and reply times of a day the assertions do not expect.
NOON = datetime.combine(TODAY, time(12), SHANGHAI)


def start_on_today(**options: Any) -> SimulatorServer:
    return start_simulator(today=TODAY, clock=FixedClock(NOON), **options)


@pytest.fixture(scope="module")
def simulator() -> Iterator[SimulatorServer]:
    server = start_on_today(random_seed=7)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sim(simulator: SimulatorServer) -> SimulatorServer:
    response = httpx.post(f"{simulator.url}/_sim/reset")
    assert response.status_code == 200
    return simulator


def make_config(url: str, **overrides: Any) -> UpstreamConfig:
    values: dict[str, Any] = {
        "base_url": url,
        "institution_code": "H11010000001",
        "institution_name": "示例工伤协议医院",
        "treatment_admdvs": "110100",
        "connect_timeout_s": 1.0,
        "read_timeout_s": 2.0,
        "write_timeout_s": 2.0,
        "read_budget_s": 3.0,
    }
    values.update(overrides)
    return UpstreamConfig(**values)


@pytest.fixture
def recorder() -> MemoryRecorder:
    return MemoryRecorder()


@pytest.fixture
def client(sim: SimulatorServer, recorder: MemoryRecorder) -> Iterator[ReferenceClient]:
    client = ReferenceClient.from_config(make_config(sim.url), recorder=recorder)
    try:
        yield client
    finally:
        client.close()


class Msgids:
    """msgids for writes, as the upload queue would make them."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> str:
        self.n += 1
        return f"H11010000001{TODAY:%Y%m%d}093000{self.n:04d}"


@pytest.fixture
def msgid() -> Msgids:
    return Msgids()
