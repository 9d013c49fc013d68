"""The wiring tests' shared set-up: the upstream simulator running; and the adapter's settings
on the test's migrated database against it, with one upload worker polling often."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from adapter.settings import Settings
from connectors.upstream.simulator import SimulatorServer, start_simulator
from tests.support.live import simulated as simulated_adapter


@pytest.fixture
def simulated(db_url: str, engine: Engine) -> Iterator[tuple[Settings, SimulatorServer]]:
    with simulated_adapter(db_url, engine) as (settings, simulator):
        yield settings, simulator


@pytest.fixture
def simulator() -> Iterator[SimulatorServer]:
    with start_simulator() as server:
        yield server
