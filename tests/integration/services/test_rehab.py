"""The rehab plan: stored, uploaded before discharge (N§33, B§32), the gate and its override."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import Engine

from adapter.domain.commands import Discharge
from adapter.domain.encounters import Encounter, EncounterKind
from adapter.domain.errors import DomainError, InvalidMessage, InvalidTransition
from adapter.domain.fees import FeeCategory
from adapter.services.container import Services
from adapter.services.settlement import Settled, SettleRequest
from adapter.store.uow import UnitOfWork
from connectors.upstream.simulator import SimulatorServer
from tests.integration.services.helpers import admit, fee, local
from tests.integration.services.support import MovableClock, jobs
from upload_queue import UploadQueue

PLAN = {
    "goals": "恢复颈椎活动度及右上肢肌力，生活自理",
    "items": [
        {"item_code": "340200001", "item_name": "运动疗法", "frequency": "每日1次"},
        {"item_code": "340200004", "item_name": "作业疗法", "frequency": "每周3次"},
    ],
    "frequency": "每日",
    "expected_days": 30,
}


@pytest.fixture
def rehab_stay(services: Services) -> Encounter:
    command = admit("P010", "V-R", kind=EncounterKind.REHAB, parts=("颈椎",))
    encounter = services.admissions.admit(command, actor="c").encounter
    services.fees.record(
        encounter.id,
        [fee(f"R{n}", "340200001", "80.00", category=FeeCategory.REHAB) for n in range(1, 4)],
        actor="his",
    )
    return encounter


def _settle(services: Services, encounter: Encounter, override: str = "") -> Settled:
    return services.settlements.settle(
        SettleRequest(encounter.id, local(0, 0), rehab_override_reason=override), actor="sup01"
    )


def test_without_a_plan_a_rehab_stay_cannot_be_settled_even_with_an_override(
    services: Services, rehab_stay: Encounter
) -> None:
    with pytest.raises(DomainError) as refused:
        _settle(services, rehab_stay, override="主管同意")
    assert refused.value.code == "REHAB_PLAN_MISSING"
    assert refused.value.article == "N§33, B§32" and "康复方案" in refused.value.message


def test_the_plan_is_queued_due_within_a_day_and_gates_settlement_until_acknowledged(
    services: Services,
    rehab_stay: Encounter,
    db: Engine,
    queue: UploadQueue,
    sim: SimulatorServer,
    clock: MovableClock,
) -> None:
    saved = services.rehab.save(rehab_stay.id, PLAN, actor="doctor01")
    job = jobs(db, kind="WI2501")[0]
    assert job["idempotency_key"] == saved.plan.msgid and job["ordering_key"] == rehab_stay.id
    # Expected discharge is 25 days away, so the 24-hour window decides.
    expected = clock.now() + timedelta(hours=24)
    assert abs(job["deadline"] - expected) < timedelta(seconds=5)
    assert job["payload"]["input"]["goals"] == PLAN["goals"]
    with pytest.raises(DomainError) as refused:
        _settle(services, rehab_stay)
    assert refused.value.code == "REHAB_PLAN_NOT_ACKNOWLEDGED"
    assert queue.worker().drain() == 2  # admission, then the plan
    assert services.rehab.acknowledged(saved.plan)
    settled = _settle(services, rehab_stay)
    assert settled.settlement.breakdown.fund_pay == Decimal("240.00")
    assert queue.worker().drain() == 1
    [write] = httpx.get(f"{sim.url}/_sim/received", params={"infno": "WI2301"}).json()["writes"]
    assert write["reply"]["infcode"] == 0 and write["input"]["med_type"] == "rehab"


def test_a_supervisor_override_settles_before_acknowledgement_and_is_audited(
    services: Services, rehab_stay: Encounter, db: Engine
) -> None:
    services.rehab.save(rehab_stay.id, PLAN, actor="doctor01")
    _settle(services, rehab_stay, override="上级系统确认延迟，患者急需出院")
    with UnitOfWork(db) as uow:
        [entry] = uow.audit.query(action="settlement.settle")
    assert entry.actor == "sup01"
    assert entry.details["rehab_plan"] == "overridden"
    assert entry.details["rehab_override_reason"] == "上级系统确认延迟，患者急需出院"
    # The plan goes up before the discharge record: same ordering key, queued first.
    assert [j["kind"] for j in jobs(db)] == ["WI2401", "WI2501", "WI2301"]


def test_a_new_plan_replaces_the_old_one_and_a_late_plan_is_not_born_late(
    services: Services, db: Engine, clock: MovableClock
) -> None:
    command = admit("P010", "V-R", kind=EncounterKind.REHAB, days=-20)
    encounter = services.admissions.admit(command, actor="c").encounter
    services.rehab.save(encounter.id, PLAN, actor="d")
    second = services.rehab.save(encounter.id, {**PLAN, "expected_days": 10}, actor="d")
    assert second.plan.revision == 2
    assert services.rehab.get(encounter.id) == second.plan
    # Expected discharge (admission + 10 days) has passed: due in 30 minutes, not in the past.
    deadline = jobs(db, kind="WI2501")[-1]["deadline"]
    assert abs(deadline - (clock.now() + timedelta(minutes=30))) < timedelta(seconds=5)


def test_a_medical_stay_has_no_rehab_plan(services: Services) -> None:
    encounter = services.admissions.admit(admit("P001", "V-1"), actor="c").encounter
    with pytest.raises(InvalidTransition):
        services.rehab.save(encounter.id, PLAN, actor="d")


def test_REHAB_OVERRIDE_REASON_SHORT_one_character_does_not_settle_before_acknowledgement(
    services: Services, rehab_stay: Encounter, db: Engine
) -> None:
    """REST asked for 2 characters but counted the spaces around them, and the service took
    any character: " 急 " settled the stay as overridden on one character (N§33, B§32)."""
    services.rehab.save(rehab_stay.id, PLAN, actor="doctor01")
    with pytest.raises(DomainError) as refused:
        _settle(services, rehab_stay, override=" 急 ")
    assert refused.value.code == "REHAB_OVERRIDE_REASON_SHORT"
    assert "至少2个字符" in refused.value.message and refused.value.article == "N§33, B§32"
    with UnitOfWork(db) as uow:
        assert uow.audit.query(action="settlement.settle") == []
    assert [j["kind"] for j in jobs(db)] == ["WI2401", "WI2501"]


def test_REHAB_OVERRIDE_REASON_INVALID_a_control_character_in_the_reason_is_refused(
    services: Services, rehab_stay: Encounter, db: Engine
) -> None:
    """The desk's form checked the reason's length only: "急诊\x1b[2J转院" settled the stay,
    the escape kept with the settlement and its audit entry. Every caller is refused now,
    naming the character; a line break (layout) is still a reason's own."""
    services.rehab.save(rehab_stay.id, PLAN, actor="doctor01")
    with pytest.raises(InvalidMessage) as refused:
        _settle(services, rehab_stay, override="急诊\x1b[2J转院")
    assert refused.value.code == "REHAB_OVERRIDE_REASON_INVALID"
    assert "U+001B" in refused.value.message and "强制结算的原因" in refused.value.message
    with UnitOfWork(db) as uow:
        assert uow.audit.query(action="settlement.settle") == []
    _settle(services, rehab_stay, override="患者病情变化\n须转上级医院")
    with UnitOfWork(db) as uow:
        [entry] = uow.audit.query(action="settlement.settle")
    assert entry.details["rehab_override_reason"] == "患者病情变化\n须转上级医院"


def test_the_plan_is_shown_due_when_the_discharge_record_behind_it_is(
    services: Services, rehab_stay: Encounter
) -> None:
    """The plan, due within a day, is brought forward in the queue to the discharge record's
    30 minutes once that is queued behind it; the stay (page and API) still showed the day."""
    services.rehab.save(rehab_stay.id, PLAN, actor="doctor01")
    _settle(services, rehab_stay, override="上级系统确认延迟，患者急需出院")
    by_kind = {u.upload.infno: u for u in services.encounter(rehab_stay.id).uploads}
    plan, record = by_kind["WI2501"], by_kind["WI2301"]
    assert plan.upload.deadline > record.upload.deadline  # as queued: a day against 30 min
    assert plan.due == record.due == record.upload.deadline


def test_a_rehab_item_the_his_bills_as_a_treatment_is_paid_by_the_fund(
    services: Services, rehab_stay: Encounter, queue: UploadQueue
) -> None:
    """运动疗法 is a treatment item (诊疗项目) in the price lists HIS systems bill from, and a
    rehab service item (工伤康复服务项目) in the treatment place's catalogue (N§32, B§30). Sent
    as 诊疗费, it was flagged as not in the catalogue, mapping it to its own code was refused
    (no such 诊疗费 item), and the clerk could only confirm it 目录外: the worker paid 80.00."""
    recorded = services.fees.record(
        rehab_stay.id,
        [fee("T1", "340200001", "80.00", category=FeeCategory.TREATMENT, name="运动疗法")],
        actor="his",
    )
    assert recorded.unmapped == ()
    services.rehab.save(rehab_stay.id, PLAN, actor="doctor01")
    queue.worker().drain()
    settled = _settle(services, rehab_stay)
    breakdown = settled.settlement.breakdown
    assert (breakdown.total, breakdown.fund_pay, breakdown.personal_pay) == (
        Decimal("320.00"),
        Decimal("320.00"),
        Decimal("0.00"),
    )


def test_a_plan_revised_after_upstream_has_one_does_not_stop_the_settlement(
    services: Services,
    rehab_stay: Encounter,
    db: Engine,
    queue: UploadQueue,
    sim: SimulatorServer,
) -> None:
    """The plan was uploaded; revised on the discharge day, its second version not yet sent.
    The stay was refused (REHAB_PLAN_NOT_ACKNOWLEDGED, a supervisor's override needed) though
    upstream had a plan before discharge settlement (N§33, B§32); the revision goes first."""
    services.rehab.save(rehab_stay.id, PLAN, actor="doctor01")
    assert queue.worker().drain() == 2
    services.rehab.save(rehab_stay.id, {**PLAN, "expected_days": 12}, actor="doctor01")
    settled = _settle(services, rehab_stay)
    assert settled.settlement.breakdown.fund_pay == Decimal("240.00")
    with UnitOfWork(db) as uow:
        [entry] = uow.audit.query(action="settlement.settle")
    assert entry.details["rehab_plan"] == "earlier_revision_acknowledged"
    assert queue.worker().drain() == 2
    received = httpx.get(f"{sim.url}/_sim/received").json()["writes"]
    sent = [(w["infno"], w["input"].get("plan_revision")) for w in received]
    assert sent[-3:] == [("WI2501", 1), ("WI2501", 2), ("WI2301", None)]


INSTITUTION_ROW = {
    "fixmedins_code": "H11010000001",
    "fixmedins_name": "示例工伤协议医院",
    "kinds": ["medical", "rehab", "device"],
    "admvs": "110100",
}


def test_REHAB_PLAN_REFUSED_a_plan_upstream_refused_is_named_not_waited_for(
    services: Services,
    rehab_stay: Encounter,
    db: Engine,
    db_url: str,
    queue: UploadQueue,
    sim: SimulatorServer,
) -> None:
    """Upstream refused the plan (the institution briefly suspended there); the clerk was told
    to try again later, and a corrected plan saved again waited behind the refused one, so
    every later try was refused the same way. Now the refusal names upstream's reason and who
    re-sends it (N§33, B§32)."""
    assert queue.worker().drain() == 1
    seed = f"{sim.url}/_sim/seed"
    httpx.post(seed, json={"institutions": [{**INSTITUTION_ROW, "direct_settlement": "suspended"}]})
    services.rehab.save(rehab_stay.id, PLAN, actor="doctor01")
    queue.worker().drain()
    httpx.post(seed, json={"institutions": [{**INSTITUTION_ROW, "direct_settlement": "enabled"}]})
    assert [j["status"] for j in jobs(db, kind="WI2501")] == ["dead"]
    services.rehab.save(rehab_stay.id, {**PLAN, "goals": "恢复颈椎活动度"}, actor="doctor01")
    for _ in range(2):  # the plan refused, and its correction waiting behind it
        with pytest.raises(DomainError) as refused:
            _settle(services, rehab_stay)
        assert refused.value.code == "REHAB_PLAN_REFUSED"
        assert "上级系统拒收" in refused.value.message and "suspended" in refused.value.message
        assert "信息科" in refused.value.message and "稍后重试" not in refused.value.message
        queue.worker().drain()
    from adapter.services.monthly import MonthlyServices
    from tests.integration.monthly.api import desk_pages

    with desk_pages(db, db_url, services, MonthlyServices(services.context), role="billing") as d:
        page = d.get(f"/web/billing/{rehab_stay.id}")
    assert page.status_code == 200, page.text
    assert 'data-testid="plan-status">上级系统拒收<' in page.text and "suspended" in page.text


def test_REHAB_PLAN_INVALID_the_desk_form_keeps_the_plans_limits(
    services: Services, rehab_stay: Encounter, db: Engine, db_url: str
) -> None:
    """The billing desk's plan form went around the API's limits: 201 items, an item code of
    65 characters, 99999 expected days were saved and queued for upstream, and 预计天数 typed
    as ² broke the page (HTTP 500). Each is now refused on the page (422), nothing saved (N§33)."""
    from adapter.services.monthly import MonthlyServices
    from tests.integration.monthly.api import desk_pages

    ok = {"goals": "恢复颈椎活动度", "items": "340200001 运动疗法 每日1次", "expected_days": "30"}
    cases = [
        ({"items": "\n".join(f"3402{n:05} 运动疗法" for n in range(201))}, "最多200个"),
        ({"items": "X" * 65 + " 运动疗法"}, "最长64个字符"),
        ({"expected_days": "99999"}, "1至3650天"),
        ({"expected_days": "²"}, "1至3650天"),
        ({"goals": "恢复\x07颈椎"}, "控制字符"),
    ]
    with desk_pages(db, db_url, services, MonthlyServices(services.context), role="billing") as d:
        path = f"/web/billing/{rehab_stay.id}"
        token = re.search(r'name="csrf_token" value="([^"]+)"', d.get(path).text)
        assert token
        for change, said in cases:
            page = d.post(f"{path}/rehab-plan", data={**ok, **change, "csrf_token": token[1]})
            assert page.status_code == 422, (change, page.status_code)
            assert said in page.text, change
    assert services.rehab.get(rehab_stay.id) is None
    assert jobs(db, kind="WI2501") == []


def test_a_plan_saved_after_settlement_is_refused_as_a_plan_and_blank_goals_are_refused(
    services: Services, rehab_stay: Encounter, queue: UploadQueue
) -> None:
    """Saving a plan on a settled stay told the clerk fee lines could not be entered; it says
    the plan cannot be changed once settled, and how (N§33, B§32). A plan of blank goals, or
    an item of a blank code, said nothing and was queued for upstream."""
    for blank in ({**PLAN, "goals": "   "}, {**PLAN, "items": [{"item_code": " "}]}):
        with pytest.raises(InvalidMessage) as invalid:
            services.rehab.save(rehab_stay.id, blank, actor="doctor01")
        assert invalid.value.code == "REHAB_PLAN_INVALID"
    services.rehab.save(rehab_stay.id, PLAN, actor="doctor01")
    queue.worker().drain()
    settled = _settle(services, rehab_stay)
    with pytest.raises(InvalidTransition) as refused:
        services.rehab.save(rehab_stay.id, PLAN, actor="doctor01")
    assert refused.value.code == "ENCOUNTER_NOT_OPEN"
    assert "康复方案" in refused.value.message and "费用明细" not in refused.value.message
    assert "撤销结算" in refused.value.message
    services.revocations.revoke(settled.settlement.id, reason="出院日期有误", actor="sup01")
    revised = {**PLAN, "expected_days": 12}
    assert services.rehab.save(rehab_stay.id, revised, actor="doctor01").plan.revision == 2


def test_REHAB_PLAN_REFUSED_a_revision_upstream_refused_holds_the_settlement_back(
    services: Services,
    rehab_stay: Encounter,
    db: Engine,
    queue: UploadQueue,
    sim: SimulatorServer,
) -> None:
    """Upstream has the first plan and refused its revision: the discharge record would wait
    behind the refused revision past its 30 minutes (N§33, B§32), so the stay is not settled
    on the first plan but told the revision was refused, as when no plan got through."""
    services.rehab.save(rehab_stay.id, PLAN, actor="doctor01")
    queue.worker().drain()
    seed = f"{sim.url}/_sim/seed"
    httpx.post(seed, json={"institutions": [{**INSTITUTION_ROW, "direct_settlement": "suspended"}]})
    services.rehab.save(rehab_stay.id, {**PLAN, "expected_days": 12}, actor="doctor01")
    queue.worker().drain()
    httpx.post(seed, json={"institutions": [{**INSTITUTION_ROW, "direct_settlement": "enabled"}]})
    assert [j["status"] for j in jobs(db, kind="WI2501")] == ["delivered", "dead"]
    with pytest.raises(DomainError) as refused:
        _settle(services, rehab_stay)
    assert refused.value.code == "REHAB_PLAN_REFUSED" and "suspended" in refused.value.message
    assert [j["kind"] for j in jobs(db)] == ["WI2401", "WI2501", "WI2501"]


def test_the_same_plan_saved_again_is_not_a_new_revision_nor_a_second_upload(
    services: Services, rehab_stay: Encounter, db: Engine, queue: UploadQueue
) -> None:
    """保存并上传 clicked twice, or a PUT the HIS resent after a lost answer, made revision 2
    and queued the same plan for upstream again — behind which, until it was delivered, the
    stay could not settle. The same plan again answers the one saved (N§33, B§32)."""
    first = services.rehab.save(rehab_stay.id, PLAN, actor="doctor01")
    again = services.rehab.save(rehab_stay.id, dict(PLAN), actor="doctor01")
    assert again.replayed and again.plan == first.plan and again.upload == first.upload
    assert len(jobs(db, kind="WI2501")) == 1
    queue.worker().drain()
    assert services.rehab.save(rehab_stay.id, PLAN, actor="doctor01").plan.revision == 1
    changed = services.rehab.save(rehab_stay.id, {**PLAN, "expected_days": 20}, actor="d")
    assert changed.plan.revision == 2 and not changed.replayed


def test_an_hl7_discharge_before_the_plan_is_through_is_noted_for_the_billing_desk(
    services: Services, rehab_stay: Encounter, db: Engine, queue: UploadQueue
) -> None:
    """The HIS saves the plan and sends its A03 a moment later, before the plan is delivered:
    the A03 was refused (AE) and the discharge forgotten — the billing desk listed the worker
    as still in hospital. The discharge is now noted, ready to settle once the plan is
    through (N§33, B§32); the AE says so."""
    services.rehab.save(rehab_stay.id, PLAN, actor="his")
    with pytest.raises(DomainError) as refused:
        services.commands.discharge(Discharge("V-R", local(0, 0)), actor="his")
    assert refused.value.code == "REHAB_PLAN_NOT_ACKNOWLEDGED"
    assert "出院已记录" in refused.value.message
    with UnitOfWork(db) as uow:
        record = uow.encounters.get(rehab_stay.id)
    assert record.ready_to_settle and record.encounter.discharged_at == local(0, 0)
    queue.worker().drain()
    settled = services.commands.discharge(Discharge("V-R", local(0, 0)), actor="his")
    assert settled.settlement is not None
