"""A settlement revoked here that upstream still lists in effect (N§35, B§33): the month's
reconciliation says where its revocation's upload (WI2305, N§33) stands — delivered, queued,
retrying, dead, withdrawn or never queued — in the REST answer's ``revocation_upload`` and in
the action the billing desk reads on the reconciliation page; and a settlement upstream files
under another kind (medical, rehab, device) is its own difference. On SQLite and PostgreSQL.

Stays are settled and revoked through the services; the uploads go through the real queue
(its clock is the test's) to the simulator. A transient failure and a refusal come from a
gateway that fails the revocation only. Two states no use case makes on demand are set by
SQL, each said where it is made."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine, delete, update

from adapter.domain.errors import UpstreamRejected, UpstreamUnavailable
from adapter.domain.ports import QueuedUpload
from adapter.domain.settlement import Settlement
from adapter.domain.upstream import Infno, WriteAck
from adapter.services.monthly import MonthlyServices
from adapter.services.uploads import fee_details
from adapter.store.tables.workflow import service_upload
from adapter.wiring.outbox import QueueOutbox, register_upload_handlers
from connectors.upstream.client import ReferenceClient
from connectors.upstream.msgids import MsgidSequence
from connectors.upstream.simulator import SimulatorServer
from tests.integration.monthly.api import desk_pages, monthly_api
from tests.integration.monthly.conftest import make_services
from tests.integration.monthly.world import (
    DRUG,
    Desk,
    SetClock,
    at,
    fee,
    seed,
    upstream_settlement,
)
from tests.integration.services.helpers import INSTITUTION
from upload_queue import UploadQueue
from upload_queue.tables import upload_job

JAN = "2026-01"


def d(day: int, month: int = 1) -> date:
    return date(2026, month, day)


class FailingRevocations:
    """Upstream failing every settlement revocation (WI2305) with ``error``; the rest real."""

    def __init__(self, real: ReferenceClient, error: Exception) -> None:
        self._real = real
        self._error = error

    def submit(self, infno: Infno, msgid: str, input: Mapping[str, Any], **kw: Any) -> WriteAck:
        if infno is Infno.SETTLEMENT_REVOKE:
            raise self._error
        return self._real.submit(infno, msgid, input, **kw)


@dataclass
class World:
    services: Any
    monthly: MonthlyServices
    queue: UploadQueue
    desk: Desk
    clock: SetClock
    client: ReferenceClient
    db: Engine

    def queue_to(self, error: Exception) -> UploadQueue:
        """A queue on the same jobs whose upstream fails each revocation with ``error``."""
        queue = UploadQueue(self.db, clock=self.clock.now, registry=CollectorRegistry())
        gateway = FailingRevocations(self.client, error)
        register_upload_handlers(queue, gateway, fee_details(self.db, ZoneInfo("Asia/Shanghai")))  # type: ignore[arg-type]  # the gateway's one call the queue makes
        return queue


@pytest.fixture
def world(db: Engine, client: ReferenceClient, clock: SetClock, msgids: MsgidSequence) -> World:
    queue = UploadQueue(db, clock=clock.now, registry=CollectorRegistry())
    register_upload_handlers(queue, client, fee_details(db, ZoneInfo("Asia/Shanghai")))
    services = make_services(db, client, clock, msgids, outbox=QueueOutbox(queue))
    monthly = MonthlyServices(services.context)
    return World(services, monthly, queue, Desk(services, clock), clock, client, db)


def _settled_then_revoked(w: World) -> tuple[Settlement, QueuedUpload]:
    """P001's stay settled on 5 January, its discharge record delivered (upstream has the
    settlement), revoked on 6 January at 11:00: the revocation queued, not yet sent."""
    stay = w.desk.stay("P001", "V-R", d(3), d(5), [fee("R1", DRUG, "36.50", d(4))])
    assert w.queue.worker().drain() > 0
    w.clock.set(at(d(6), 11))
    _, upload = w.services.revocations.revoke(stay.id, reason="明细有误", actor="结算处-01")
    return stay, upload


def _upstream_keeps(sim: SimulatorServer, stay: Settlement) -> None:
    """Upstream lists the settlement in effect whatever it received (it did not apply the
    revocation it acknowledged)."""
    seed(
        sim.url,
        figures=[
            {
                "fixmedins_code": INSTITUTION, "month": JAN, "total": "0.00",
                "fund_pay": "0.00", "psn_pay": "0.00",
                "settlements": [upstream_settlement(stay.id, d(5), "36.50", "36.50")],
            }
        ],
    )  # fmt: skip


def _reconciled(w: World, db_url: str, setl_id: str) -> tuple[dict[str, Any], str]:
    """The month reconciled on 3 February over REST: the settlement's one difference as the
    latest run answers it, and its action as the billing desk's page shows it."""
    w.clock.set(at(d(3, 2), 6))
    with monthly_api(w.db, db_url, w.services) as api:
        ran = api.post(f"/api/v1/reconciliation/{JAN}/run")
        assert ran.status_code == 200, ran.text
        body = api.get(f"/api/v1/reconciliation/{JAN}").json()
    [difference] = [x for x in body["differences"] if x["setl_id"] == setl_id]
    with desk_pages(w.db, db_url, w.services, w.monthly, role="billing") as desk:
        page = desk.get("/web/reconciliation", params={"month": JAN}).text
    row = re.search(rf'<tr class="differs" data-setl="{setl_id}"[^>]*>(.*?)</tr>', page, re.S)
    assert row, page
    return difference, row[1]


def _shown(cells: str) -> str:
    action = re.search(r'data-testid="action">([^<]*)<', cells)
    assert action, cells
    return action[1]


def test_a_delivered_revocation_upstream_did_not_apply_is_asked_of_the_agency_by_msgid(
    world: World, sim: SimulatorServer, db_url: str
) -> None:
    stay, upload = _settled_then_revoked(world)
    assert world.queue.worker().drain() == 1  # the WI2305 reaches upstream at 11:00
    _upstream_keeps(sim, stay)
    difference, cells = _reconciled(world, db_url, stay.id)
    assert difference["kind"] == "revoked_here_only"
    revocation = difference["revocation_upload"]
    assert revocation["state"] == "delivered" and revocation["state_label"] == "已送达"
    assert revocation["msgid"] == upload.msgid and revocation["job_id"] == upload.job_id
    assert revocation["delivered_at"] == "2026-01-06T11:00:00+08:00"
    action = difference["action"]
    assert f"msgid {upload.msgid}" in action and "2026-01-06 11:00" in action
    assert "请区级经办机构按该撤销信息" in action and "撤销该结算，不予拨付" in action
    assert _shown(cells) == action
    assert 'data-state="delivered"' in cells and "撤销上传（WI2305）已送达" in cells


def test_a_queued_revocation_says_wait_naming_its_job(
    world: World, sim: SimulatorServer, db_url: str
) -> None:
    stay, upload = _settled_then_revoked(world)  # not sent: upstream still has it in effect
    difference, cells = _reconciled(world, db_url, stay.id)
    assert difference["kind"] == "revoked_here_only"
    revocation = difference["revocation_upload"]
    assert (revocation["state"], revocation["job_id"]) == ("queued", upload.job_id)
    assert revocation["delivered_at"] is None
    assert revocation["next_attempt_at"] == "2026-01-06T11:00:00+08:00"
    action = difference["action"]
    assert f"上传任务{upload.job_id}）已排队，2026-01-06 11:00起发送" in action
    assert "无需处理" in action and _shown(cells) == action


def test_a_retrying_revocation_names_its_next_attempt(
    world: World, sim: SimulatorServer, db_url: str
) -> None:
    stay, upload = _settled_then_revoked(world)
    failing = world.queue_to(UpstreamUnavailable("上级系统暂不可用"))
    assert failing.worker().drain() == 1  # one attempt, failed transiently: tried again later
    difference, cells = _reconciled(world, db_url, stay.id)
    revocation = difference["revocation_upload"]
    assert (revocation["state"], revocation["attempts"]) == ("retrying", 1)
    assert revocation["next_attempt_at"] > "2026-01-06T11:00:00+08:00"
    action = difference["action"]
    assert f"上传任务{upload.job_id}）已发送1次未成功，将于2026-01-06 11:" in action
    assert "再次发送" in action and _shown(cells) == action


def test_a_dead_revocation_sends_it_to_the_upload_queue_page(
    world: World, sim: SimulatorServer, db_url: str
) -> None:
    stay, upload = _settled_then_revoked(world)
    refusing = world.queue_to(UpstreamRejected("撤销原因不合规", code="UPSTREAM_REJECTED"))
    assert refusing.worker().drain() == 1  # a permanent failure: dead at once
    difference, cells = _reconciled(world, db_url, stay.id)
    revocation = difference["revocation_upload"]
    assert (revocation["state"], revocation["job_id"]) == ("dead", upload.job_id)
    assert "撤销原因不合规" in revocation["last_error"]
    action = difference["action"]
    assert f"上传任务{upload.job_id}）上传失败（" in action and "撤销原因不合规" in action
    assert "“上传队列监控”页面" in action and f"重发任务{upload.job_id}" in action
    assert _shown(cells) == action and 'data-state="dead"' in cells


def test_a_withdrawn_revocation_is_a_defect_to_raise(
    world: World, sim: SimulatorServer, db_url: str, db: Engine
) -> None:
    stay, upload = _settled_then_revoked(world)
    # Set by SQL: the queue withdraws a revocation only with its settlement's upload, when
    # upstream refused that every time — and then upstream holds no settlement to list.
    with db.begin() as connection:
        connection.execute(
            update(upload_job)
            .where(upload_job.c.id == upload.job_id)
            .values(status="withdrawn", withdrawn_at=at(d(6), 12), last_error="无需上传")
        )
    difference, cells = _reconciled(world, db_url, stay.id)
    assert difference["revocation_upload"]["state"] == "withdrawn"
    action = difference["action"]
    assert "已撤回、未发送" in action and "系统缺陷" in action and _shown(cells) == action


def test_a_revocation_never_queued_is_a_defect_to_raise(
    world: World, sim: SimulatorServer, db_url: str, db: Engine
) -> None:
    stay, upload = _settled_then_revoked(world)
    # Set by SQL: revoking queues its WI2305 in the same transaction, so a settlement revoked
    # with none queued is only made by removing it (as a lost or hand-edited database would).
    with db.begin() as connection:
        connection.execute(delete(service_upload).where(service_upload.c.msgid == upload.msgid))
        connection.execute(delete(upload_job).where(upload_job.c.id == upload.job_id))
    difference, cells = _reconciled(world, db_url, stay.id)
    revocation = difference["revocation_upload"]
    assert (revocation["state"], revocation["msgid"], revocation["job_id"]) == ("none", "", None)
    action = difference["action"]
    assert "本地没有该结算的撤销上传（WI2305）" in action and "系统缺陷" in action
    assert _shown(cells) == action and "撤销上传（WI2305）未排队上传" in cells


def test_the_latest_run_tells_a_revocation_delivered_since_to_reconcile_again(
    world: World, sim: SimulatorServer, db_url: str
) -> None:
    """Reconciled while the revocation was queued, read after it was delivered: the kept
    run said to wait; the month's latest answer says it went after the run — reconcile
    again — not that upstream failed to apply it."""
    _settled_then_revoked(world)
    world.clock.set(at(d(3, 2), 6))
    report = world.monthly.reconciliation.run(JAN, actor="结算处-01")
    assert report.result is not None
    [kept] = report.result.differences
    assert kept.revocation_upload is not None and kept.revocation_upload.state.value == "queued"
    world.clock.set(at(d(3, 2), 8))
    assert world.queue.worker().drain() == 1
    [now] = world.monthly.reconciliation.latest(JAN).result.differences  # type: ignore[union-attr]  # a run with a result
    assert now.revocation_upload is not None and now.revocation_upload.state.value == "delivered"
    assert "于2026-02-03 08:00送达上级系统，晚于本次对账：请重新对账" in now.action


def test_a_settlement_upstream_files_under_another_kind_is_its_own_difference(
    world: World, sim: SimulatorServer, db_url: str
) -> None:
    """A work-injury medical stay upstream lists as rehabilitation (WI3201's ``kind``): the
    fund audits and pays each on its own terms; the clerk reads both kinds."""
    stay = world.desk.stay("P001", "V-K", d(3), d(5), [fee("K1", DRUG, "36.50", d(4))])
    # not delivered: upstream lists only its own (seeded) row of the settlement
    seed(
        sim.url,
        figures=[
            {
                "fixmedins_code": INSTITUTION, "month": JAN, "total": "0.00",
                "fund_pay": "0.00", "psn_pay": "0.00",
                "settlements": [upstream_settlement(stay.id, d(5), "36.50", "36.50",
                                                    kind="rehab")],
            }
        ],
    )  # fmt: skip
    difference, cells = _reconciled(world, db_url, stay.id)
    assert (difference["kind"], difference["kind_label"]) == ("kind_differs", "结算类别不一致")
    assert "本地为住院工伤医疗，上级系统为住院工伤康复" in difference["message"]
    assert "将上级系统的住院工伤康复更正为住院工伤医疗" in difference["action"]
    assert difference["revocation_upload"] is None
    assert _shown(cells) == difference["action"] and "结算类别不一致" in cells
