"""Store fixtures: a migrated database on each backend, a clock the test controls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from adapter.store import migrate


class FakeClock:
    """A clock that stands still until told to move (satisfies ``adapter.domain.ports.Clock``)."""

    def __init__(self, start: datetime):
        self.current = start

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 1, 3, 2, 30, tzinfo=UTC))


@pytest.fixture
def store(engine: Engine) -> Engine:
    """The ``engine`` fixture's fresh database, migrated to head."""
    migrate.upgrade(engine)
    return engine
