"""The wiring tests' shared set-up: the adapter's settings on the test's migrated database,
against a running upstream simulator, with one upload worker polling often."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from adapter.settings import Settings, load_settings
from adapter.store.migrate import upgrade
from connectors.upstream.simulator import SimulatorServer, start_simulator


@pytest.fixture
def simulated(db_url: str, engine: Engine) -> Iterator[tuple[Settings, SimulatorServer]]:
    upgrade(engine)
    with start_simulator() as simulator:
        settings = load_settings(database={"url": db_url})
        settings = settings.model_copy(
            update={
                "upstream": settings.upstream.model_copy(update={"base_url": simulator.url}),
                "queue": settings.queue.model_copy(update={"workers": 1, "poll_seconds": 0.2}),
            }
        )
        yield settings, simulator
