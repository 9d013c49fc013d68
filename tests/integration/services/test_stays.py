"""Eligibility across a stay and upstream outages, over the use cases with the simulator over
real HTTP: a filing changed mid-stay (N§13, N§15), injury parts as a clerk reads them (N§16),
one open stay per worker and kind (N§33, B§28), a full outage at discharge (N§38, B§27), and
no manual claim while a revoked direct settlement may still stand upstream (N§38, B§27)."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from adapter.domain.encounters import EncounterStatus
from adapter.domain.errors import EligibilityRefused, NotFound
from adapter.domain.people import CardData, CardKind
from adapter.services.admission import Admitted, OpenStayExists
from adapter.services.container import Services
from adapter.services.discharge_waits import UpstreamDownAtDischarge
from adapter.services.manual_claim_records import ManualClaimReason
from adapter.services.settlement import SettleRequest
from adapter.services.unacknowledged_revocation import RevocationNotAcknowledged
from connectors.upstream.simulator import SimulatorServer
from tests.integration.services.helpers import TODAY, admit, fee, local
from tests.integration.services.support import MovableClock, jobs
from upload_queue import UploadQueue

# Upstream goes down here: each refused read waits out the client's short budget.
pytestmark = pytest.mark.upstream_outage


def d(days: int) -> str:
    return (TODAY + timedelta(days=days)).isoformat()


def seed(sim: SimulatorServer, psn_no: str, *filings: dict[str, Any]) -> None:
    body = {
        "people": [
            {"psn_no": psn_no, "certno": f"31010219800101{psn_no[1:]}", "psn_name": "测试工人",
             "gend": "1", "brdy": "1980-01-01", "insuplc_admdvs": "310100",
             "card_no": f"CARD{psn_no[1:]}", "card_status": "normal"}
        ],
        "filings": [
            {"psn_no": psn_no, "category": "long_term_residence", "purpose": "medical",
             "mdtrtarea_admvs": "110100", "status": "active", "injury_parts": ["左手"],
             "insuplc_admdvs": "310100", "begndate": d(-100), "enddate": d(200),
             "filed_on": d(-101), **f}
            for f in filings
        ],
    }  # fmt: skip
    assert httpx.post(f"{sim.url}/_sim/seed", json=body).status_code == 200


def card_of(psn_no: str) -> CardData:
    return CardData(kind=CardKind.PHYSICAL, card_no=f"CARD{psn_no[1:]}")


def admit_seeded(services: Services, psn_no: str, visit: str, **changes: Any) -> Admitted:
    command = replace(admit(psn_no, visit), card=card_of(psn_no), **changes)
    return services.admissions.admit(command, actor="c")


def outage(sim: SimulatorServer, on: bool) -> None:
    httpx.post(f"{sim.url}/_sim/faults", json={"outage": on})


# -- N§13, N§15: a filing changed during the stay ---------------------------------------------


def test_n13_a_filing_changed_during_the_stay_settles_at_discharge(
    services: Services, sim: SimulatorServer, db: Engine, queue: UploadQueue
) -> None:
    seed(sim, "P921", {"filing_no": "F921"})
    stay = admit_seeded(services, "P921", "V-921").encounter
    services.fees.record(stay.id, [fee("L1", "XN02BEB001", "18.25", days=-4)], actor="his")
    # During the stay the insured place changes the filing: F921 → F921B, filed two days ago.
    seed(
        sim, "P921",
        {"filing_no": "F921", "status": "changed", "successor_no": "F921B",
         "terminated_on": d(-2)},
        {"filing_no": "F921B", "filing_type": "change", "begndate": d(-2), "filed_on": d(-2),
         "injury_parts": ["左手", "左腕"]},
    )  # fmt: skip
    settled = services.settlements.settle(SettleRequest(stay.id, local(0, 8)), actor="b")
    assert "EL_CHANGED_DURING_STAY" in {w.code for w in settled.warnings}
    assert settled.settlement.encounter.filing_no == "F921"
    assert queue.worker().drain() == 2
    wi2301 = httpx.get(f"{sim.url}/_sim/received", params={"infno": "WI2301"}).json()["writes"]
    assert wi2301[0]["reply"]["infcode"] == 0


def test_n15_a_stay_admitted_after_the_change_goes_on_the_successor(
    services: Services, sim: SimulatorServer
) -> None:
    seed(
        sim, "P922",
        {"filing_no": "F922", "status": "changed", "successor_no": "F922B",
         "terminated_on": d(-10)},
        {"filing_no": "F922B", "filing_type": "change", "begndate": d(-10), "filed_on": d(-10)},
    )  # fmt: skip
    stay = admit_seeded(services, "P922", "V-922", admitted_at=local(-5)).encounter
    assert stay.filing_no == "F922B"


# -- N§16: injury parts as a clerk reads them --------------------------------------------------


def test_n16_injury_parts_are_matched_as_a_clerk_would(
    services: Services, sim: SimulatorServer
) -> None:
    seed(sim, "P923", {"filing_no": "F923", "injury_parts": ["左手部", "双膝"]})
    stay = admit_seeded(services, "P923", "V-923", injury_parts=("左手", "右膝")).encounter
    assert stay.status is EncounterStatus.ADMITTED
    assert stay.injury_parts == ("左手部", "右膝")  # kept in the filing's spelling
    with pytest.raises(EligibilityRefused) as refused:
        admit_seeded(services, "P923", "V-923b", injury_parts=("右手",))
    assert [r.code for r in refused.value.reasons] == ["EL_INJURY_PARTS_FILED"]


# -- N§33, B§28: one open stay per worker and kind --------------------------------------------


def test_b28_a_second_open_stay_is_refused_naming_the_open_one(
    services: Services, sim: SimulatorServer, db: Engine
) -> None:
    seed(sim, "P924", {"filing_no": "F924"})
    first = admit_seeded(services, "P924", "V-924").encounter
    with pytest.raises(OpenStayExists) as refused:
        admit_seeded(services, "P924", "V-924-2")
    assert refused.value.open_stay.id == first.id and refused.value.code == "OPEN_STAY_EXISTS"
    assert "V-924" in refused.value.message and "B§28" in refused.value.article
    assert refused.value.problem_extra["open_stay"]["id"] == first.id  # type: ignore[index]
    assert services.admissions.open_stay("P924", first.kind) == first
    # The same visit again still replays; after the open stay is cancelled a new one may start.
    assert admit_seeded(services, "P924", "V-924").replayed
    services.stays.cancel(first.id, reason="误登记", actor="c")
    second = admit_seeded(services, "P924", "V-924-2")
    assert not second.replayed and second.encounter.id != first.id
    assert [j["kind"] for j in jobs(db)] == ["WI2401", "WI2404", "WI2401"]


def test_b28_two_admissions_of_one_worker_at_once_one_wins(
    services: Services, sim: SimulatorServer, db: Engine
) -> None:
    seed(sim, "P925", {"filing_no": "F925"})
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def clerk(visit: str) -> None:
        barrier.wait()
        try:
            outcomes.append(admit_seeded(services, "P925", visit))
        except OpenStayExists as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=clerk, args=(v,)) for v in ("V-925a", "V-925b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    won = [o for o in outcomes if isinstance(o, Admitted)]
    lost = [o for o in outcomes if isinstance(o, OpenStayExists)]
    assert len(won) == 1 and len(lost) == 1
    assert lost[0].open_stay.id == won[0].encounter.id
    with db.connect() as connection:
        count = connection.execute(text("SELECT count(*) FROM encounter WHERE psn_no = 'P925'"))
        assert count.scalar_one() == 1


def test_b28_the_store_refuses_a_second_open_stay_of_one_worker(
    services: Services, sim: SimulatorServer, db: Engine
) -> None:
    """Even past the use case's check (a race), the database's index keeps one open stay."""
    from adapter.store import errors as store_errors
    from adapter.store.uow import UnitOfWork

    seed(sim, "P926", {"filing_no": "F926"})
    first = admit_seeded(services, "P926", "V-926").encounter
    twin = replace(first, id="E-TWIN", his_visit_id="V-926-twin")
    with UnitOfWork(db) as uow, pytest.raises(Exception) as refused:
        uow.encounters.add(twin)
    assert getattr(refused.value, "code", "") == store_errors.OPEN_STAY_EXISTS


# -- N§38, B§27: a full upstream outage at discharge -------------------------------------------


def test_n38_a_full_outage_at_discharge_lists_the_stay_and_writes_no_settlement(
    services: Services, sim: SimulatorServer, db: Engine
) -> None:
    seed(sim, "P927", {"filing_no": "F927"})
    stay = admit_seeded(services, "P927", "V-927").encounter
    services.fees.record(stay.id, [fee("L1", "XN02BEB001", "18.25", days=-4)], actor="his")
    outage(sim, True)
    with pytest.raises(UpstreamDownAtDischarge) as down:
        services.settlements.settle(SettleRequest(stay.id, local(0, 8)), actor="b")
    assert "N§38" in down.value.article and "N§38" in down.value.message
    assert "等待" in down.value.message and "手工报销" in down.value.message
    ways = [w["way"] for w in down.value.problem_extra["ways_on"]]  # type: ignore[index]
    assert ways == ["wait", "manual_claim"]
    with db.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM settlement")).scalar_one() == 0
    assert [j["kind"] for j in jobs(db)] == ["WI2401"]
    [waiting] = services.discharge_waits.waiting()
    assert waiting.encounter_id == stay.id and waiting.ready_at is None
    # Still down: the re-check changes nothing.
    assert services.discharge_waits.recheck() == 0
    assert services.discharge_waits.waiting()[0].ready_at is None
    # Upstream answers again: the re-check passes and the desk is told it can settle.
    outage(sim, False)
    assert services.discharge_waits.recheck() == 1
    assert services.discharge_waits.waiting()[0].ready_at is not None
    with db.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM settlement")).scalar_one() == 0
    settled = services.settlements.settle(SettleRequest(stay.id, local(0, 8)), actor="b")
    assert settled.settlement.encounter.status is EncounterStatus.SETTLED
    assert services.discharge_waits.waiting() == []


def test_n38_a_stay_waiting_for_upstream_may_go_to_manual_claim_instead(
    services: Services, sim: SimulatorServer, clock: MovableClock
) -> None:
    seed(sim, "P928", {"filing_no": "F928"})
    stay = admit_seeded(services, "P928", "V-928").encounter
    services.fees.record(stay.id, [fee("L1", "XN02BEB001", "18.25", days=-4)], actor="his")
    outage(sim, True)
    with pytest.raises(UpstreamDownAtDischarge):
        services.settlements.settle(SettleRequest(stay.id, local(0, 8)), actor="b")
    clock.advance(timedelta(minutes=31))
    claim = services.manual_claims.create(
        stay.id, ManualClaimReason.UPSTREAM_UNAVAILABLE, "省平台中断", actor="b"
    )
    assert claim.fee_list["medfee_sumamt"] == "18.25"
    assert services.discharge_waits.waiting() == []


# -- N§38, B§27: no manual claim while a direct settlement may stand upstream ----------------


def _settled_then_revoked(services: Services, sim: SimulatorServer, psn_no: str) -> str:
    seed(sim, psn_no, {"filing_no": f"F{psn_no[1:]}"})
    stay = admit_seeded(services, psn_no, f"V-{psn_no}").encounter
    services.fees.record(stay.id, [fee("L1", "XN02BEB001", "18.25", days=-4)], actor="his")
    settled = services.settlements.settle(SettleRequest(stay.id, local(0, 8)), actor="b")
    services.revocations.revoke(settled.settlement.id, reason="转手工报销", actor="b")
    return stay.id


def test_n38_b27_no_manual_claim_until_upstream_acknowledged_the_revocation(
    services: Services, sim: SimulatorServer, queue: UploadQueue
) -> None:
    encounter_id = _settled_then_revoked(services, sim, "P929")
    with pytest.raises(RevocationNotAcknowledged) as pending:
        services.manual_claims.create(
            encounter_id, ManualClaimReason.CARD_FAILURE, "读卡器坏", actor="b"
        )
    assert pending.value.code == "MANUAL_CLAIM_REVOCATION_PENDING"
    assert "N§38" in pending.value.article and "B§27" in pending.value.article
    assert "杜绝重复报销" in pending.value.message and "重发" in pending.value.message
    assert pending.value.revocation["queue_page"] == "/web/monitor"
    assert services.encounter(encounter_id).encounter.status is EncounterStatus.REVOKED
    assert queue.worker().drain() == 3  # WI2401, WI2301, WI2305 acknowledged
    claim = services.manual_claims.create(
        encounter_id, ManualClaimReason.CARD_FAILURE, "读卡器坏", actor="b"
    )
    assert services.encounter(encounter_id).encounter.status is EncounterStatus.MANUAL_CLAIM
    assert claim.fee_list["medfee_sumamt"] == "18.25"


def test_n38_b27_a_revocation_upstream_refused_names_its_reason_and_the_agency(
    services: Services, sim: SimulatorServer, db: Engine, queue: UploadQueue
) -> None:
    encounter_id = _settled_then_revoked(services, sim, "P930")
    assert queue.worker().drain() == 3
    # Upstream refusing the revocation for good (a dead job) cannot be produced on demand by
    # the simulator, so the job is put in that state as the queue would leave it.
    with db.begin() as connection:
        connection.execute(
            text("UPDATE upload_job SET status = 'dead', last_error = :why WHERE kind = 'WI2305'"),
            {"why": "原结算已进入月度清算，不能撤销"},
        )
    with pytest.raises(RevocationNotAcknowledged) as dead:
        services.manual_claims.create(
            encounter_id, ManualClaimReason.CARD_FAILURE, "读卡器坏", actor="b"
        )
    assert dead.value.code == "MANUAL_CLAIM_REVOCATION_REFUSED"
    assert "原结算已进入月度清算" in dead.value.message and "310100" in dead.value.message
    assert dead.value.revocation["contact"] == "参保地（310100）经办机构"


# -- N§38, B§27: a manual-claim case from the start (upstream down at admission) -------------


def test_n38_upstream_down_at_admission_is_refused_citing_n38_with_the_ways_on(
    services: Services, sim: SimulatorServer, db: Engine
) -> None:
    from adapter.services.admission import UpstreamDownAtAdmission

    seed(sim, "P931", {"filing_no": "F931"})
    outage(sim, True)
    with pytest.raises(UpstreamDownAtAdmission) as down:
        admit_seeded(services, "P931", "V-931")
    assert "N§38" in down.value.article and "手工报销" in down.value.message
    assert jobs(db) == []


def test_n38_b27_a_case_from_admission_lists_its_fees_and_stays_manual_once_handed_over(
    services: Services, sim: SimulatorServer, db: Engine
) -> None:
    from adapter.domain.errors import InvalidTransition

    seed(sim, "P932", {"filing_no": "F932"})
    outage(sim, True)
    command = replace(admit("P932", "V-932"), card=card_of("P932"))
    admitted = services.admissions.admit(command, actor="c", manual_claim_if_upstream_down=True)
    stay = admitted.encounter
    assert admitted.manual_claim_id and stay.status is EncounterStatus.ADMITTED
    assert stay.filing_no == "" and jobs(db) == []  # registered nowhere upstream
    services.fees.record(stay.id, [fee("L1", "XN02BEB001", "18.25", days=-4)], actor="his")
    with pytest.raises(InvalidTransition) as refused:
        services.settlements.settle(SettleRequest(stay.id, local(0, 8)), actor="b")
    assert refused.value.code == "MANUAL_CLAIM_CASE" and "N§38" in refused.value.article
    case = services.manual_claims.get(admitted.manual_claim_id)
    assert case.from_start and case.open_case
    handed = services.manual_claims.hand_over(case.id, actor="b", discharged_at=local(0, 8))
    assert handed.handed_over_at is not None and not handed.open_case
    assert handed.fee_list["medfee_sumamt"] == "18.25"
    assert "手工报销" in handed.fee_list["title"] and handed.fee_list["manual_claim"] is True
    assert services.encounter(stay.id).encounter.status is EncounterStatus.MANUAL_CLAIM
    # Once handed over it stays a manual claim, even with upstream back.
    outage(sim, False)
    with pytest.raises(InvalidTransition) as final:
        services.manual_claims.switch_to_direct(case.id, card_of("P932"), actor="c")
    assert final.value.code == "MANUAL_CLAIM_HANDED_OVER"
    assert services.manual_claims.hand_over(case.id, actor="b").fee_list == handed.fee_list
    assert jobs(db) == []


def test_n38_b27_a_case_switches_to_direct_settlement_if_upstream_answers_before_hand_over(
    services: Services, sim: SimulatorServer, db: Engine
) -> None:
    seed(sim, "P933", {"filing_no": "F933"})
    outage(sim, True)
    command = replace(admit("P933", "V-933"), card=card_of("P933"))
    admitted = services.admissions.admit(command, actor="c", manual_claim_if_upstream_down=True)
    services.fees.record(
        admitted.encounter.id, [fee("L1", "XN02BEB001", "18.25", days=-4)], actor="his"
    )
    outage(sim, False)
    direct = services.manual_claims.switch_to_direct(
        admitted.manual_claim_id, card_of("P933"), actor="c"
    )
    assert direct.psn_no == "P933" and direct.filing_no == "F933"
    assert [j["kind"] for j in jobs(db)] == ["WI2401"]  # registered upstream now
    settled = services.settlements.settle(SettleRequest(direct.id, local(0, 8)), actor="b")
    assert settled.settlement.breakdown.fund_pay == Decimal("18.25")
    with pytest.raises(NotFound):  # the case is gone: a direct settlement stay now
        services.manual_claims.get(admitted.manual_claim_id)
