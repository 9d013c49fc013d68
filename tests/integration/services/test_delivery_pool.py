"""The upload worker and the database pool: no connection is held while upstream is asked."""

from __future__ import annotations

import httpx
from sqlalchemy import Engine

from adapter.services.container import Services
from adapter.services.settlement import SettleRequest
from adapter.store.db import make_engine
from connectors.upstream.client import ReferenceClient
from connectors.upstream.simulator import SimulatorServer
from tests.integration.services.helpers import admit, fee, local
from tests.integration.services.support import delivery_queue, jobs


def test_the_worker_delivers_a_discharge_record_with_a_pool_of_one_connection(
    services: Services, db: Engine, db_url: str, client: ReferenceClient, sim: SimulatorServer
) -> None:
    # The worker kept a pooled connection checked out for its whole drain, upstream calls
    # included; the discharge record's fee details (read from the settlement's snapshot just
    # before the call) then waited for a second one. With a pool of one it never got it: the
    # WI2301 due 30 minutes after settlement (N§33, N§47, B§31) was never delivered — and
    # with any pool, each worker's connection sat idle while upstream took its time.
    stay = services.admissions.admit(admit("P001", "V-1"), actor="clerk").encounter
    services.fees.record(stay.id, [fee("L1", "XN02BEB001", "36.50", quantity="2")], actor="his")
    settled = services.settlements.settle(SettleRequest(stay.id, local(0, 0)), actor="billing")
    small = make_engine(
        db_url, sqlite_synchronous="normal", pool_size=1, max_overflow=0, pool_timeout=1
    )
    try:
        assert delivery_queue(small, client).worker().drain() == 2
    finally:
        small.dispose()
    [write] = httpx.get(f"{sim.url}/_sim/received", params={"infno": "WI2301"}).json()["writes"]
    assert write["msgid"] == settled.upload.msgid and write["reply"]["infcode"] == 0
    assert [d["feedetl_sn"] for d in write["input"]["feedetail"]] == ["L1"]
    assert {job["kind"]: job["status"] for job in jobs(db)} == {
        "WI2401": "delivered",
        "WI2301": "delivered",
    }
