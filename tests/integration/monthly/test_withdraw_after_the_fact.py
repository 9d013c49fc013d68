"""IT withdraws a dead settlement upload the adapter did not withdraw by itself, and a reversal
delivered frees a revoked stay (N§33, B§32).

A WI2301 upstream refused every time, whose settlement was revoked, is withdrawn with its
WI2305 when the refusal comes (test_revoke_refused). When that did not happen — the refusal
predates the withdrawal, or the queue's hook failed — ``Operations.withdraw_job`` (``wi-adapter
queue withdraw``, the REST route, the IT page) does the same, with the same check. A WI2301
whose reply was lost may hold upstream: once IT had it reversed (WI2601) and upstream
acknowledged the reversal, upstream holds nothing, and the two are withdrawn as soon as the
reversal is delivered; a reversal pending or dead counts for nothing."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from adapter.domain.errors import InvalidTransition
from adapter.domain.ports import MsgidSource
from adapter.services.container import Services
from adapter.services.operations import Operations
from adapter.services.uploads import fee_details
from adapter.wiring.outbox import register_upload_handlers
from connectors.upstream.client import ReferenceClient
from connectors.upstream.simulator import SimulatorServer
from tests.integration.monthly.test_job_reversal import _operations
from tests.integration.monthly.test_resend_msgids import _admit, _direct_settlement
from tests.integration.monthly.test_resend_msgids import msgids as msgids  # the server's msgids
from tests.integration.monthly.test_revoke_refused import (
    _audit,
    _faults,
    _received,
    _revoke_and_settle_again,
    _settled_then_dead,
)
from tests.integration.monthly.world import DRUG, ZONE, Desk, SetClock, at, fee
from tests.integration.services.support import jobs
from upload_queue import UploadQueue
from upload_queue.retry import RetryPolicy

pytestmark = pytest.mark.upstream_outage


def _broken(*_: object) -> None:
    raise RuntimeError("database restarted under the hook")


@pytest.fixture
def queue(db: Engine, client: ReferenceClient, services: Services) -> UploadQueue:  # type: ignore[override]
    """As the runtime registers it — the refusal and the reversal told to the revocations —
    one attempt a round (a lost reply is dead at once)."""
    queue = UploadQueue(db, registry=CollectorRegistry(), policy=RetryPolicy(max_attempts=1))
    revocations = services.revocations
    register_upload_handlers(
        queue, client, fee_details(db, ZONE), revocations.after_refusal, revocations.after_reversal
    )
    return queue


@pytest.fixture
def hookless(db: Engine, client: ReferenceClient) -> UploadQueue:
    """A queue whose hooks fail, as when the database went away under them."""
    queue = UploadQueue(db, registry=CollectorRegistry(), policy=RetryPolicy(max_attempts=1))
    register_upload_handlers(queue, client, fee_details(db, ZONE), _broken, _broken)
    return queue


def _revoked_then_refused(
    services: Services, clock: SetClock, queue: UploadQueue, sim: SimulatorServer
) -> str:
    """A stay settled, revoked and settled again before its first WI2301 was tried, which
    upstream then refused (direct settlement suspended for the institution)."""
    encounter = _admit(services, clock, "P001", "V-W")
    queue.worker().drain()
    clock.set(at(date(2026, 1, 12), 10))
    services.fees.record(encounter, [fee("R1", DRUG, "36.50", date(2026, 1, 11))], actor="his")
    settled = Desk(services, clock).settle(encounter, date(2026, 1, 12))
    _revoke_and_settle_again(services, clock, encounter, settled.id)
    _direct_settlement(sim, "suspended")
    queue.worker().drain(max_jobs=1)
    _direct_settlement(sim, "enabled")
    return encounter


def _stay(db: Engine, encounter: str) -> list[tuple[str, str]]:
    return [(j["kind"], j["status"]) for j in jobs(db, ordering_key=encounter)]


def _refused(ops: Operations, job_id: int, code: str) -> str:
    with pytest.raises(InvalidTransition) as refused:
        ops.withdraw_job(job_id, actor="信息科-01")
    assert refused.value.code == code, refused.value.message
    return refused.value.message


def test_it_withdraws_a_refused_revoked_upload_the_hook_missed_and_the_stay_goes_on(
    services: Services, clock: SetClock, hookless: UploadQueue, sim: SimulatorServer,
    db: Engine, msgids: MsgidSource, caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    with caplog.at_level(logging.ERROR, logger="upload_queue"):
        encounter = _revoked_then_refused(services, clock, hookless, sim)
    assert "on_refused_failed" in [getattr(r, "event", "") for r in caplog.records]
    hookless.worker().drain()
    held = [("WI2401", "delivered"), ("WI2301", "dead"), ("WI2305", "pending"),
            ("WI2301", "pending")]  # fmt: skip
    assert _stay(db, encounter) == held  # the re-settlement waits: its 30 minutes run
    first, again = jobs(db, kind="WI2301")
    (revocation,) = jobs(db, kind="WI2305")
    ops = _operations(db, hookless, msgids, clock)

    with caplog.at_level(logging.WARNING, logger="adapter"):
        done = ops.withdraw_job(first["id"], actor="信息科-01", via="cli")
    assert (done.job_id, done.revocation_job, done.already) == (
        first["id"], revocation["id"], False,
    )  # fmt: skip
    hookless.worker().drain()
    assert _stay(db, encounter)[1:] == [
        ("WI2301", "withdrawn"), ("WI2305", "withdrawn"), ("WI2301", "delivered"),
    ]  # fmt: skip
    assert _received(sim, "WI2305") == []  # nothing to revoke upstream
    assert [w["msgid"] for w in _received(sim, "WI2301") if w["took_effect"]] == [
        again["payload"]["msgid"]
    ]
    (withdrawn,) = jobs(db, id=first["id"])
    assert "每次发送均被上级系统拒绝" in withdrawn["last_error"]
    (audited,) = _audit(db, "upload.withdraw")
    assert (audited["revocation_job"], audited["via"]) == (revocation["id"], "cli")
    (event,) = [r for r in caplog.records if getattr(r, "event", "") == "upload_withdrawn"]
    assert (event.job_id, event.encounter) == (first["id"], encounter)  # type: ignore[attr-defined]

    again_done = ops.withdraw_job(first["id"], actor="信息科-02")  # answered, nothing new
    assert (again_done.revocation_job, again_done.already) == (revocation["id"], True)
    assert len(_audit(db, "upload.withdraw")) == 1


def test_JOB_NOT_REVOKED_a_refused_upload_whose_settlement_stands_is_corrected_not_withdrawn(
    services: Services, clock: SetClock, queue: UploadQueue, sim: SimulatorServer,
    db: Engine, msgids: MsgidSource,
) -> None:  # fmt: skip
    encounter, _, dead = _settled_then_dead(services, clock, queue, sim, db, lost_reply=False)
    message = _refused(_operations(db, queue, msgids, clock), dead["id"], "JOB_NOT_REVOKED")
    assert "没有撤销" in message and "更正后重发" in message
    assert _stay(db, encounter) == [("WI2401", "delivered"), ("WI2301", "dead")]
    assert _audit(db, "upload.withdraw") == []


def test_JOB_MAY_HOLD_SETTLEMENT_an_upload_whose_reply_was_lost_is_reversed_first(
    services: Services, clock: SetClock, queue: UploadQueue, sim: SimulatorServer,
    db: Engine, msgids: MsgidSource,
) -> None:  # fmt: skip
    encounter, settlement_id, dead = _settled_then_dead(
        services, clock, queue, sim, db, lost_reply=True
    )
    _revoke_and_settle_again(services, clock, encounter, settlement_id)
    before = _stay(db, encounter)
    message = _refused(_operations(db, queue, msgids, clock), dead["id"], "JOB_MAY_HOLD_SETTLEMENT")
    assert "1次发送结果不确定" in message and "先冲正原交易（WI2601）" in message
    assert "原样重发" in message
    assert _stay(db, encounter) == before == [
        ("WI2401", "delivered"), ("WI2301", "dead"), ("WI2305", "pending"), ("WI2301", "pending"),
    ]  # fmt: skip
    assert _audit(db, "upload.withdraw") == []


def test_JOB_NOT_WITHDRAWABLE_only_a_dead_settlement_upload_is_withdrawn(
    services: Services, clock: SetClock, queue: UploadQueue, sim: SimulatorServer,
    db: Engine, msgids: MsgidSource,
) -> None:  # fmt: skip
    encounter = _revoked_then_refused(services, clock, queue, sim)  # withdrawn by the hook
    admission, _, _, again = jobs(db, ordering_key=encounter)
    ops = _operations(db, queue, msgids, clock)
    assert "不是结算上传" in _refused(ops, admission["id"], "JOB_NOT_WITHDRAWABLE")
    assert "“等待上传”" in _refused(ops, again["id"], "JOB_NOT_WITHDRAWABLE")
    assert [s for _, s in _stay(db, encounter)] == ["delivered", "withdrawn", "withdrawn",
                                                     "pending"]  # fmt: skip


def _reversed(
    services: Services, clock: SetClock, queue: UploadQueue, sim: SimulatorServer, db: Engine,
    ops: Operations,
) -> tuple[str, dict[str, Any], dict[str, Any]]:  # fmt: skip
    """A stay whose WI2301 lost its reply (upstream took it), revoked and settled again, and
    the WI2301's reversal queued by IT: the stay's dead upload, the reversal job."""
    encounter, settlement_id, dead = _settled_then_dead(
        services, clock, queue, sim, db, lost_reply=True
    )
    _revoke_and_settle_again(services, clock, encounter, settlement_id)
    queued = ops.reverse_job(dead["id"], actor="信息科-01")
    return encounter, dead, jobs(db, id=queued.job_id)[0]


def test_n33_a_reversal_upstream_acknowledged_withdraws_the_revoked_upload_at_once(
    services: Services, clock: SetClock, queue: UploadQueue, sim: SimulatorServer,
    db: Engine, msgids: MsgidSource,
) -> None:  # fmt: skip
    ops = _operations(db, queue, msgids, clock)
    encounter, dead, reversal = _reversed(services, clock, queue, sim, db, ops)
    queue.worker().drain()
    assert jobs(db, id=reversal["id"])[0]["status"] == "delivered"
    first, again = jobs(db, kind="WI2301")
    assert _stay(db, encounter)[1:] == [
        ("WI2301", "withdrawn"), ("WI2305", "withdrawn"), ("WI2301", "delivered"),
    ]  # fmt: skip
    assert _received(sim, "WI2305") == []  # the reversal undid it: nothing left to revoke
    taken = [w["msgid"] for w in _received(sim, "WI2301") if w["took_effect"]]
    assert taken == [again["payload"]["msgid"]]  # upstream holds the stay's settlement once
    (undid,) = _received(sim, "WI2601")
    assert undid["input"]["omsgid"] == first["payload"]["msgid"]
    assert "冲正（WI2601）撤销并经上级系统确认" in first["last_error"]
    (audited,) = _audit(db, "upload.withdraw")
    assert "reversed by a WI2601" in audited["why"]
    assert ops.withdraw_job(dead["id"], actor="信息科-01").already


def test_a_reversal_pending_or_dead_withdraws_nothing_until_it_is_delivered(
    services: Services, clock: SetClock, queue: UploadQueue, sim: SimulatorServer,
    db: Engine, msgids: MsgidSource,
) -> None:  # fmt: skip
    ops = _operations(db, queue, msgids, clock)
    encounter, dead, reversal = _reversed(services, clock, queue, sim, db, ops)
    held = _stay(db, encounter)
    pending = _refused(ops, dead["id"], "JOB_MAY_HOLD_SETTLEMENT")
    assert "冲正（WI2601）尚未送达" in pending
    _faults(sim, error_rate=1.0)  # upstream busy: the reversal dies
    queue.worker().drain()
    _faults(sim)
    assert jobs(db, id=reversal["id"])[0]["status"] == "dead"
    assert "上传失败：请先重发冲正任务" in _refused(ops, dead["id"], "JOB_MAY_HOLD_SETTLEMENT")
    assert _stay(db, encounter) == held and _audit(db, "upload.withdraw") == []
    assert _received(sim, "WI2305") == []

    ops.resend_job(reversal["id"], actor="信息科-01")
    queue.worker().drain()
    assert [s for _, s in _stay(db, encounter)][1:] == ["withdrawn", "withdrawn", "delivered"]


def test_a_reversal_whose_hook_failed_is_withdrawn_by_it(
    services: Services, clock: SetClock, hookless: UploadQueue, sim: SimulatorServer,
    db: Engine, msgids: MsgidSource, caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    ops = _operations(db, hookless, msgids, clock)
    encounter, dead, _ = _reversed(services, clock, hookless, sim, db, ops)
    with caplog.at_level(logging.ERROR, logger="upload_queue"):
        hookless.worker().drain()
    assert "on_delivered_failed" in [getattr(r, "event", "") for r in caplog.records]
    assert [s for _, s in _stay(db, encounter)][1:] == ["dead", "pending", "pending"]
    assert not ops.withdraw_job(dead["id"], actor="信息科-01").already
    hookless.worker().drain()
    assert [s for _, s in _stay(db, encounter)][1:] == ["withdrawn", "withdrawn", "delivered"]


def test_n33_a_write_reversed_before_its_settlement_is_revoked_is_withdrawn_at_revoking(
    services: Services, clock: SetClock, queue: UploadQueue, sim: SimulatorServer,
    db: Engine, msgids: MsgidSource,
) -> None:  # fmt: skip
    ops = _operations(db, queue, msgids, clock)
    encounter, settlement_id, lost = _settled_then_dead(
        services, clock, queue, sim, db, lost_reply=True
    )
    ops.reverse_job(lost["id"], actor="信息科-01")
    queue.worker().drain()  # delivered; nothing revoked yet: the upload stays dead
    assert _stay(db, encounter)[1:] == [("WI2301", "dead")]
    _revoke_and_settle_again(services, clock, encounter, settlement_id)
    queue.worker().drain()
    assert [s for _, s in _stay(db, encounter)][1:] == ["withdrawn", "withdrawn", "delivered"]
    assert _received(sim, "WI2305") == []
