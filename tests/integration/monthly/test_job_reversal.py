"""IT reverses the write of a dead job before correcting it (WI2601, interfaces.md).

A discharge record whose reply was lost may hold upstream under its msgid: a correction under
that msgid would be recorded as delivered while upstream keeps the first content
(``JOB_MAY_HAVE_TAKEN_EFFECT``). The way out the refusal names: have upstream reverse the
write (``omsgid`` = its msgid, ``oinfno`` = its kind), queued like every write, and once the
reversal is delivered send the job again — corrected or not — under a fresh msgid."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine, select

from adapter.domain.errors import InvalidTransition
from adapter.domain.ports import MsgidSource
from adapter.services.container import Services
from adapter.services.operations import Operations, reversal_key
from adapter.services.uploads import fee_details
from adapter.store.tables.audit import AuditEntryRow
from adapter.wiring.outbox import QueueJobs, QueueOutbox, register_upload_handlers
from connectors.upstream.client import ReferenceClient
from connectors.upstream.simulator import SimulatorServer
from tests.integration.monthly.test_resend_msgids import _admit, _corrected, _direct_settlement
from tests.integration.monthly.test_resend_msgids import msgids as msgids  # the server's msgids
from tests.integration.monthly.world import DRUG, ZONE, Desk, SetClock, at, fee
from tests.integration.services.support import jobs
from upload_queue import UploadQueue
from upload_queue.retry import RetryPolicy

pytestmark = pytest.mark.upstream_outage


@pytest.fixture
def queue(db: Engine, client: ReferenceClient) -> UploadQueue:  # type: ignore[override]
    """One attempt per round: a write whose reply is lost is dead at once, for IT."""
    queue = UploadQueue(db, registry=CollectorRegistry(), policy=RetryPolicy(max_attempts=1))
    register_upload_handlers(queue, client, fee_details(db, ZONE))
    return queue


def _operations(db: Engine, queue: UploadQueue, msgids: MsgidSource, clock: SetClock) -> Operations:
    return Operations(
        db, jobs=QueueJobs(queue, lambda: None), msgids=msgids, calls=None,  # type: ignore[arg-type]  # no reads re-sent here
        outbox=QueueOutbox(queue), now=clock.now,
    )  # fmt: skip


def _received(sim: SimulatorServer, msgid: str) -> list[dict[str, Any]]:
    return list(httpx.get(f"{sim.url}/_sim/received", params={"msgid": msgid}).json()["writes"])


def _faults(sim: SimulatorServer, **faults: float) -> None:
    assert httpx.post(f"{sim.url}/_sim/faults", json=faults).status_code == 200


def _dead_after_lost_reply(
    services: Services, clock: SetClock, queue: UploadQueue, sim: SimulatorServer, db: Engine,
    visit: str = "V-R",
) -> dict[str, Any]:  # fmt: skip
    encounter = _admit(services, clock, "P001", visit)
    queue.worker().drain()
    clock.set(at(date(2026, 1, 12), 10))
    services.fees.record(encounter, [fee("R1", DRUG, "36.50", date(2026, 1, 11))], actor="his")
    _faults(sim, drop_reply_after_commit_rate=1.0)
    Desk(services, clock).settle(encounter, date(2026, 1, 12))
    queue.worker().drain()
    _faults(sim)
    (job,) = jobs(db, kind="WI2301")
    assert job["status"] == "dead"
    return job


def test_a_write_upstream_took_is_reversed_then_corrected_under_a_fresh_msgid(
    services: Services, clock: SetClock, queue: UploadQueue, sim: SimulatorServer,
    db: Engine, msgids: MsgidSource,
) -> None:  # fmt: skip
    job = _dead_after_lost_reply(services, clock, queue, sim, db)
    first = job["payload"]["msgid"]
    (held,) = _received(sim, first)  # upstream took it; only the reply was lost
    ops = _operations(db, queue, msgids, clock)
    with pytest.raises(InvalidTransition) as refused:
        ops.resend_job(job["id"], actor="it", payload=_corrected(job["payload"]))
    assert refused.value.code == "JOB_MAY_HAVE_TAKEN_EFFECT"

    queued = ops.reverse_job(job["id"], actor="信息科-01", note="诊断有误，冲正后更正")
    (reversal,) = jobs(db, kind="WI2601")
    assert reversal["id"] == queued.job_id and reversal["idempotency_key"] == reversal_key(first)
    assert reversal["payload"]["input"] == {"omsgid": first, "oinfno": "WI2301"}
    assert reversal["payload"]["msgid"] not in (first, reversal["idempotency_key"])
    # until the reversal is delivered the job is not sent again, corrected or not
    for payload in (None, _corrected(job["payload"])):
        with pytest.raises(InvalidTransition) as pending:
            ops.resend_job(job["id"], actor="it", payload=payload)
        assert pending.value.code == "JOB_REVERSAL_PENDING"
    with pytest.raises(InvalidTransition) as twice:
        ops.reverse_job(job["id"], actor="it")
    assert twice.value.code == "JOB_REVERSAL_EXISTS"
    assert jobs(db, id=job["id"])[0]["status"] == "dead"
    assert ops.reversal_statuses([first, "never-reversed", ""]) == {first: "pending"}

    queue.worker().drain()
    assert jobs(db, id=reversal["id"])[0]["status"] == "delivered"
    assert ops.reversal_statuses([first]) == {first: "delivered"}
    (reversed_write,) = _received(sim, reversal["payload"]["msgid"])
    assert reversed_write["infno"] == "WI2601" and held["infno"] == "WI2301"

    ops.resend_job(job["id"], actor="it", payload=_corrected(job["payload"]), note="更正诊断")
    (resent,) = jobs(db, id=job["id"])
    fresh = resent["payload"]["msgid"]
    assert fresh != first and resent["payload"]["reversed_msgids"] == [first]
    queue.worker().drain()
    assert jobs(db, id=job["id"])[0]["status"] == "delivered"
    (corrected,) = _received(sim, fresh)
    assert corrected["input"]["diseinfo"][0]["diag_code"] == "S62.302"
    assert _received(sim, first)[0]["input"]["diseinfo"] == held["input"]["diseinfo"]

    with db.connect() as connection:
        actions = connection.execute(
            select(AuditEntryRow.action, AuditEntryRow.actor).where(  # type: ignore[call-overload]
                AuditEntryRow.action.in_(["queue.reverse", "queue.retry"])  # type: ignore[attr-defined]
            )
        ).all()
    assert ("queue.reverse", "信息科-01") in [tuple(a) for a in actions]


def test_resent_unchanged_after_the_reversal_it_still_goes_under_a_fresh_msgid(
    services: Services, clock: SetClock, queue: UploadQueue, sim: SimulatorServer,
    db: Engine, msgids: MsgidSource,
) -> None:  # fmt: skip
    """Under the reversed msgid upstream would answer with its first reply, and the write
    would be recorded as delivered while upstream holds it reversed."""
    job = _dead_after_lost_reply(services, clock, queue, sim, db)
    ops = _operations(db, queue, msgids, clock)
    ops.reverse_job(job["id"], actor="it")
    queue.worker().drain()
    ops.resend_job(job["id"], actor="it")
    (resent,) = jobs(db, id=job["id"])
    assert resent["payload"]["msgid"] != job["payload"]["msgid"]
    assert resent["payload"]["input"] == job["payload"]["input"]
    queue.worker().drain()
    assert jobs(db, id=job["id"])[0]["status"] == "delivered"
    assert len(_received(sim, resent["payload"]["msgid"])) == 1


def test_only_a_dead_write_that_may_have_reached_upstream_is_reversed(
    services: Services, clock: SetClock, queue: UploadQueue, sim: SimulatorServer,
    db: Engine, msgids: MsgidSource,
) -> None:  # fmt: skip
    ops = _operations(db, queue, msgids, clock)
    encounter = _admit(services, clock, "P001", "V-A")
    (admission,) = jobs(db, kind="WI2401")
    with pytest.raises(InvalidTransition) as waiting:  # pending, never attempted
        ops.reverse_job(admission["id"], actor="it")
    assert waiting.value.code == "JOB_NOT_REVERSIBLE" and "“等待上传”" in waiting.value.message
    queue.worker().drain()
    with pytest.raises(InvalidTransition) as delivered:
        ops.reverse_job(admission["id"], actor="it")
    assert delivered.value.code == "JOB_NOT_REVERSIBLE" and "WI2305" in delivered.value.message
    assert "“已送达”" in delivered.value.message and "delivered" not in delivered.value.message

    clock.set(at(date(2026, 1, 11), 8))
    services.fees.record(encounter, [fee("A1", DRUG, "36.50", date(2026, 1, 10))], actor="his")
    Desk(services, clock).settle(encounter, date(2026, 1, 11))
    _direct_settlement(sim, "suspended")  # the upload refused: it took no effect upstream
    queue.worker().drain()
    _direct_settlement(sim, "enabled")
    (refused,) = jobs(db, kind="WI2301")
    assert refused["status"] == "dead"
    with pytest.raises(InvalidTransition) as nothing:
        ops.reverse_job(refused["id"], actor="it")
    assert nothing.value.code == "JOB_NOTHING_TO_REVERSE"
    assert jobs(db, kind="WI2601") == []


def test_a_reversal_that_died_is_itself_resent_not_reversed(
    services: Services, clock: SetClock, queue: UploadQueue, sim: SimulatorServer,
    db: Engine, msgids: MsgidSource,
) -> None:  # fmt: skip
    job = _dead_after_lost_reply(services, clock, queue, sim, db)
    ops = _operations(db, queue, msgids, clock)
    _faults(sim, error_rate=1.0)  # upstream busy: the reversal dies (one attempt a round)
    ops.reverse_job(job["id"], actor="it")
    queue.worker().drain()
    _faults(sim)
    (reversal,) = jobs(db, kind="WI2601")
    assert reversal["status"] == "dead"
    with pytest.raises(InvalidTransition) as again:
        ops.reverse_job(reversal["id"], actor="it")
    assert again.value.code == "JOB_IS_REVERSAL"
    with pytest.raises(InvalidTransition) as pending:
        ops.resend_job(job["id"], actor="it")
    assert pending.value.code == "JOB_REVERSAL_PENDING"
    ops.resend_job(reversal["id"], actor="it")
    queue.worker().drain()
    assert jobs(db, id=reversal["id"])[0]["status"] == "delivered"
    ops.resend_job(job["id"], actor="it")
    queue.worker().drain()
    assert jobs(db, id=job["id"])[0]["status"] == "delivered"
