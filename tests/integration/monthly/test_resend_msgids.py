"""IT's re-send of an upload job and the msgids it goes under (upstream deduplicates by msgid
alone: the same msgid twice returns the first reply and changes nothing).

* the server and an operator's ``wi-adapter queue retry`` draw msgids from one source shared
  across processes, so a refused job's fresh msgid is never one the server also sends;
* a corrected payload never goes under a msgid an earlier attempt may have committed;
* a revocation names the msgid upstream accepted the settlement's upload under."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from adapter.domain.commands import Admit, Diagnosis
from adapter.domain.encounters import EncounterKind
from adapter.domain.errors import InvalidTransition
from adapter.domain.ports import MsgidSource
from adapter.services.container import Services
from adapter.services.operations import Operations
from adapter.services.settlement import SettleRequest
from adapter.wiring.outbox import QueueJobs
from adapter.wiring.runtime import msgid_source
from connectors.upstream.simulator import SimulatorServer
from tests.integration.monthly.world import DRUG, Desk, SetClock, at, fee
from tests.integration.services.helpers import INSTITUTION, card, filed_part
from tests.integration.services.support import jobs
from upload_queue import UploadQueue, admin

pytestmark = pytest.mark.upstream_outage

SITE = {"fixmedins_code": INSTITUTION, "fixmedins_name": "示例工伤协议医院",
        "kinds": ["medical", "rehab", "device"], "admvs": "110100"}  # fmt: skip


@pytest.fixture
def msgids(engine: Engine, clock: SetClock) -> Iterator[MsgidSource]:
    """The server's msgids as the composition root makes them for this database."""
    source = msgid_source(engine, INSTITUTION, clock)
    yield source
    close = getattr(source, "close", None)
    if close is not None:
        close()


def _operations(db: Engine, queue: UploadQueue, msgids: MsgidSource) -> Operations:
    return Operations(db, jobs=QueueJobs(queue, lambda: None), msgids=msgids, calls=None)  # type: ignore[arg-type]


def _admit(services: Services, clock: SetClock, psn: str, visit: str) -> str:
    clock.set(at(date(2026, 1, 10), 10))
    admitted = services.admissions.admit(
        Admit(card=card(psn), his_visit_id=visit, kind=EncounterKind.MEDICAL,
              admitted_at=at(date(2026, 1, 10), 10), diagnoses=(Diagnosis("S62.301", "骨折"),),
              injury_parts=(filed_part(psn),), department="骨科"),
        actor="admission",
    )  # fmt: skip
    return admitted.encounter.id


def _direct_settlement(sim: SimulatorServer, state: str) -> None:
    seeded = httpx.post(
        f"{sim.url}/_sim/seed", json={"institutions": [{**SITE, "direct_settlement": state}]}
    )
    assert seeded.status_code == 200


def _received(sim: SimulatorServer, msgid: str) -> list[dict[str, Any]]:
    reply = httpx.get(f"{sim.url}/_sim/received", params={"msgid": msgid})
    return list(reply.json()["writes"])


def test_the_clis_fresh_msgid_is_never_one_the_server_sends_in_the_same_second(
    services: Services, clock: SetClock, queue: UploadQueue, sim: SimulatorServer,
    db: Engine, msgids: MsgidSource,
) -> None:  # fmt: skip
    desk = Desk(services, clock)
    a, c = _admit(services, clock, "P001", "V-A"), _admit(services, clock, "P002", "V-C")
    queue.worker().drain()
    clock.set(at(date(2026, 1, 11), 8))
    services.fees.record(a, [fee("A1", DRUG, "36.50", date(2026, 1, 10))], actor="his")
    services.fees.record(c, [fee("C1", DRUG, "36.50", date(2026, 1, 10))], actor="his")
    desk.settle(a, date(2026, 1, 11))
    _direct_settlement(sim, "suspended")  # A's discharge record is refused: dead
    queue.worker().drain()
    _direct_settlement(sim, "enabled")
    clock.set(at(date(2026, 1, 11), 10, 5))
    settled_c = services.settlements.settle(SettleRequest(c, at(date(2026, 1, 11), 9)), actor="b")
    queue.worker().drain()
    refused = next(j for j in jobs(db, kind="WI2301") if j["ordering_key"] == a)
    assert refused["status"] == "dead"

    # in one second the server revokes C, and IT's command — its own runtime, so its own
    # msgid source built the same way for the same database — re-sends A's refused upload
    clock.set(at(date(2026, 1, 11), 11, 30))
    services.revocations.revoke(settled_c.settlement.id, reason="明细有误", actor="b")
    cli = msgid_source(db, INSTITUTION, clock)
    try:
        _operations(db, queue, cli).resend_job(refused["id"], actor="it", via="cli")
    finally:
        close = getattr(cli, "close", None)
        if close is not None:
            close()
    revocation = jobs(db, kind="WI2305")[0]
    resent = jobs(db, id=refused["id"])[0]
    assert revocation["payload"]["msgid"] != resent["payload"]["msgid"]
    queue.worker().drain()
    assert [j["status"] for j in (jobs(db, id=revocation["id"]) + jobs(db, id=resent["id"]))] == [
        "delivered",
        "delivered",
    ]
    # upstream holds both writes, each under its own msgid: C's settlement is revoked there
    (held,) = _received(sim, revocation["payload"]["msgid"])
    assert held["infno"] == "WI2305" and held["times_received"] == 1
    figures = services.context.gateway.reconciliation("2026-01", context="audit")
    assert [s.revoked for s in figures.settlements if s.setl_id == settled_c.settlement.id] == [
        True
    ]


def _settle_with_lost_reply(
    services: Services, clock: SetClock, queue: UploadQueue, sim: SimulatorServer,
    db: Engine,
) -> dict[str, Any]:  # fmt: skip
    encounter = _admit(services, clock, "P001", "V-R")
    queue.worker().drain()
    clock.set(at(date(2026, 1, 12), 10))
    services.fees.record(encounter, [fee("R1", DRUG, "36.50", date(2026, 1, 11))], actor="his")
    assert httpx.post(f"{sim.url}/_sim/faults", json={"drop_reply_after_commit_rate": 1.0})
    Desk(services, clock).settle(encounter, date(2026, 1, 12))
    queue.worker().drain()
    assert httpx.post(f"{sim.url}/_sim/faults", json={}).status_code == 200
    (job,) = jobs(db, kind="WI2301")
    assert job["status"] == "pending" and job["attempts"] == 1  # backing off after a time-out
    return job


def _corrected(payload: dict[str, Any]) -> dict[str, Any]:
    diagnosis = {"diag_code": "S62.302", "diag_name": "更正诊断", "diag_type": "discharge",
                 "diag_srt_no": "1"}  # fmt: skip
    return {**payload, "input": {**payload["input"], "diseinfo": [diagnosis]}}


def test_a_correction_is_refused_once_an_attempt_may_have_reached_upstream(
    services: Services, clock: SetClock, queue: UploadQueue, sim: SimulatorServer,
    db: Engine, msgids: MsgidSource,
) -> None:  # fmt: skip
    job = _settle_with_lost_reply(services, clock, queue, sim, db)
    ops = _operations(db, queue, msgids)
    with pytest.raises(InvalidTransition) as refused:
        ops.resend_job(job["id"], actor="it", payload=_corrected(job["payload"]), note="更正")
    assert refused.value.code == "JOB_MAY_HAVE_TAKEN_EFFECT"
    assert refused.value.field == "payload"
    assert "WI2601" in refused.value.message and job["payload"]["msgid"] in refused.value.message
    assert jobs(db, id=job["id"]) == [job]  # nothing changed
    assert admin.revisions(db, job["id"]) == []
    # a new msgid slipped into the payload is a second, different write just the same
    with pytest.raises(InvalidTransition):
        ops.resend_job(job["id"], actor="it", payload={**job["payload"], "msgid": msgids.next()})
    # re-sent unchanged it goes, and upstream's first reply settles it
    ops.resend_job(job["id"], actor="it", payload=dict(job["payload"]))
    queue.worker().drain()
    (after,) = jobs(db, id=job["id"])
    assert after["status"] == "delivered"
    assert after["payload"]["input"] == job["payload"]["input"]
    (held,) = _received(sim, job["payload"]["msgid"])
    assert held["input"]["diseinfo"] == job["payload"]["input"]["diseinfo"]


def test_a_job_never_attempted_is_corrected_under_its_msgid(
    services: Services, clock: SetClock, queue: UploadQueue, sim: SimulatorServer,
    db: Engine, msgids: MsgidSource,
) -> None:  # fmt: skip
    encounter = _admit(services, clock, "P001", "V-N")
    (job,) = jobs(db, kind="WI2401", ordering_key=encounter)
    corrected = {**job["payload"], "input": {**job["payload"]["input"], "dept_name": "手外科"}}
    _operations(db, queue, msgids).resend_job(job["id"], actor="it", payload=corrected)
    queue.worker().drain()
    (after,) = jobs(db, id=job["id"])
    assert after["status"] == "delivered" and after["payload"]["msgid"] == job["payload"]["msgid"]
    (held,) = _received(sim, job["payload"]["msgid"])
    assert held["input"]["dept_name"] == "手外科"


def test_a_revocation_names_the_msgid_upstream_accepted_after_a_refusal(
    services: Services, clock: SetClock, queue: UploadQueue, sim: SimulatorServer,
    db: Engine, msgids: MsgidSource,
) -> None:  # fmt: skip
    encounter = _admit(services, clock, "P001", "V-O")
    queue.worker().drain()
    clock.set(at(date(2026, 1, 12), 10))
    services.fees.record(encounter, [fee("O1", DRUG, "36.50", date(2026, 1, 11))], actor="his")
    settled = Desk(services, clock).settle(encounter, date(2026, 1, 12))
    _direct_settlement(sim, "suspended")
    queue.worker().drain()
    _direct_settlement(sim, "enabled")
    (job,) = jobs(db, kind="WI2301")
    assert job["status"] == "dead"
    _operations(db, queue, msgids).resend_job(job["id"], actor="it")
    queue.worker().drain()
    (job,) = jobs(db, kind="WI2301")
    accepted = job["payload"]["msgid"]
    assert job["status"] == "delivered" and job["payload"]["refused_msgids"] != [accepted]

    clock.set(at(date(2026, 1, 12), 11))
    services.revocations.revoke(settled.id, reason="明细有误", actor="b")
    (revocation,) = jobs(db, kind="WI2305")
    assert revocation["payload"]["input"]["omsgid"] == accepted
    queue.worker().drain()
    assert jobs(db, kind="WI2305")[0]["status"] == "delivered"
    figures = services.context.gateway.reconciliation("2026-01", context="audit")
    assert [s.revoked for s in figures.settlements if s.setl_id == settled.id] == [True]


def test_a_revocation_queued_behind_a_refused_upload_names_the_msgid_it_was_resent_under(
    services: Services, clock: SetClock, queue: UploadQueue, sim: SimulatorServer,
    db: Engine, msgids: MsgidSource,
) -> None:  # fmt: skip
    """The clerk revokes while the settlement's upload is still refused (dead) — after an
    attempt that met upstream down, so upstream's holding nothing is not certain: the WI2305
    waits behind it. IT then re-sends the upload under a fresh msgid; the revocation goes
    out naming that msgid, not the refused one, and upstream revokes the settlement."""
    encounter = _admit(services, clock, "P001", "V-Q")
    queue.worker().drain()
    clock.set(at(date(2026, 1, 12), 10))
    services.fees.record(encounter, [fee("Q1", DRUG, "36.50", date(2026, 1, 11))], actor="his")
    settled = Desk(services, clock).settle(encounter, date(2026, 1, 12))
    assert httpx.post(f"{sim.url}/_sim/faults", json={"outage": True}).status_code == 200
    queue.worker().drain()  # HTTP 503: backing off
    assert httpx.post(f"{sim.url}/_sim/faults", json={}).status_code == 200
    _direct_settlement(sim, "suspended")
    admin.retry(db, jobs(db, kind="WI2301")[0]["id"], clock.now())  # due now
    queue.worker().drain()
    _direct_settlement(sim, "enabled")
    (upload,) = jobs(db, kind="WI2301")
    refused = upload["payload"]["msgid"]
    assert upload["status"] == "dead"

    clock.set(at(date(2026, 1, 12), 11))
    services.revocations.revoke(settled.id, reason="明细有误", actor="b")
    queue.worker().drain()
    (revocation,) = jobs(db, kind="WI2305")
    assert revocation["status"] == "pending"  # behind the dead upload of its stay
    assert revocation["payload"]["input"]["omsgid"] == refused  # all that was known then

    _operations(db, queue, msgids).resend_job(upload["id"], actor="it")
    queue.worker().drain()
    (upload,) = jobs(db, kind="WI2301")
    accepted = upload["payload"]["msgid"]
    assert upload["status"] == "delivered" and accepted != refused
    (revocation,) = jobs(db, kind="WI2305")
    assert revocation["status"] == "delivered"
    (sent,) = _received(sim, revocation["payload"]["msgid"])
    assert sent["input"]["omsgid"] == accepted
    figures = services.context.gateway.reconciliation("2026-01", context="audit")
    assert [s.revoked for s in figures.settlements if s.setl_id == settled.id] == [True]
