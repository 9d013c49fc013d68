"""Admission: every eligibility case the simulator seeds, replay, the upload it queues."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import Engine

from adapter.domain.encounters import EncounterKind, EncounterStatus
from adapter.domain.errors import Conflict, EligibilityRefused, UpstreamUnavailable
from adapter.domain.people import CardData, CardKind
from adapter.domain.rules import FILING_CHANNELS_TEXT
from adapter.services.container import Services
from adapter.store.uow import UnitOfWork
from connectors.upstream.simulator import SimulatorServer
from tests.integration.services.helpers import admit
from tests.integration.services.support import MovableClock, jobs
from upload_queue import UploadQueue

# Upstream goes down here: each refused read waits out the client's short budget.
pytestmark = pytest.mark.upstream_outage

REFUSED = [
    ("P003", EncounterKind.MEDICAL, "EL_VALID_ON_ADMISSION", "N§11, N§13"),
    ("P004", EncounterKind.MEDICAL, "EL_TREATMENT_PLACE", "N§12"),
    ("P005", EncounterKind.MEDICAL, "EL_FILED_BEFORE_ADMISSION", "N§16, B§26"),
    ("P006", EncounterKind.MEDICAL, "EL_NOT_CANCELLED", "N§15"),
    ("P008", EncounterKind.MEDICAL, "EL_NOT_TERMINATED", "N§11, N§15"),
    ("P009", EncounterKind.MEDICAL, "EL_NOT_SUSPENDED", "N§49, B§52"),
    ("P010", EncounterKind.MEDICAL, "EL_FILING_CATEGORY", "N§4, N§10, 附表1, 附表2"),
    ("P011", EncounterKind.MEDICAL, "EL_FILING_CATEGORY", "N§4, N§10, 附表1, 附表2"),
    ("P012", EncounterKind.MEDICAL, "EL_NO_THIRD_PARTY", "N§3, B§4"),
    ("P013", EncounterKind.MEDICAL, "EL_CARD_VALID", "N§18, N§45, B§28"),
    ("P014", EncounterKind.MEDICAL, "EL_FILING_EXISTS", "N§16, N§18, B§26, B§28"),
]


def _encounter_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.exec_driver_sql("SELECT count(*) FROM encounter").scalar_one())


@pytest.mark.parametrize(("psn_no", "kind", "code", "article"), REFUSED)
def test_each_seeded_refusal_names_its_rule_and_writes_no_encounter(
    services: Services, db: Engine, psn_no: str, kind: EncounterKind, code: str, article: str
) -> None:
    command = admit(psn_no, f"V-{psn_no}", kind=kind)
    with pytest.raises(EligibilityRefused) as refused:
        services.admissions.admit(command, actor="clerk01")
    reasons = {r.code: r for r in refused.value.reasons}
    assert code in reasons
    assert reasons[code].article == article
    assert reasons[code].message  # Chinese, for the worker
    assert _encounter_count(db) == 0
    assert jobs(db) == []
    with UnitOfWork(db) as uow:
        entries = uow.audit.query(action="encounter.admit_refused")
    assert [e.subject_id for e in entries] == [f"V-{psn_no}"]
    assert f"{code} ({article})" in entries[0].details["reasons"]


def test_an_unfiled_worker_is_told_where_to_file(services: Services) -> None:
    with pytest.raises(EligibilityRefused) as refused:
        services.admissions.admit(admit("P014", "V-14"), actor="clerk01")
    assert FILING_CHANNELS_TEXT in refused.value.reasons[0].message
    assert "掌上12333APP" in refused.value.message


def test_an_unknown_card_and_an_expired_ecard_token_are_refused_with_upstreams_words(
    services: Services, db: Engine
) -> None:
    unknown = CardData(kind=CardKind.PHYSICAL, card_no="999999X9999")
    with pytest.raises(EligibilityRefused) as refused:
        services.admissions.admit(replace(admit("P001", "V-x"), card=unknown), actor="c")
    assert [r.code for r in refused.value.reasons] == ["EL_CARD_REJECTED"]
    assert "未查询到该人员" in refused.value.reasons[0].message
    expired = CardData(kind=CardKind.ECARD, qr_token="ECQR-P010-OLD")
    command = replace(admit("P010", "V-y", kind=EncounterKind.REHAB), card=expired)
    with pytest.raises(EligibilityRefused) as refused:
        services.admissions.admit(command, actor="c")
    assert "二维码已过期" in refused.value.reasons[0].message
    assert _encounter_count(db) == 0


def test_an_injury_part_outside_the_filing_is_refused(services: Services) -> None:
    with pytest.raises(EligibilityRefused) as refused:
        services.admissions.admit(admit("P001", "V-1", parts=("右膝",)), actor="c")
    assert [r.code for r in refused.value.reasons] == ["EL_INJURY_PARTS_FILED"]
    assert refused.value.reasons[0].field == "injury_parts"


def test_eligible_worker_is_admitted_and_the_registration_queued_in_the_same_transaction(
    services: Services, db: Engine, clock: MovableClock
) -> None:
    before = clock.now()
    result = services.admissions.admit(
        admit("P001", "V-1", parts=("左手", "右前臂")), actor="clerk01"
    )
    encounter = result.encounter
    assert not result.replayed
    assert encounter.status is EncounterStatus.ADMITTED
    assert (encounter.psn_no, encounter.filing_no, encounter.insured_admdvs) == (
        "P001",
        "F001",
        "310100",
    )
    [job] = jobs(db)
    assert job["kind"] == "WI2401"
    assert job["idempotency_key"] == result.upload.msgid and len(result.upload.msgid) == 30
    assert job["ordering_key"] == encounter.id
    assert before + timedelta(minutes=30) <= job["deadline"] <= clock.now() + timedelta(minutes=30)
    assert job["payload"]["input"]["mdtrt_id"] == encounter.id
    assert job["payload"]["input"]["psn_no"] == "P001"
    with UnitOfWork(db) as uow:
        assert uow.encounters.get(encounter.id).encounter == encounter
        assert uow.persons.get("P001") is not None  # cached as last seen
        assert [f.filing_no for f in uow.filings.for_person("P001")] == ["F001"]
        [entry] = uow.audit.query(action="encounter.admit")
    assert entry.actor == "clerk01" and entry.subject_id == encounter.id
    assert "310100A0001" not in str(entry.details)  # the card number is masked


def test_the_same_visit_twice_returns_the_first_encounter_without_a_second_upload(
    services: Services, db: Engine
) -> None:
    first = services.admissions.admit(admit("P001", "V-1"), actor="his")
    second = services.admissions.admit(admit("P001", "V-1"), actor="his")
    assert second.replayed and second.encounter.id == first.encounter.id
    assert len(jobs(db)) == 1
    assert _encounter_count(db) == 1


def test_changed_filing_admits_under_its_successor_and_expiring_filing_warns(
    services: Services,
) -> None:
    changed = services.admissions.admit(admit("P007", "V-7", parts=("右腕",)), actor="c")
    assert changed.encounter.filing_no == "F007B"
    expiring = services.admissions.admit(admit("P002", "V-2"), actor="c")
    assert [w.code for w in expiring.warnings] == ["EL_EXPIRES_SOON"]


def test_ecard_admission_and_rehab_filing_admit_a_rehab_stay(services: Services) -> None:
    ecard = CardData(kind=CardKind.ECARD, qr_token="ECQR-P001-DEMO")
    result = services.admissions.admit(replace(admit("P001", "V-e"), card=ecard), actor="c")
    assert result.encounter.psn_no == "P001"
    rehab = services.admissions.admit(admit("P010", "V-r", kind=EncounterKind.REHAB), actor="c")
    assert rehab.encounter.kind is EncounterKind.REHAB


def test_the_queued_registration_reaches_the_simulator(
    services: Services, queue: UploadQueue, sim: SimulatorServer
) -> None:
    result = services.admissions.admit(admit("P001", "V-1"), actor="c")
    assert queue.worker().drain() == 1
    received = httpx.get(f"{sim.url}/_sim/received", params={"infno": "WI2401"}).json()
    [write] = received["writes"]
    assert write["msgid"] == result.upload.msgid
    assert write["input"]["mdtrt_id"] == result.encounter.id
    assert write["reply"]["infcode"] == 0


def test_cancel_admission_queues_its_revocation_and_refuses_fees_after(
    services: Services, db: Engine, queue: UploadQueue, sim: SimulatorServer
) -> None:
    encounter = services.admissions.admit(admit("P001", "V-1"), actor="c").encounter
    cancelled = services.stays.cancel(encounter.id, reason="患者未入院", actor="c")
    assert cancelled.status is EncounterStatus.CANCELLED
    assert [j["kind"] for j in jobs(db)] == ["WI2401", "WI2404"]
    assert queue.worker().drain() == 2
    writes = httpx.get(f"{sim.url}/_sim/received", params={"infno": "WI2404"}).json()["writes"]
    assert writes[0]["reply"]["infcode"] == 0


def test_upstream_down_at_admission_is_a_clear_error_and_nothing_is_written(
    services: Services, db: Engine, sim: SimulatorServer
) -> None:
    httpx.post(f"{sim.url}/_sim/faults", json={"outage": True})
    with pytest.raises(UpstreamUnavailable):
        services.admissions.admit(admit("P001", "V-1"), actor="c")
    assert _encounter_count(db) == 0 and jobs(db) == []
    assert services.watch.down_since is not None


@pytest.mark.parametrize(
    ("changed", "code", "named"),
    [
        # a card read without a citizen ID: the card number tells the workers apart (with
        # one, VISIT_OF_ANOTHER_WORKER, as tests/integration/hl7 show)
        (lambda c: replace(c, card=admit("P002", "V-1").card), "VISIT_ID_REUSED", "工伤职工"),
        (lambda c: replace(c, kind=EncounterKind.REHAB), "VISIT_ID_REUSED", "就诊类型"),
        (
            lambda c: replace(c, admitted_at=c.admitted_at + timedelta(hours=2)),
            "VISIT_ID_REUSED",
            "入院时间",
        ),
    ],
    ids=["another-worker", "another-kind", "another-admission-time"],
)
def test_VISIT_ID_REUSED_n33_a_visit_number_sent_again_for_another_admission_is_refused(
    services: Services, db: Engine, changed, code: str, named: str
) -> None:
    # The HIS's visit number is its key for the stay: resent with the same admission it
    # replays, resent for another one (another worker's card, kind or admission time) it
    # was answered with the first stay as if admitted — the second worker's fees would then
    # go onto the first worker's stay, settled under the first worker's filing.
    first = services.admissions.admit(admit("P001", "V-1"), actor="his")
    with pytest.raises(Conflict) as refused:
        services.admissions.admit(changed(admit("P001", "V-1")), actor="his")
    assert refused.value.code == code
    assert refused.value.field == "his_visit_id"
    assert named in refused.value.message and first.encounter.id in refused.value.message
    assert _encounter_count(db) == 1
    assert len(jobs(db)) == 1
    # the same admission again still replays
    again = services.admissions.admit(admit("P001", "V-1"), actor="his")
    assert again.replayed and again.encounter.id == first.encounter.id
