"""The live site the e2e tests that drive both faces run against."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from tests.e2e.hl7_rest import Live
from tests.support.live import running_site


@pytest.fixture
def live(db_url: str, engine: Engine) -> Iterator[Live]:
    with running_site(db_url, engine, "HIS", ["his", "billing", "it"]) as s:
        yield Live(s.base, s.port, s.headers, s.simulator.url)
