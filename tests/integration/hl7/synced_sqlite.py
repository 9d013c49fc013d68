"""What the synced-commit tests share (:mod:`.test_one_sync`, :mod:`.test_group_commit`): the
real use cases over a real SQLite file whose engine syncs every commit (``synchronous=FULL``,
as shipped; a test may ask for another level through ``synchronous``), and the admission the
stays they update start from. SQLite only: PostgreSQL has no ``PRAGMA synchronous``, and the
group commit is SQLite's (one writer).

A test module takes the fixtures with ``from tests.integration.hl7.synced_sqlite import *``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from adapter.store.db import make_engine
from connectors.hl7 import load_site_profile as load_profile
from tests.integration.services.fixtures import *  # noqa: F403 - the use cases' fixtures
from tests.unit.hl7 import messages as m

SHANGHAI = ZoneInfo("Asia/Shanghai")
HL7_PROFILE = load_profile(Path(__file__).parents[3] / "config" / "hl7_site.toml")
NOW = datetime.now(UTC)
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


def ts(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y%m%d%H%M%S") + "+0800"


def admit(control_id: str, visit: str) -> bytes:
    return m.message(
        m.msh("A01", control_id),
        "EVN|A01|" + ts(NOW),
        m.pid(name="王建国", citizen_id="310102197803141310"),
        m.pv1(visit, admitted=ts(NOW - timedelta(days=2))),
        m.dg1("S62.301", "左手第三掌骨骨折"),
        m.zwi(card_no="310100A0001", parts="左手"),
    ).encode()
