"""No connection or transaction is held while waiting on upstream (issue 14, item 2).

The proof: the whole of a stay — an identity check, admission, fees, settlement with and
without a card shown again — runs on a pool of ONE connection, with every upstream
attempt written to the call log on that same pool. A use case that waited on upstream inside
its unit of work would hold the only connection while the call log needs it: the log's row
would have to wait (``waiting`` > 0), as settle's did before the fix.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from sqlalchemy import Engine, func, select

from adapter.domain.commands import Diagnosis
from adapter.services.settlement import SettleRequest
from adapter.store.db import make_engine
from connectors.upstream.call_log import CallLog, upstream_call
from connectors.upstream.client import ReferenceClient
from connectors.upstream.config import UpstreamConfig
from connectors.upstream.msgids import MsgidSequence
from connectors.upstream.simulator import SimulatorServer
from tests.integration.services.fixtures import PROFILE, make_services
from tests.integration.services.helpers import INSTITUTION, admit, card, fee, local
from tests.integration.services.support import MovableClock, create_schema, load_catalogue


@pytest.fixture
def one(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url, pool_size=1, max_overflow=0, pool_timeout=2)
    yield engine
    engine.dispose()


def test_a_whole_stay_needs_one_pooled_connection_even_with_the_call_log_on_it(
    one: Engine, sim: SimulatorServer, msgids: MsgidSequence, clock: MovableClock
) -> None:
    create_schema(one)
    call_log = CallLog(one)
    call_log.create_tables()
    config = UpstreamConfig(
        base_url=sim.url,
        institution_code=INSTITUTION,
        institution_name=PROFILE.name,
        treatment_admdvs="110100",
    )
    with ReferenceClient.from_config(config, msgids=msgids, recorder=call_log) as client:
        load_catalogue(one, client)
        services = make_services(one, client, clock, msgids)
        services.identity.verify(card("P001"), actor="clerk")
        stay = services.admissions.admit(admit("P001", "V-1"), actor="clerk").encounter
        services.fees.record(stay.id, [fee("L1", "XN02BEB001", "36.50", quantity="2")], actor="his")
        diagnosis = (Diagnosis("S62.301", "左手第三掌骨骨折"),)
        services.settlements.settle(
            SettleRequest(stay.id, local(-2, 8), diagnosis), actor="billing"
        )  # without a card: the worker looked up again by citizen ID
        # admitted again after that discharge (one stay of a worker at a time, N§33, N§38)
        again = replace(admit("P001", "V-2"), admitted_at=local(-2, 9))
        other = services.admissions.admit(again, actor="clerk").encounter
        line = fee("L1", "XN02BEB001", "36.50", quantity="2", days=-1)
        services.fees.record(other.id, [line], actor="h")
        services.settlements.settle(
            SettleRequest(other.id, local(0, 8), diagnosis, card=card("P001")), actor="billing"
        )
    assert (call_log.waiting, call_log.dropped) == (0, 0)
    with one.connect() as connection:
        rows = connection.execute(select(func.count()).select_from(upstream_call)).scalar_one()
    assert rows == call_log.written > 0
