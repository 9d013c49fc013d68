"""A stay whose discharge record (WI2301) upstream refused is revoked and settled again.

The revocation (WI2305) is queued behind the dead WI2301 (one ordering key, the stay), and the
re-settlement's WI2301 behind both: nothing of the stay reaches upstream until IT acts, and the
re-settlement's 30 minutes (N§33, B§32) pass.

Whether the WI2305 may be left unsent depends on what upstream may hold: only when every
attempt of the refused WI2301 was answered with a business refusal (infcode ≠ 0) does upstream
certainly hold no settlement from it. After a lost reply it may hold one, and a re-settlement
without the revocation would pay the stay twice."""

from __future__ import annotations

import json
import logging
from datetime import date
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine, select

from adapter.services.container import Services
from adapter.services.uploads import fee_details
from adapter.store.tables.audit import AuditEntryRow
from adapter.wiring.outbox import register_upload_handlers
from connectors.upstream.client import ReferenceClient
from connectors.upstream.simulator import SimulatorServer
from tests.integration.monthly.test_resend_msgids import _admit, _direct_settlement
from tests.integration.monthly.world import DRUG, ZONE, Desk, SetClock, at, fee
from tests.integration.services.support import jobs
from upload_queue import UploadQueue, admin
from upload_queue.retry import RetryPolicy

pytestmark = pytest.mark.upstream_outage


@pytest.fixture
def queue(db: Engine, client: ReferenceClient, services: Services) -> UploadQueue:
    """One attempt per round: a write whose reply is lost is dead at once, as a refused one.
    A settlement upload dead on a refusal is told to the revocations, as the runtime does."""
    queue = UploadQueue(db, registry=CollectorRegistry(), policy=RetryPolicy(max_attempts=1))
    refused = services.revocations.after_refusal
    register_upload_handlers(queue, client, fee_details(db, ZONE), refused)
    return queue


def _audit(db: Engine, action: str) -> list[dict[str, Any]]:
    with db.connect() as connection:
        rows = connection.execute(
            select(AuditEntryRow.details).where(AuditEntryRow.action == action)  # type: ignore[call-overload]  # SQLModel column
        ).scalars()
        return [json.loads(details) for details in rows]


def _received(sim: SimulatorServer, infno: str) -> list[dict[str, Any]]:
    reply = httpx.get(f"{sim.url}/_sim/received", params={"infno": infno})
    return list(reply.json()["writes"])


def _faults(sim: SimulatorServer, **faults: float) -> None:
    assert httpx.post(f"{sim.url}/_sim/faults", json=faults).status_code == 200


def _settled_then_dead(
    services: Services, clock: SetClock, queue: UploadQueue, sim: SimulatorServer, db: Engine,
    *, lost_reply: bool,
) -> tuple[str, str, dict[str, Any]]:  # fmt: skip
    """A stay settled on 12 January whose WI2301 went dead: refused by upstream (direct
    settlement suspended for the institution), or its reply lost after upstream took it."""
    encounter = _admit(services, clock, "P001", "V-R")
    queue.worker().drain()
    clock.set(at(date(2026, 1, 12), 10))
    services.fees.record(encounter, [fee("R1", DRUG, "36.50", date(2026, 1, 11))], actor="his")
    settled = Desk(services, clock).settle(encounter, date(2026, 1, 12))
    if lost_reply:
        _faults(sim, drop_reply_after_commit_rate=1.0)
    else:  # after the desk's own check: the upload finds it suspended
        _direct_settlement(sim, "suspended")
    queue.worker().drain()
    _faults(sim)
    _direct_settlement(sim, "enabled")
    (job,) = jobs(db, kind="WI2301")
    assert job["status"] == "dead"
    return encounter, settled.id, job


def _revoke_and_settle_again(
    services: Services, clock: SetClock, encounter: str, settlement_id: str
) -> None:
    clock.set(at(date(2026, 1, 12), 11))
    services.revocations.revoke(settlement_id, reason="诊断有误，撤销后重新结算", actor="结算处-01")
    Desk(services, clock).settle(encounter, date(2026, 1, 12))


def test_n33_b32_a_refused_settlement_revoked_and_settled_again_reaches_upstream_at_once(
    services: Services, clock: SetClock, queue: UploadQueue, sim: SimulatorServer, db: Engine,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    encounter, settlement_id, refused = _settled_then_dead(
        services, clock, queue, sim, db, lost_reply=False
    )
    outcomes = [a.outcome for a in admin.attempts(db, refused["id"])]
    assert outcomes == ["permanent"]  # infcode -1: upstream took nothing
    assert [w["reply"]["infcode"] for w in _received(sim, "WI2301")] == [-1]

    with caplog.at_level(logging.WARNING, logger="adapter"):
        _revoke_and_settle_again(services, clock, encounter, settlement_id)
    queue.worker().drain()

    first, again = jobs(db, kind="WI2301")
    assert again["status"] == "delivered"
    assert _received(sim, "WI2305") == []  # nothing to revoke upstream
    assert [w["msgid"] for w in _received(sim, "WI2301") if w["took_effect"]] == [
        again["payload"]["msgid"]
    ]  # upstream holds the stay's settlement once
    (revocation,) = jobs(db, kind="WI2305")
    assert {first["status"], revocation["status"]} == {"withdrawn"}
    assert "无需上传" in revocation["last_error"] and revocation["withdrawn_at"] is not None
    # IT sees both in the queue, the audit log and the log, with the reason
    assert admin.list_jobs(db, status="withdrawn") == [
        admin.get_job(db, first["id"]),
        admin.get_job(db, revocation["id"]),
    ]
    (withdrawal,) = _audit(db, "upload.withdraw")
    assert withdrawal["revocation_job"] == revocation["id"]
    assert _audit(db, "settlement.revoke")[0]["withdrawn_job_ids"] == [first["id"]]
    (event,) = [r for r in caplog.records if getattr(r, "event", "") == "upload_withdrawn"]
    assert (event.job_id, event.revocation_job, event.encounter) == (  # type: ignore[attr-defined]
        first["id"], revocation["id"], encounter,
    )  # fmt: skip
    assert services.encounter(encounter).encounter.status.value == "settled"


def test_n33_a_revocation_behind_a_settlement_upstream_may_hold_still_waits_for_it(
    services: Services, clock: SetClock, queue: UploadQueue, sim: SimulatorServer, db: Engine,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    """The WI2301's reply was lost: upstream took it. The WI2305 must reach upstream before the
    re-settlement does, so both wait behind the dead WI2301 until IT re-sends it."""
    encounter, settlement_id, dead = _settled_then_dead(
        services, clock, queue, sim, db, lost_reply=True
    )
    assert [a.outcome for a in admin.attempts(db, dead["id"])] == ["transient"]
    (held,) = _received(sim, "WI2301")
    assert held["took_effect"]  # skipping the revocation would pay the stay twice

    with caplog.at_level(logging.WARNING, logger="adapter"):
        _revoke_and_settle_again(services, clock, encounter, settlement_id)
    queue.worker().drain()

    (revocation,) = jobs(db, kind="WI2305")
    first, again = jobs(db, kind="WI2301")
    assert (first["status"], revocation["status"], again["status"]) == (
        "dead",
        "pending",
        "pending",
    )
    assert _received(sim, "WI2305") == []
    # IT sees which job holds the stay back, and that job's lost reply
    assert admin.held_back_by(db, [revocation["id"], again["id"]]) == {
        revocation["id"]: first["id"],
        again["id"]: first["id"],
    }
    revoked = _audit(db, "settlement.revoke")[0]
    assert revoked["revocation_waits_for"] == first["id"] and "结果不确定" in revoked["why"]
    (event,) = [r for r in caplog.records if getattr(r, "event", "") == "revocation_held_back"]
    assert (event.held_back_by, event.revocation_job) == (first["id"], revocation["id"])  # type: ignore[attr-defined]
    assert _audit(db, "upload.withdraw") == []

    admin.retry(db, first["id"], clock.now())  # today's way out: re-send it unchanged
    queue.worker().drain()
    statuses = [j["status"] for j in jobs(db, ordering_key=encounter)]
    assert statuses == ["delivered"] * 4
    assert [w["infno"] for w in httpx.get(f"{sim.url}/_sim/received").json()["writes"]][-2:] == [
        "WI2305",
        "WI2301",
    ]
    effective = [w["msgid"] for w in _received(sim, "WI2301") if w["took_effect"]]
    revoked = _received(sim, "WI2305")[0]["input"]["omsgid"]
    assert revoked == first["payload"]["msgid"] and len(effective) == 2


def test_n33_a_settlement_refused_after_its_revocation_was_queued_frees_the_stay(
    services: Services, clock: SetClock, queue: UploadQueue, sim: SimulatorServer, db: Engine
) -> None:
    """The clerk revokes and settles again before the first WI2301 was tried; it is then
    refused. Upstream holds nothing: the revocation behind it is withdrawn with it, and the
    re-settlement goes in the same drain."""
    encounter = _admit(services, clock, "P001", "V-R")
    queue.worker().drain()
    clock.set(at(date(2026, 1, 12), 10))
    services.fees.record(encounter, [fee("R1", DRUG, "36.50", date(2026, 1, 11))], actor="his")
    settled = Desk(services, clock).settle(encounter, date(2026, 1, 12))
    _revoke_and_settle_again(services, clock, encounter, settled.id)
    assert [j["status"] for j in jobs(db, ordering_key=encounter)] == ["delivered"] + [
        "pending"
    ] * 3
    _direct_settlement(sim, "suspended")
    worker = queue.worker()
    worker.drain(max_jobs=1)  # the first WI2301, refused
    _direct_settlement(sim, "enabled")
    worker.drain()

    first, again = jobs(db, kind="WI2301")
    (revocation,) = jobs(db, kind="WI2305")
    assert (first["status"], revocation["status"], again["status"]) == (
        "withdrawn", "withdrawn", "delivered",
    )  # fmt: skip
    assert _received(sim, "WI2305") == []
    assert [w["msgid"] for w in _received(sim, "WI2301") if w["took_effect"]] == [
        again["payload"]["msgid"]
    ]
    (withdrawal,) = _audit(db, "upload.withdraw")
    assert withdrawal["revocation_job"] == revocation["id"]


def test_n33_a_settlement_refused_after_an_outage_attempt_keeps_its_revocation_owed(
    services: Services, clock: SetClock, queue: UploadQueue, sim: SimulatorServer, db: Engine
) -> None:
    """One attempt met upstream down (HTTP 503), the re-send was refused. Upstream most likely
    holds nothing, but the 503 is not its word on the write: the revocation is still owed."""
    encounter = _admit(services, clock, "P001", "V-R")
    queue.worker().drain()
    clock.set(at(date(2026, 1, 12), 10))
    services.fees.record(encounter, [fee("R1", DRUG, "36.50", date(2026, 1, 11))], actor="his")
    settled = Desk(services, clock).settle(encounter, date(2026, 1, 12))
    _faults(sim, outage=True)
    queue.worker().drain()
    _faults(sim)
    (first,) = jobs(db, kind="WI2301")
    _direct_settlement(sim, "suspended")
    admin.retry(db, first["id"], clock.now())
    queue.worker().drain()
    _direct_settlement(sim, "enabled")
    assert [(a.outcome, a.refused) for a in admin.attempts(db, first["id"])] == [
        ("transient", False),
        ("permanent", True),
    ]

    _revoke_and_settle_again(services, clock, encounter, settled.id)
    queue.worker().drain()
    assert [(j["kind"], j["status"]) for j in jobs(db, ordering_key=encounter)][1:] == [
        ("WI2301", "dead"), ("WI2305", "pending"), ("WI2301", "pending"),
    ]  # fmt: skip
    assert _received(sim, "WI2305") == [] and _audit(db, "upload.withdraw") == []
    assert _audit(db, "settlement.revoke")[0]["revocation_waits_for"] == first["id"]
