"""Clearing (N§35, B§33, B§37; N§40, N§43, B§44): settlements at risk of missing it, listed with
their cutoff and days left over the service and REST; and the delivery ledger, so a purged
delivery still counts in a re-run of its month's reconciliation — on SQLite and PostgreSQL.

Stays are settled through the services, uploads go through the real queue (its clock is the
test's) to the simulator; a refusal comes from a gateway that refuses the discharge record."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from adapter.api import deps
from adapter.api.app import create_app
from adapter.api.routes import operations
from adapter.domain.errors import UpstreamRejected
from adapter.domain.settlement import Settlement
from adapter.domain.upstream import Infno, WriteAck
from adapter.services.container import Services
from adapter.services.monthly import MonthlyServices
from adapter.services.operations import Operations
from adapter.services.reconciliation import ReconciliationReport
from adapter.services.uploads import fee_details
from adapter.settings import load_settings
from adapter.store.tokens import create_token
from adapter.wiring.outbox import QueueJobs, QueueOutbox, register_upload_handlers
from adapter.wiring.upstream import LoggedCalls
from connectors.upstream.call_log import CallLog
from connectors.upstream.client import ReferenceClient
from connectors.upstream.msgids import MsgidSequence
from connectors.upstream.simulator import SimulatorServer
from tests.integration.monthly.api import monthly_api
from tests.integration.monthly.conftest import make_services
from tests.integration.monthly.world import DRUG, Desk, SetClock, at, fee, seed, upstream_settlement
from tests.integration.services.helpers import INSTITUTION
from tests.support.live import serving
from upload_queue import UploadQueue, ledger


def d(day: int, month: int = 1) -> date:
    return date(2026, month, day)


class RefusingGateway:
    """Upstream refusing every discharge record (infcode -1): the job goes dead."""

    def __init__(self, real: ReferenceClient) -> None:
        self._real = real

    def submit(self, infno: Infno, msgid: str, input: Mapping[str, Any], **kw: Any) -> WriteAck:
        if infno is Infno.DISCHARGE:
            raise UpstreamRejected("参保人员信息不存在", code="UPSTREAM_REJECTED")
        return self._real.submit(infno, msgid, input, **kw)


@dataclass
class World:
    services: Services
    monthly: MonthlyServices
    queue: UploadQueue
    refusing: UploadQueue
    desk: Desk
    clock: SetClock


@pytest.fixture
def world(db: Engine, client: ReferenceClient, clock: SetClock, msgids: MsgidSequence) -> World:
    queue = UploadQueue(db, clock=clock.now, registry=CollectorRegistry())
    details = fee_details(db, ZoneInfo("Asia/Shanghai"))
    register_upload_handlers(queue, client, details)
    refusing = UploadQueue(db, clock=clock.now, registry=CollectorRegistry())
    register_upload_handlers(refusing, RefusingGateway(client), details)  # type: ignore[arg-type]
    services = make_services(db, client, clock, msgids, outbox=QueueOutbox(queue))
    monthly = MonthlyServices(services.context)
    return World(services, monthly, queue, refusing, Desk(services, clock), clock)


def _stays(w: World) -> dict[str, str]:
    """On time (A), dead (C), late (D), pending (B); their settlement ids."""
    a = w.desk.stay("P001", "V-A", d(3), d(5), [fee("A1", DRUG, "36.50", d(4))])
    w.queue.worker().drain()  # delivered on 5 January: in time
    c = w.desk.stay("P002", "V-C", d(4), d(7), [fee("C1", DRUG, "18.25", d(5))])
    w.refusing.worker().drain()  # upstream refuses C's discharge record: dead
    late = w.desk.stay("P007", "V-D", d(5), d(8), [fee("D1", DRUG, "18.25", d(6))])
    w.clock.set(at(d(21, 2), 9))
    w.queue.worker().drain()  # D reaches upstream on 21 February: after the 20th
    b = w.desk.stay("P001", "V-B", d(18, 2), d(22, 2), [fee("B1", DRUG, "36.50", d(19, 2))])
    return {"A": a.id, "B": b.id, "C": c.id, "D": late.id}


def _rows(items: Any) -> dict[str, tuple[str, str, str, str, int]]:
    return {
        i.setl_id: (
            i.infno,
            i.reason.value,
            i.cutoff.kind.value,
            i.cutoff.on.isoformat(),
            i.days_left,
        )
        for i in items
    }


def _resend_dead(w: World) -> None:
    """IT re-sends the one dead upload, which upstream now accepts."""
    [dead] = w.queue.list_jobs(status="dead")
    w.queue.retry(dead.id)
    w.queue.worker().drain()


Forgotten = tuple[Settlement, ReconciliationReport]


@pytest.fixture
def forgotten(world: World, sim: SimulatorServer) -> Forgotten:
    """January's stay A settled and delivered; upstream then forgets it (its January no longer
    lists A: filed elsewhere, or lost), and January is reconciled on 3 February."""
    a = world.desk.stay("P001", "V-A", d(3), d(5), [fee("A1", DRUG, "36.50", d(4))])
    world.queue.worker().drain()
    assert httpx.post(f"{sim.url}/_sim/reset").status_code == 200
    world.clock.set(at(d(3, 2), 6))
    return a, world.monthly.reconciliation.run("2026-01", actor="system:schedule")


@contextmanager
def operations_api(
    world: World,
    db: Engine,
    db_url: str,
    client: ReferenceClient,
    msgids: MsgidSequence,
    *,
    metrics: bool = False,
) -> Iterator[Callable[..., httpx.Response]]:
    """The operations REST face (with the queue's metrics if ``metrics``) over a real
    socket; yields ``get(path, role="it")``."""
    app = create_app(load_settings(database={"url": db_url}), db)
    jobs = QueueJobs(world.queue, wake=lambda: None)
    calls = LoggedCalls(CallLog(db), client)
    deps.install(
        app,
        services=world.services,
        monthly=world.monthly,
        operations=Operations(db, jobs=jobs, msgids=msgids, calls=calls),
        registry=world.queue.metrics.registry if metrics else None,
    )
    app.include_router(operations.router)
    now = world.clock.now()
    tokens = {role: create_token(db, f"{role}-01", [role], now) for role in ("it", "billing")}

    def get(path: str, role: str = "it") -> httpx.Response:
        return httpx.get(f"{base}{path}", headers={"Authorization": f"Bearer {tokens[role]}"})

    with serving(app) as base:
        yield get


def test_n35_n40_pending_dead_and_late_uploads_are_at_risk_with_their_cutoff(
    world: World,
) -> None:
    ids = _stays(world)
    world.clock.set(at(d(23, 2), 11))  # A is revoked; its revocation (WI2305) waits
    world.services.revocations.revoke(ids["A"], reason="明细有误", actor="结算处-01")
    clearing = world.monthly.clearing
    report = clearing.at_risk(at(d(25, 2)))
    assert report.today == d(25, 2)
    assert _rows(report.items) == {
        ids["A"]: ("WI2305", "pending", "half_yearly", "2026-07-20", 145),
        # January's monthly cutoff (20 February) has passed: next is the July clearing, whose
        # tables are drawn up on 21 July (N§40)
        ids["C"]: ("WI2301", "dead", "half_yearly", "2026-07-20", 145),
        ids["D"]: ("WI2301", "late", "half_yearly", "2026-07-20", 145),
        # February's settlements are declared by 20 March
        ids["B"]: ("WI2301", "pending", "monthly", "2026-03-20", 23),
    }
    assert report.by_cutoff() == {("2026-07-20", "half_yearly"): 3, ("2026-03-20", "monthly"): 1}
    [late] = [i for i in report.items if i.setl_id == ids["D"]]
    assert late.delivered_at == at(d(21, 2), 9) and late.month == "2026-01"
    # before January's monthly cutoff, the dead upload had that cutoff, ten days left
    early = _rows(clearing.at_risk(at(d(10, 2))).items)
    assert early[ids["C"]] == ("WI2301", "dead", "monthly", "2026-02-20", 10)
    # July's clearing missed, the year's settlements still go in next January's (N§43); D,
    # delivered in time for July's, has left the list
    july = _rows(clearing.at_risk(at(d(22, 7))).items)
    assert july == {
        ids["A"]: ("WI2305", "pending", "year_end", "2027-01-20", 182),
        ids["C"]: ("WI2301", "dead", "year_end", "2027-01-20", 182),
        ids["B"]: ("WI2301", "pending", "year_end", "2027-01-20", 182),
    }

    # a dead upload stays listed until delivered: re-sent (upstream now accepts), it goes
    _resend_dead(world)  # B and C delivered on 25 February
    after = _rows(clearing.at_risk(at(d(25, 2))).items)
    assert set(after) == {ids["A"], ids["C"], ids["D"]}  # all late for January; B in time
    assert after[ids["C"]][1] == "late" and after[ids["A"]][:2] == ("WI2305", "late")
    # once the half-yearly clearing is over, the month's reconciliation speaks for them
    assert clearing.at_risk(at(d(26, 7))).items == ()


def test_n43_a_january_settlement_delivered_after_july_is_listed_for_next_january(
    world: World,
) -> None:
    """July's clearing tables were drawn up on the 21st without it; the year's settlements
    are cleared in the next year's first clearing at the latest, so IT still has one."""
    c = world.desk.stay("P002", "V-C", d(4), d(7), [fee("C1", DRUG, "18.25", d(5))])
    world.refusing.worker().drain()  # upstream refuses the discharge record: dead
    world.clock.set(at(d(22, 7), 9))
    _resend_dead(world)  # delivered on 22 July
    listed = _rows(world.monthly.clearing.at_risk(at(d(23, 7))).items)
    assert listed == {c.id: ("WI2301", "late", "year_end", "2027-01-20", 181)}
    assert world.monthly.clearing.at_risk(at(date(2027, 1, 20))).items != ()
    assert world.monthly.clearing.at_risk(at(date(2027, 1, 21))).items == ()


def test_the_clearing_list_over_rest_summary_and_metrics(
    world: World, db: Engine, db_url: str, client: ReferenceClient, msgids: MsgidSequence
) -> None:
    ids = _stays(world)
    world.clock.set(at(d(25, 2)))
    with operations_api(world, db, db_url, client, msgids, metrics=True) as get:
        assert get("/api/v1/queue/clearing", "billing").status_code == 403
        body = get("/api/v1/queue/clearing").json()
        summary = get("/api/v1/queue/summary").json()
        metrics = get("/metrics").text
    assert body["today"] == "2026-02-25" and body["count"] == 3
    listed = {s["setl_id"]: s for s in body["settlements"]}
    assert set(listed) == {ids["B"], ids["C"], ids["D"]}
    assert (listed[ids["B"]]["cutoff"], listed[ids["B"]]["days_left"]) == ("2026-03-20", 23)
    assert listed[ids["C"]]["reason_label"] == "上传失败"
    assert listed[ids["D"]]["article"] == "N§40, N§43"
    assert body["by_cutoff"] == [
        {"cutoff": "2026-03-20", "cutoff_kind": "monthly", "count": 1},
        {"cutoff": "2026-07-20", "cutoff_kind": "half_yearly", "count": 2},
    ]
    assert summary["clearing_at_risk"] == 3
    gauge = "clearing_settlements_at_risk"
    assert f'{gauge}{{cutoff="2026-03-20",cutoff_kind="monthly",reason="pending"}} 1.0' in metrics
    assert f'{gauge}{{cutoff="2026-07-20",cutoff_kind="half_yearly",reason="dead"}} 1.0' in metrics
    assert 'clearing_cutoff_days_left{cutoff="2026-03-20",cutoff_kind="monthly"} 23.0' in metrics


def test_n35_a_delivered_then_purged_settlement_still_counts_as_delivered_in_a_rerun(
    world: World, forgotten: Forgotten, db: Engine
) -> None:
    a, first = forgotten
    [line] = first.lines
    assert line["setl_id"] == a.id and line["upload_delivered"] is True

    world.clock.set(at(d(3, 6), 6))  # months later the queue's retention purges the job
    assert world.queue.purge(timedelta(days=90)) > 0
    assert world.queue.list_jobs() == []
    again = world.monthly.reconciliation.run("2026-01", actor="system:schedule")
    [line] = again.lines
    assert line["upload_delivered"] is True  # the ledger remembers
    assert again.result is not None
    [difference] = again.result.differences
    assert "上传已被上级系统确认" in difference.action  # not "resend it"
    with db.connect() as connection:
        assert ledger.delivered(connection, line["upload_msgid"])


def test_n40_a_month_unresolved_at_its_half_yearly_cutoff_is_flagged_until_balanced(
    world: World, forgotten: Forgotten, sim: SimulatorServer, db: Engine, db_url: str
) -> None:
    a, first = forgotten
    assert first.run.outcome == "differences"
    reconciliations = world.monthly.reconciliation
    assert reconciliations.unresolved_at_clearing(d(19, 7)) == []  # the day before
    [flagged] = reconciliations.unresolved_at_clearing(d(20, 7))
    assert (flagged.month, flagged.cutoff.on, flagged.differences) == ("2026-01", d(20, 7), 1)
    world.clock.set(at(d(20, 7), 9))
    with monthly_api(db, db_url, world.services, monthly=world.monthly) as api:
        assert api.get("/api/v1/reconciliation/unresolved", role="admission").status_code == 403
        listed = api.get("/api/v1/reconciliation/unresolved", role="it").json()
    assert listed == [
        {
            "month": "2026-01",
            "half_yearly_cutoff": "2026-07-20",
            "outcome": "differences",
            "differences": 1,
            "message": first.run.message,
            "article": "N§40, N§43",
        }
    ]

    [line] = first.lines  # the agency takes it in: upstream's January lists it again
    seed(sim.url, figures=[{
        "fixmedins_code": INSTITUTION, "month": "2026-01", "total": "0", "fund_pay": "0",
        "psn_pay": "0",
        "settlements": [upstream_settlement(a.id, d(5), line["total"], line["fund_pay"])],
    }])  # fmt: skip
    world.clock.set(at(d(26, 7), 6))
    assert world.monthly.reconciliation.run("2026-01", actor="t").run.outcome == "balanced"
    assert reconciliations.unresolved_at_clearing(d(26, 7)) == []


def test_n40_a_late_deliverys_time_in_the_clearing_list_carries_the_sites_offset(
    world: World, db: Engine, db_url: str, client: ReferenceClient, msgids: MsgidSequence
) -> None:
    """D reached upstream at 09:00 Beijing time on 21 February, a day after January's cutoff:
    IT's list showed ``2026-02-21T01:00:00+00:00`` (the ledger's UTC), the only time of the
    REST face not at +08:00 — read as 01:00 it hides by eight hours how late it was."""
    ids = _stays(world)
    world.clock.set(at(d(25, 2)))
    with operations_api(world, db, db_url, client, msgids) as get:
        body = get("/api/v1/queue/clearing").json()
    listed = {s["setl_id"]: s for s in body["settlements"]}
    assert listed[ids["D"]]["delivered_at"] == "2026-02-21T09:00:00+08:00"
    assert listed[ids["C"]]["delivered_at"] is None
