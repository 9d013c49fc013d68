"""A settlement upload answered "already received" (infcode ≠ 0) is not a refusal.

The contract answers a repeated msgid with its first reply (interfaces.md §3). A receiver that
answers with an error saying it has the message already may hold the settlement: recorded as
a refusal (certainly without effect), the stay's revocation would be withdrawn with it and
a re-settlement would reach upstream beside the first — the stay paid twice (N§33)."""

from __future__ import annotations

from datetime import date

import httpx
import pytest
from sqlalchemy import Engine

from adapter.services.container import Services
from connectors.upstream.simulator import SimulatorServer
from tests.integration.monthly.test_resend_msgids import _admit
from tests.integration.monthly.test_revoke_refused import (  # the same queue, one attempt
    _received,
    _revoke_and_settle_again,
    queue,
)
from tests.integration.monthly.world import DRUG, Desk, SetClock, at, fee
from tests.integration.services.support import jobs
from upload_queue import UploadQueue, admin

__all__ = ["queue"]  # the fixture, shared

pytestmark = pytest.mark.upstream_outage


def test_n33_a_settlement_upload_answered_already_received_holds_its_revocation_back(
    services: Services, clock: SetClock, queue: UploadQueue, sim: SimulatorServer, db: Engine
) -> None:
    encounter = _admit(services, clock, "P001", "V-R")
    queue.worker().drain()
    clock.set(at(date(2026, 1, 12), 10))
    services.fees.record(encounter, [fee("R1", DRUG, "36.50", date(2026, 1, 11))], actor="his")
    settled = Desk(services, clock).settle(encounter, date(2026, 1, 12))
    shape = {"infcode": -1, "err_msg": "重复上传：该结算信息已接收，请勿重复提交"}
    response = httpx.post(f"{sim.url}/_sim/next_reply", json={"infno": "WI2301", "envelope": shape})
    assert response.status_code == 200
    queue.worker().drain()

    (first,) = jobs(db, kind="WI2301")
    assert first["status"] == "dead"
    assert "重复上传" in first["last_error"]  # upstream's own words for IT
    assert [a.outcome for a in admin.attempts(db, first["id"])] == ["permanent"]
    (held,) = _received(sim, "WI2301")
    assert held["took_effect"]  # upstream holds it: its revocation must reach upstream

    _revoke_and_settle_again(services, clock, encounter, settled.id)
    queue.worker().drain()
    (revocation,) = jobs(db, kind="WI2305")
    first, again = jobs(db, kind="WI2301")
    assert (first["status"], revocation["status"], again["status"]) == (
        "dead",
        "pending",
        "pending",
    )
    assert [w["msgid"] for w in _received(sim, "WI2301") if w["took_effect"]] == [
        first["payload"]["msgid"]
    ]  # not a second settlement of the stay beside the first
    assert admin.held_back_by(db, [revocation["id"]]) == {revocation["id"]: first["id"]}
