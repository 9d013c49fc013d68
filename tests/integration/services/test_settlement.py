"""Discharge settlement: the bill, the slip, the 30-minute upload in the same transaction,
concurrency, revocation and re-settlement, the discharge-time checks."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import Engine

from adapter.domain.commands import Diagnosis
from adapter.domain.encounters import Encounter, EncounterStatus
from adapter.domain.errors import Conflict, InvalidTransition
from adapter.domain.fees import FeeCategory
from adapter.domain.stay_times import TimeOutOfWindow
from adapter.services.container import Services
from adapter.services.settlement import Settled, SettleRequest
from adapter.store.uow import UnitOfWork
from connectors.upstream.client import ReferenceClient
from connectors.upstream.msgids import MsgidSequence
from connectors.upstream.simulator import SimulatorServer
from tests.integration.services.fixtures import make_services
from tests.integration.services.helpers import INSTITUTION, ZONE, admit, fee, local
from tests.integration.services.support import FailingOutbox, MovableClock, delivery_queue, jobs
from upload_queue import UploadQueue

D = Decimal


def _stay(services: Services, visit: str = "V-1") -> Encounter:
    encounter = services.admissions.admit(admit("P001", visit), actor="clerk").encounter
    services.fees.record(
        encounter.id,
        [
            fee("L1", "XN02BEB001", "36.50", quantity="2"),
            fee("L2", "110900001A", "180.00", quantity="3", category=FeeCategory.SERVICE),
            fee("L3", "XJ01DCC061", "42.00", work_injury=False),
            fee("L4", "MEAL01", "90.00", quantity="3", category=FeeCategory.MEAL),
            fee("L5", "XX-OUT-1", "12.34"),
            fee("R1", "XN02BEB001", "-18.25", quantity="-1"),
        ],
        actor="his",
    )
    services.fees.map_line(encounter.id, "L5", None, actor="billing01")  # 目录外, confirmed
    return encounter


def _settle(services: Services, encounter: Encounter, override: str = "") -> Settled:
    request = SettleRequest(
        encounter.id,
        local(0, 0),
        (Diagnosis("S62.301", "左手第三掌骨骨折"),),
        rehab_override_reason=override,
    )
    return services.settlements.settle(request, actor="billing01")


def _settlement_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.exec_driver_sql("SELECT count(*) FROM settlement").scalar_one())


def test_a_medical_stay_settles_with_exact_money_a_slip_and_its_upload_due_in_30_minutes(
    services: Services, db: Engine, queue: UploadQueue, sim: SimulatorServer
) -> None:
    stay = _stay(services)
    settled = services.settlements.settle(
        SettleRequest(stay.id, local(0, 0), (Diagnosis("S62.301", "左手第三掌骨骨折"),)),
        actor="billing01",
    )
    settlement = settled.settlement
    b = settlement.breakdown
    # 36.50 + 180.00 + 42.00 + 12.34 − 18.25; meal (90.00) is outside the bill (N§3, B§30)
    assert b.total == D("252.59")
    assert b.fund_pay == D("168.25")  # 18.25 drug + 150.00 bed up to the standard
    assert (b.over_limit, b.non_work_injury, b.out_of_catalogue) == (
        D("30.00"),
        D("42.00"),
        D("12.34"),
    )
    assert b.fund_pay + b.personal_pay == b.total
    assert b.excluded_total == D("90.00")
    settled_on = settlement.settled_at.astimezone(ZONE).date()  # the slip's day: Beijing time
    assert settlement.slip_no == f"{INSTITUTION}{settled_on:%Y%m%d}00001"
    assert settlement.encounter.status is EncounterStatus.SETTLED
    [_admission, discharge] = jobs(db)
    assert discharge["kind"] == "WI2301" and discharge["ordering_key"] == stay.id
    assert discharge["deadline"] == settlement.settled_at + timedelta(minutes=30)
    assert discharge["idempotency_key"] == settled.upload.msgid
    body = discharge["payload"]["input"]
    assert (body["medfee_sumamt"], body["fund_pay_sumamt"], body["psn_pay"]) == (
        "252.59",
        "168.25",
        "84.34",
    )
    assert body["setl_id"] == settlement.id and body["slip_no"] == settlement.slip_no
    assert body["psninfo"]["psn_name"] == "王建国"
    assert body["medinsinfo"]["fixmedins_code"] == INSTITUTION
    assert body["diseinfo"][0]["diag_code"] == "S62.301"
    # the job names the settlement; its lines are sent from the snapshot when it is delivered
    assert "feedetail" not in body and discharge["payload"]["details_of"] == settlement.id
    assert queue.worker().drain() == 2
    [write] = httpx.get(f"{sim.url}/_sim/received", params={"infno": "WI2301"}).json()["writes"]
    assert write["reply"]["infcode"] == 0
    assert write["input"]["fund_pay_sumamt"] == "168.25"
    sent = write["input"]["feedetail"]
    assert [d["feedetl_sn"] for d in sent] == ["L1", "L2", "L3", "L5", "R1"]  # L4: a meal
    reversal = next(d for d in sent if d["feedetl_sn"] == "R1")
    assert reversal["init_feedetl_sn"] == "L1" and reversal["cnt"] == "-1"
    with UnitOfWork(db) as uow:
        stored = uow.settlements.get(settlement.id)
        [entry] = uow.audit.query(action="settlement.settle")
    assert stored.breakdown == b
    assert entry.details["msgid"] == settled.upload.msgid


def test_fee_details_go_in_numbered_batches_of_100(
    services: Services, queue: UploadQueue, sim: SimulatorServer
) -> None:
    encounter = services.admissions.admit(admit("P001", "V-1"), actor="c").encounter
    lines = [fee(f"L{n:03d}", "XA11DBM001", "9.90") for n in range(1, 151)]
    services.fees.record(encounter.id, lines, actor="his")
    services.settlements.settle(SettleRequest(encounter.id, local(0, 0)), actor="b")
    queue.worker().drain()
    [write] = httpx.get(f"{sim.url}/_sim/received", params={"infno": "WI2301"}).json()["writes"]
    body = write["input"]
    assert body["feedetail_batch_size"] == 100 and body["feedetail_batch_cnt"] == 2
    batches = [d["batch_no"] for d in body["feedetail"]]
    assert batches.count(1) == 100 and batches.count(2) == 50
    assert body["medfee_sumamt"] == "1485.00"


def test_presettle_writes_nothing(services: Services, db: Engine) -> None:
    stay = _stay(services)
    before = jobs(db)
    preview = services.settlements.presettle(stay.id, local(0, 0))
    assert preview.bill.breakdown.total == D("252.59")
    assert jobs(db) == before and _settlement_count(db) == 0
    assert services.encounter(stay.id).encounter.status is EncounterStatus.ADMITTED


def test_a_failure_after_saving_the_settlement_leaves_neither_settlement_nor_upload(
    db: Engine, client: ReferenceClient, clock: MovableClock, msgids: MsgidSequence
) -> None:
    good = make_services(db, client, clock, msgids)
    stay = _stay(good)
    broken = make_services(
        db, client, clock, msgids, outbox=FailingOutbox(delivery_queue(db, client))
    )
    with pytest.raises(RuntimeError, match="disk full"):
        _settle(broken, stay)
    assert _settlement_count(db) == 0
    assert [j["kind"] for j in jobs(db)] == ["WI2401"]
    assert good.encounter(stay.id).encounter.status is EncounterStatus.ADMITTED
    assert _settle(good, stay).settlement.slip_no.endswith("00001")


def test_two_clerks_settling_at_once_get_one_settlement_and_one_conflict(
    services: Services, db: Engine
) -> None:
    """Two different settle requests (another discharge time) at once: one wins, the other
    is told. (The *same* request twice replays the first settlement: see the next test.)"""
    stay = _stay(services)
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def clerk(hour: int) -> None:
        barrier.wait()
        request = SettleRequest(stay.id, local(0, hour))
        try:
            outcomes.append(services.settlements.settle(request, actor="billing01"))
        except (Conflict, InvalidTransition) as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=clerk, args=(hour,)) for hour in (7, 8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    refused = [o for o in outcomes if isinstance(o, Conflict | InvalidTransition)]
    assert len(outcomes) == 2 and len(refused) == 1
    # whichever clerk loses is told the stay is settled already or was changed meanwhile
    assert any(
        words in refused[0].message for words in ("已结算", "已有有效结算", "已被他人修改")
    ), refused[0].message
    assert _settlement_count(db) == 1
    assert len(jobs(db, kind="WI2301")) == 1


def test_the_same_settle_request_twice_at_once_replays_the_one_settlement(
    services: Services, db: Engine
) -> None:
    """Issue 14 §14: a resent settle (same stay, discharge time, diagnoses) replays."""
    stay = _stay(services)
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def clerk() -> None:
        barrier.wait()
        try:
            outcomes.append(_settle(services, stay))
        except (Conflict, InvalidTransition) as exc:  # a version race may still say so
            outcomes.append(exc)

    threads = [threading.Thread(target=clerk) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    settled = [o for o in outcomes if isinstance(o, Settled)]
    assert settled and len({s.settlement.id for s in settled}) == 1
    assert _settlement_count(db) == 1 and len(jobs(db, kind="WI2301")) == 1
    again = _settle(services, stay)
    assert again.replayed and again.settlement.id == settled[0].settlement.id
    assert again.upload.msgid == jobs(db, kind="WI2301")[0]["idempotency_key"]


def test_revoke_then_resettle_queues_the_revocation_behind_the_original_upload(
    services: Services, db: Engine, queue: UploadQueue, sim: SimulatorServer
) -> None:
    stay = _stay(services)
    first = _settle(services, stay).settlement
    revoked, _upload = services.revocations.revoke(first.id, reason="费用录入有误", actor="b")
    assert revoked.status.value == "revoked"
    with pytest.raises(InvalidTransition):
        services.revocations.revoke(first.id, reason="再次撤销", actor="b")
    services.fees.record(stay.id, [fee("L9", "XA11DBM001", "9.90")], actor="his")
    second = _settle(services, stay).settlement
    assert second.id != first.id and second.slip_no != first.slip_no
    assert second.breakdown.total == first.breakdown.total + D("9.90")
    kinds = [(j["kind"], j["ordering_key"]) for j in jobs(db)]
    assert kinds == [(k, stay.id) for k in ("WI2401", "WI2301", "WI2305", "WI2301")]
    wi2301 = jobs(db, kind="WI2301")[0]
    assert jobs(db, kind="WI2305")[0]["payload"]["input"]["omsgid"] == wi2301["idempotency_key"]
    assert queue.worker().drain() == 4
    writes = httpx.get(f"{sim.url}/_sim/received").json()["writes"]
    assert [(w["infno"], w["reply"]["infcode"]) for w in writes] == [
        ("WI2401", 0),
        ("WI2301", 0),
        ("WI2305", 0),
        ("WI2301", 0),
    ]


def test_n35_n43_a_stay_revoked_after_the_late_registration_window_settles_again(
    services: Services, db: Engine, clock: MovableClock
) -> None:
    """Next month's reconciliation finds an error (N§35, B§33: "撤销后重新结算并上传"): the
    stay is revoked 35 days after its discharge and settled again with the discharge time it
    was settled with. A different, equally old discharge time is a late registration, and
    the 30-day window refuses it as before."""
    stay = _stay(services)
    first = _settle(services, stay).settlement
    clock.advance(timedelta(days=35))
    services.revocations.revoke(first.id, reason="对账发现金额有误，撤销后重新结算", actor="b")
    moved = SettleRequest(stay.id, local(0, 0) - timedelta(hours=1))
    with pytest.raises(TimeOutOfWindow) as refused:
        services.settlements.settle(moved, actor="b")
    assert refused.value.code == "TIME_TOO_FAR_BACK" and "超出补登记期限" in refused.value.message
    assert services.encounter(stay.id).encounter.status is EncounterStatus.REVOKED
    again = _settle(services, stay)
    assert again.settlement.id != first.id and again.settlement.slip_no != first.slip_no
    assert again.settlement.encounter.discharged_at == local(0, 0)
    assert again.settlement.breakdown == first.breakdown
    assert services.encounter(stay.id).encounter.status is EncounterStatus.SETTLED
    assert [j["kind"] for j in jobs(db)] == ["WI2401", "WI2301", "WI2305", "WI2301"]


def test_n33_a_discharge_never_settled_is_still_refused_past_the_late_registration_window(
    services: Services, db: Engine, clock: MovableClock
) -> None:
    stay = _stay(services)
    clock.advance(timedelta(days=35))
    with pytest.raises(TimeOutOfWindow) as refused:
        _settle(services, stay)
    assert refused.value.code == "TIME_TOO_FAR_BACK"
    assert services.encounter(stay.id).encounter.status is EncounterStatus.ADMITTED
    assert [j["kind"] for j in jobs(db)] == ["WI2401"]


def test_a_stay_settled_cannot_take_more_fees_or_be_cancelled(services: Services) -> None:
    stay = _stay(services)
    _settle(services, stay)
    with pytest.raises(InvalidTransition, match="先撤销结算"):
        services.fees.record(stay.id, [fee("L9", "XA11DBM001", "9.90")], actor="his")
    with pytest.raises(InvalidTransition):
        services.stays.cancel(stay.id, reason="x", actor="c")
    with pytest.raises(InvalidTransition):  # another discharge time: not a resend
        services.settlements.settle(SettleRequest(stay.id, local(0, 10)), actor="b")
