"""A day two stays share: discharged at 10:00 and readmitted at 14:00 the same day, the
worker has that day in both stays, each counting it. Its bed, billed in both, was paid by the
fund twice (N§32, N§37, B§30; one stay at a time, N§33)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import Engine

from adapter.domain.encounters import EncounterKind, EncounterStatus
from adapter.domain.errors import PricingError
from adapter.domain.fees import FeeCategory, FeeLine
from adapter.domain.people import CardData, CardKind
from adapter.services.container import Services
from adapter.services.settlement import Settled, SettleRequest
from connectors.upstream.simulator import SimulatorServer
from tests.integration.services.helpers import TODAY, admit, card, fee, local
from tests.integration.services.support import jobs
from tests.integration.services.test_overlapping_stays import CARD, _medical_and_rehab_worker
from tests.integration.services.test_rehab import PLAN
from tests.support.filed_stays import admit_on_card, physical_card, seed_worker

D = Decimal
BED = "110900001A"  # 普通病房床位费（三人间）, 50.00/日
NURSING = "111100001"  # 一级护理, 26.00/日
BED_NAME = "普通病房床位费（三人间）"
SHARED = TODAY - timedelta(days=2)  # the day A ends and B begins


def _day(line_id: str, code: str, day: int, *, hour: int = 10) -> FeeLine:
    amount = "50.00" if code == BED else "26.00"
    line = fee(line_id, code, amount, category=FeeCategory.SERVICE)
    return replace(line, occurred_at=local(day, hour))


def _days(prefix: str, code: str, days: range) -> list[FeeLine]:
    return [_day(f"{prefix}{-n}", code, n) for n in days]


def _reversal(line_id: str, of: str, day: int = 0) -> FeeLine:
    """The HIS reversing bed line ``of``, on ``day`` at 09:00 (before the discharge)."""
    back = fee(line_id, BED, "-50.00", quantity="-1", category=FeeCategory.SERVICE, reverses=of)
    return replace(back, occurred_at=local(day, 9))


def _settle(services: Services, stay: str, discharged: int, hour: int) -> Settled:
    return services.settlements.settle(SettleRequest(stay, local(discharged, hour)), actor="b")


def _split(settled: Settled) -> tuple[Decimal, Decimal, Decimal]:
    breakdown = settled.settlement.breakdown
    assert breakdown.fund_pay + breakdown.personal_pay == breakdown.total
    return breakdown.total, breakdown.fund_pay, breakdown.personal_pay


def _readmitted(services: Services, psn_no: str = "P001") -> str:
    """Readmitted on the shared day at 14:00, billing a bed each of its three days."""
    command = replace(admit(psn_no, "V-B"), admitted_at=local(-2, 14))
    stay = services.admissions.admit(command, actor="c").encounter.id
    services.fees.record(stay, _beds_from_the_shared_day(), actor="his")
    return stay


def _beds_from_the_shared_day() -> list[FeeLine]:
    """A readmission's bed lines: the shared day's and the next's dated by day only (00:00,
    as HIS send them), today's at 10:00."""
    return [_day("B2", BED, -2, hour=0), _day("B1", BED, -1, hour=0), _day("B0", BED, 0)]


def test_FEE_DAYS_SHARED_WITH_STAY_n32_n37_a_readmission_billing_the_shared_day_is_refused(
    services: Services, db: Engine
) -> None:
    """A (four days, bed and nursing each day, its discharge day too) settled: the fund paid
    the shared day's bed. B bills that day's bed again: refused naming A, nothing written;
    B's nursing, not billed on the shared day, is not. Once the HIS reverses B's bed of the
    shared day, B settles its two other days."""
    first = services.admissions.admit(admit("P001", "V-A"), actor="c").encounter.id
    services.fees.record(
        first, _days("A", BED, range(-5, -1)) + _days("N", NURSING, range(-5, -1)), actor="his"
    )
    assert _split(_settle(services, first, -2, 10)) == (D("304.00"), D("304.00"), D("0.00"))
    second = _readmitted(services)
    services.fees.record(second, _days("M", NURSING, range(-1, 1)), actor="his")

    with pytest.raises(PricingError) as refused:
        _settle(services, second, 0, 10)
    error = refused.value
    assert (error.code, error.field) == ("FEE_DAYS_SHARED_WITH_STAY", "discharged_at")
    assert error.article == "N§32, N§33, N§37, B§30"
    assert f"费用明细B2、B1、B0的{BED_NAME}（{BED}）" in error.message
    assert f"本次住院（{SHARED}入院至{TODAY}出院，3天）共计3日" in error.message
    assert (
        f"另一次住院工伤医疗（就诊编号{first}，HIS住院号V-A，{local(-5):%Y-%m-%d} 09:00:00入院至"
        f"{SHARED} 10:00:00出院，状态“已结算”）也有{SHARED}这一天，该次住院4天计4日"
    ) in error.message
    assert f"{SHARED}的{BED_NAME}已在该次住院由基金支付" in error.message
    assert f"本次住院最多计2日。请冲销本次住院{SHARED}的{BED_NAME}明细" in error.message
    assert services.encounter(second).encounter.status is EncounterStatus.ADMITTED
    assert [j["kind"] for j in jobs(db)] == ["WI2401", "WI2301", "WI2401"]

    services.fees.record(second, [_reversal("R2", "B2")], actor="his")
    # two bed days at 50.00 and two nursing days at 26.00
    assert _split(_settle(services, second, 0, 10)) == (D("152.00"), D("152.00"), D("0.00"))


def test_FEE_DAYS_SHARED_WITH_STAY_a_stay_not_billing_its_discharge_day_leaves_it_to_the_next(
    services: Services,
) -> None:
    """计入不计出: A bills the beds of its first three days, not of its discharge day. No day
    is paid twice when B bills the shared day: B settles its three bed days."""
    first = services.admissions.admit(admit("P001", "V-A"), actor="c").encounter.id
    services.fees.record(first, _days("A", BED, range(-5, -2)), actor="his")
    assert _split(_settle(services, first, -2, 10))[1] == D("150.00")
    second = _readmitted(services)
    assert _split(_settle(services, second, 0, 10)) == (D("150.00"), D("150.00"), D("0.00"))


def test_FEE_DAYS_SHARED_WITH_STAY_the_earlier_stay_settled_again_after_the_readmission(
    services: Services, db: Engine
) -> None:
    """The other order: A (计入不计出) and B settled; A's settlement revoked, and the HIS posts
    A's discharge-day bed it had left out. B's settlement paid that day: A is refused naming
    B, the stay after it, and settles once the line is reversed."""
    first = services.admissions.admit(admit("P001", "V-A"), actor="c").encounter.id
    services.fees.record(first, _days("A", BED, range(-5, -2)), actor="his")
    settled = _settle(services, first, -2, 10)
    second = _readmitted(services)
    _settle(services, second, 0, 10)
    services.revocations.revoke(settled.settlement.id, reason="补录出院当日床位费", actor="b")
    services.fees.record(first, [_day("A2", BED, -2, hour=0)], actor="his")
    before = [j["kind"] for j in jobs(db)]

    with pytest.raises(PricingError) as refused:
        _settle(services, first, -2, 10)
    error = refused.value
    assert error.code == "FEE_DAYS_SHARED_WITH_STAY"
    assert f"本次住院（{local(-5):%Y-%m-%d}入院至{SHARED}出院，4天）共计4日" in error.message
    assert (
        f"HIS住院号V-B，{SHARED} 14:00:00入院至{TODAY} 10:00:00出院，状态“已结算”）也有"
        f"{SHARED}这一天，该次住院3天计3日"
    ) in error.message and second in error.message
    assert services.encounter(first).encounter.status is EncounterStatus.REVOKED
    assert [j["kind"] for j in jobs(db)] == before

    services.fees.record(first, [_reversal("RA2", "A2", -2)], actor="his")
    assert _split(_settle(services, first, -2, 10)) == (D("150.00"), D("150.00"), D("0.00"))


def test_FEE_DAYS_SHARED_WITH_STAY_a_revoked_settlement_pays_no_day(
    services: Services, sim: SimulatorServer
) -> None:
    """P0961's medical stay A, settled with the shared day's bed, then a rehab stay B from the
    afternoon billing it too: refused naming A. A's settlement revoked (the fund takes its
    payment back, N§35), A pays no day: B settles its three days — and A, settled again,
    is now the one refused."""
    _medical_and_rehab_worker(sim)
    medical = admit_on_card(services, "P0961", CARD, local(-5))
    services.fees.record(medical, _days("A", BED, range(-5, -1)), actor="his")
    first = _settle(services, medical, -2, 10)
    command = replace(admit("P0961", "V-R", kind=EncounterKind.REHAB, parts=("左手",)),
                      card=physical_card(CARD), admitted_at=local(-2, 14))  # fmt: skip
    rehab = services.admissions.admit(command, actor="c").encounter.id
    services.fees.record(rehab, _beds_from_the_shared_day(), actor="his")
    services.rehab.save(rehab, PLAN, actor="doctor01")
    settle_rehab = SettleRequest(rehab, local(0, 10), rehab_override_reason="上级系统确认延迟")

    with pytest.raises(PricingError) as refused:
        services.settlements.settle(settle_rehab, actor="sup01")
    assert refused.value.code == "FEE_DAYS_SHARED_WITH_STAY"
    assert f"住院工伤医疗（就诊编号{medical}" in refused.value.message

    services.revocations.revoke(first.settlement.id, reason="出院诊断录入有误", actor="b")
    settled = services.settlements.settle(settle_rehab, actor="sup01")
    assert _split(settled) == (D("150.00"), D("150.00"), D("0.00"))
    with pytest.raises(PricingError) as again:
        _settle(services, medical, -2, 10)
    assert f"住院工伤康复（就诊编号{rehab}" in again.value.message


@pytest.mark.upstream_outage
def test_FEE_DAYS_SHARED_WITH_STAY_a_stay_claimed_by_hand_holds_the_days_its_lines_bill(
    services: Services, sim: SimulatorServer
) -> None:
    """P0962, known here from an earlier admission, admitted while upstream was down as a
    manual claim (N§38, B§27): its fee lines, the shared day's bed among them, are in the
    store, and its list hands that day to the insured place to reimburse. The readmission
    billing the day again is refused naming the claim."""
    day = TODAY - timedelta(days=100)
    seed_worker(sim, "P0962", "CARD0962", begndate=day, enddate=day + timedelta(days=400),
                filed_on=day)  # fmt: skip
    worker = CardData(CardKind.PHYSICAL, card_no="CARD0962", citizen_id="310102198001010962")
    earlier = replace(admit("P0962", "V-0"), card=worker, admitted_at=local(-20))
    known = services.admissions.admit(earlier, actor="c").encounter.id
    services.stays.cancel(known, reason="登记错误", actor="c")
    httpx.post(f"{sim.url}/_sim/faults", json={"outage": True})
    command = replace(admit("P0962", "V-A"), card=worker)
    admitted = services.admissions.admit(command, actor="c", manual_claim_if_upstream_down=True)
    first, case = admitted.encounter.id, admitted.manual_claim_id
    assert admitted.encounter.psn_no == "P0962" and case
    services.fees.record(first, _days("A", BED, range(-5, -1)), actor="his")
    services.manual_claims.hand_over(case, actor="b", discharged_at=local(-2, 10))
    httpx.post(f"{sim.url}/_sim/faults", json={"outage": False})
    readmission = replace(admit("P0962", "V-B"), card=worker, admitted_at=local(-2, 14))
    second = services.admissions.admit(readmission, actor="c").encounter.id
    services.fees.record(second, _beds_from_the_shared_day(), actor="his")

    with pytest.raises(PricingError) as refused:
        _settle(services, second, 0, 10)
    assert refused.value.code == "FEE_DAYS_SHARED_WITH_STAY"
    assert f"就诊编号{first}，HIS住院号V-A，" in refused.value.message
    assert "状态“转手工报销”）" in refused.value.message
    assert f"{SHARED}的{BED_NAME}已在该次住院转手工报销" in refused.value.message
    services.fees.record(second, [_reversal("R2", "B2")], actor="his")
    assert _split(_settle(services, second, 0, 10)) == (D("100.00"), D("100.00"), D("0.00"))


def test_a_readmission_of_another_worker_or_with_a_day_between_is_not_held(
    services: Services,
) -> None:
    """Another worker's stay that day, and a readmission the next morning, share no day."""
    first = services.admissions.admit(admit("P001", "V-A"), actor="c").encounter.id
    services.fees.record(first, _days("A", BED, range(-5, -1)), actor="his")
    _settle(services, first, -2, 10)
    other = replace(admit("P002", "V-O"), admitted_at=local(-2, 14), card=card("P002"))
    stay = services.admissions.admit(other, actor="c").encounter.id
    services.fees.record(stay, [_day("O2", BED, -2, hour=0)], actor="his")
    assert _split(_settle(services, stay, -1, 10))[1] == D("50.00")
    command = replace(admit("P001", "V-C"), admitted_at=local(-1, 8))
    next_day = services.admissions.admit(command, actor="c").encounter.id
    services.fees.record(next_day, [_day("C1", BED, -1), _day("C0", BED, 0)], actor="his")
    assert _split(_settle(services, next_day, 0, 10))[1] == D("100.00")
