"""kill -9 of ``wi-adapter serve`` after upstream took an upload but before the adapter heard so.

The discharge record (``WI2301``, within 30 minutes of the settlement: N§33, B§32) and then
the revocation of that settlement (``WI2305``, N§33, B§31) are each delivered by the upload
worker; a test proxy forwards the call — upstream stores it — and holds upstream's reply back
while the worker's lease is open, and the adapter is killed there. After each restart the job
is sent again under the same msgid and upstream answers it from what it stored: each write
took effect once upstream, every job ends ``delivered`` (none dead, none twice), the
settlement reads as revoked, and the audit chain verifies.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.reliability.holding_proxy import HoldingProxy
from tests.reliability.support import (
    AdapterProcess,
    Desk,
    audit_verify,
    prepare,
    simulator_process,
)
from tests.support.polling import eventually
from upload_queue.admin import list_jobs


def _kill_once_upstream_took(adapter: AdapterProcess, proxy: HoldingProxy) -> None:
    try:
        eventually(lambda: proxy.held, 30, "upstream's reply held back")
    finally:
        adapter.kill9()
    proxy.release()


@pytest.mark.slow
def test_kill_9_between_upstreams_reply_and_the_delivery_record_resends_under_the_same_msgid(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    with simulator_process(tmp_path) as simulator:
        token = prepare(db_url, simulator.url)
        settle = HoldingProxy(simulator.url, hold={"WI2301"})
        revoke = HoldingProxy(simulator.url, hold={"WI2305"})
        with settle.running(), revoke.running():
            adapter = AdapterProcess(db_url, settle.url, tmp_path)
            adapter.start()
            desk = Desk(adapter.base, token, sim_url=simulator.url)
            settled = desk.stay("HV-UPLOAD-1")
            _kill_once_upstream_took(adapter, settle)

            adapter.upstream_url = revoke.url
            adapter.start()
            desk = Desk(adapter.base, token, sim_url=simulator.url)
            eventually(desk.drained, 30, "the discharge record delivered after the restart")
            revoked = desk.call(
                "POST",
                f"/api/v1/settlements/{settled['id']}/revoke",
                json={"reason": "费用明细录入有误，撤销后重新结算"},
            )
            assert revoked.status_code in (200, 201), revoked.text
            _kill_once_upstream_took(adapter, revoke)

            adapter.upstream_url = simulator.url
            adapter.start()
            try:
                desk = Desk(adapter.base, token, sim_url=simulator.url)
                eventually(desk.drained, 30, "the revocation delivered after the restart")
                reply = desk.call("GET", f"/api/v1/settlements/{settled['id']}")
                assert reply.status_code == 200, reply.text
                assert reply.json()["status"] == "revoked"
            finally:
                adapter.stop()
        writes = {w["msgid"]: w for w in simulator.writes()}

    jobs = list_jobs(engine, limit=100)
    assert {job.status for job in jobs} == {"delivered"}
    assert set(writes) == {job.idempotency_key for job in jobs}  # nothing lost, nothing extra
    kinds = Counter(w["infno"] for w in writes.values())
    assert kinds["WI2301"] == 1 and kinds["WI2305"] == 1, kinds
    assert all(w["took_effect"] for w in writes.values()), writes
    resent = {w["infno"] for w in writes.values() if w["times_received"] > 1}
    assert resent == {"WI2301", "WI2305"}  # the kills landed after upstream took each
    verified = audit_verify(db_url, tmp_path)
    assert verified.returncode == 0, verified.stdout + verified.stderr
