"""What the synced-commit tests share (:mod:`.test_one_sync`, :mod:`.test_group_commit`): the
real use cases over a real SQLite file whose engine syncs every commit (``synchronous=FULL``,
as shipped; a test may ask for another level through ``synchronous``), and the admission the
stays they update start from. SQLite only: PostgreSQL has no ``PRAGMA synchronous``, and the
group commit is SQLite's (one writer).

A test module takes the fixtures with ``from tests.integration.hl7.synced_sqlite import *``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from adapter.store.db import make_engine
from tests.integration.hl7.with_services import NOW, a01, ts
from tests.integration.services.fixtures import *  # noqa: F403 - the use cases' fixtures

FULL, NORMAL = 2, 1  # what PRAGMA synchronous answers


@pytest.fixture
def synchronous(request: pytest.FixtureRequest) -> str:
    return str(getattr(request, "param", "full"))


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/adapter.db"


@pytest.fixture
def engine(db_url: str, synchronous: str) -> Iterator[Engine]:
    engine = make_engine(db_url, sqlite_synchronous=synchronous)
    try:
        yield engine
    finally:
        engine.dispose()


def admit(control_id: str, visit: str) -> bytes:
    """王建国's admission two days ago: the stay the synced tests update."""
    return a01(control_id, visit, admitted=ts(NOW - timedelta(days=2)))
