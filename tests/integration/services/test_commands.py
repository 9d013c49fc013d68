"""``EncounterCommands`` as the HL7 connector drives it: by HIS visit number, resends harmless."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest
from sqlalchemy import Engine, text

from adapter.domain.commands import (
    CancelAdmission,
    CancelDischarge,
    Discharge,
    EncounterCommands,
    RecordFees,
    UpdateVisit,
)
from adapter.domain.errors import InvalidTransition, NotFound
from adapter.services.container import Services
from tests.integration.services.helpers import admit, fee, local
from tests.integration.services.support import jobs


def test_a_stay_driven_by_hl7_messages_resends_included(services: Services, db: Engine) -> None:
    commands: EncounterCommands = services.commands
    admitted = commands.admit(admit("P001", "HIS-1"), actor="his")
    assert commands.admit(admit("P001", "HIS-1"), actor="his").replayed
    updated = commands.update_visit(
        UpdateVisit("HIS-1", department="手外科", injury_parts=("左手",)), actor="his"
    )
    assert updated.encounter_id == admitted.encounter_id
    lines = (fee("1", "XN02BEB001", "18.25"), fee("2", "HIS-UNKNOWN", "5.00"))
    recorded = commands.record_fees(RecordFees("HIS-1", lines), actor="his")
    assert [w.code for w in recorded.warnings] == ["FEE_UNMAPPED"]
    resent = commands.record_fees(RecordFees("HIS-1", lines), actor="his")
    assert resent.replayed and resent.ignored_line_ids == ("1", "2")
    services.fees.map_line(admitted.encounter_id, "2", None, actor="billing")

    ready = commands.discharge(Discharge("HIS-1", local(0, 0), settle_now=False), actor="his")
    view = services.encounter(admitted.encounter_id)
    assert ready.status == "admitted" and view.ready_to_settle
    assert view.encounter.department == "手外科"

    settled = commands.discharge(Discharge("HIS-1", local(0, 0)), actor="his")
    assert settled.status == "settled" and settled.slip_no
    again = commands.discharge(Discharge("HIS-1", local(0, 0)), actor="his")
    assert again.replayed and again.settlement_id == settled.settlement_id

    revoked = commands.cancel_discharge(CancelDischarge("HIS-1", "出院取消"), actor="his")
    assert revoked.status == "revoked"
    assert commands.cancel_discharge(CancelDischarge("HIS-1"), actor="his").replayed
    assert [j["kind"] for j in jobs(db)] == ["WI2401", "WI2301", "WI2305"]


def test_cancel_admission_by_visit_and_unknown_visits(services: Services) -> None:
    commands = services.commands
    commands.admit(replace(admit("P001", "HIS-2")), actor="his")
    assert commands.cancel_admission(CancelAdmission("HIS-2"), actor="his").status == "cancelled"
    assert commands.cancel_admission(CancelAdmission("HIS-2"), actor="his").replayed
    with pytest.raises(NotFound):
        commands.record_fees(RecordFees("HIS-404", ()), actor="his")


def test_the_rest_face_names_stays_by_id_and_replays_like_hl7(
    services: Services, db: Engine
) -> None:
    """REST drives the same commands by encounter id (and revokes by settlement id): a
    resent request answers ``replayed`` and writes nothing; another discharge time for a
    settled stay is refused, never taken as a resend."""
    commands = services.commands
    encounter_id = commands.admit(admit("P001", "HIS-3"), actor="desk").encounter_id
    lines = (fee("1", "XN02BEB001", "18.25"), fee("2", "HIS-UNKNOWN", "5.00"))
    first = commands.record_fees(RecordFees("", lines, encounter_id=encounter_id), actor="his")
    assert first.added_line_ids == ("1", "2") and first.unmapped_line_ids == ("2",)
    assert [w.code for w in first.warnings] == ["FEE_UNMAPPED"]
    resent = commands.record_fees(RecordFees("", lines, encounter_id=encounter_id), actor="his")
    assert resent.replayed and resent.added_line_ids == () and resent.warnings == ()
    services.fees.map_line(encounter_id, "2", None, actor="billing")

    discharge = Discharge("", local(0, 0), encounter_id=encounter_id)
    settled = commands.discharge(discharge, actor="billing")
    assert settled.settlement is not None and settled.upload is not None
    again = commands.discharge(discharge, actor="billing")
    assert again.replayed and again.settlement_id == settled.settlement_id
    assert again.upload == settled.upload
    with pytest.raises(InvalidTransition):
        commands.discharge(replace(discharge, discharged_at=local(0, 1)), actor="billing")

    revoke = CancelDischarge("", "录入有误", settlement_id=settled.settlement_id)
    revoked = commands.cancel_discharge(revoke, actor="billing")
    assert revoked.status == "revoked" and not revoked.replayed
    resent_revoke = commands.cancel_discharge(revoke, actor="billing")
    assert resent_revoke.replayed and resent_revoke.upload == revoked.upload
    assert [j["kind"] for j in jobs(db)] == ["WI2401", "WI2301", "WI2305"]


def test_a_cancellation_by_encounter_id_sent_again_is_replayed(services: Services) -> None:
    commands = services.commands
    encounter_id = commands.admit(admit("P001", "HIS-5"), actor="desk").encounter_id
    cancel = CancelAdmission("", "未入院", encounter_id=encounter_id)
    cancelled = commands.cancel_admission(cancel, actor="desk")
    assert cancelled.status == "cancelled" and not cancelled.replayed
    again = commands.cancel_admission(cancel, actor="desk")
    assert again.replayed and again.encounter == cancelled.encounter
    with pytest.raises(InvalidTransition):
        commands.record_fees(
            RecordFees("", (fee("1", "XN02BEB001", "18.25"),), encounter_id=encounter_id),
            actor="his",
        )


def test_the_same_revoke_sent_twice_at_once_revokes_once_and_both_get_it(
    services: Services, db: Engine
) -> None:
    commands = services.commands
    encounter_id = commands.admit(admit("P001", "HIS-6"), actor="desk").encounter_id
    lines = (fee("1", "XN02BEB001", "18.25"),)
    commands.record_fees(RecordFees("", lines, encounter_id=encounter_id), actor="his")
    settled = commands.discharge(Discharge("", local(0, 0), encounter_id=encounter_id), actor="b")
    revoke = CancelDischarge("", "录入有误", settlement_id=settled.settlement_id)
    barrier = threading.Barrier(2)
    outcomes = []

    def clerk() -> None:
        barrier.wait()
        outcomes.append(commands.cancel_discharge(revoke, actor="billing"))

    threads = [threading.Thread(target=clerk) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(o.replayed for o in outcomes) == [False, True]
    assert outcomes[0].upload == outcomes[1].upload
    assert [j["kind"] for j in jobs(db)] == ["WI2401", "WI2301", "WI2305"]


def test_DISCHARGE_DIFFERS_FROM_SETTLEMENT_n33_another_discharge_time_is_refused(
    services: Services, db: Engine
) -> None:
    # A site that settles at the billing desk: the HIS's A03 notes the discharge. The desk
    # settled the stay with its discharge at 00:00; an A03 saying 06:00 was answered
    # 'replayed' (AA) although the discharge record uploaded (N§33, B§31) says 00:00 —
    # the HIS kept a discharge time the settlement does not have.
    commands = services.commands
    commands.admit(admit("P001", "HIS-3"), actor="his")
    commands.record_fees(RecordFees("HIS-3", (fee("1", "XN02BEB001", "18.25"),)), actor="his")
    settled = commands.discharge(Discharge("HIS-3", local(0, 0)), actor="billing")
    same = commands.discharge(Discharge("HIS-3", local(0, 0), settle_now=False), actor="his")
    assert same.replayed and same.settlement_id == settled.settlement_id
    with pytest.raises(InvalidTransition) as refused:
        commands.discharge(Discharge("HIS-3", local(0, 6), settle_now=False), actor="his")
    assert refused.value.field == "discharged_at"
    assert "撤销结算" in refused.value.message
    assert services.encounter(settled.encounter_id).encounter.discharged_at == local(0, 0)
    assert [j["kind"] for j in jobs(db)] == ["WI2401", "WI2301"]


def test_a_visit_update_waits_for_a_fee_batch_of_its_stay_instead_of_failing(
    services: Services, db: Engine
) -> None:
    # An A08 and a DFT^P03 of one stay on two HIS connections: the A08 read the stay, the fee
    # batch (holding the stay's row, bumping its version) committed, and the A08 failed on
    # the version — an AE although nothing was wrong with it. On SQLite writers queue anyway.
    if db.dialect.name != "postgresql":
        pytest.skip("row locks: SQLite serialises its writers with BEGIN IMMEDIATE")
    stay = services.commands.admit(admit("P001", "HIS-4"), actor="his")
    outcome: dict[str, object] = {}

    def update() -> None:
        try:
            command = UpdateVisit("HIS-4", department="手外科")
            outcome["ok"] = services.commands.update_visit(command, actor="his")
        except Exception as exc:  # the assertion below shows it
            outcome["error"] = exc

    with db.connect() as other:  # a fee batch in flight: the stay's row held, its version bumped
        with other.begin():
            other.execute(
                text("SELECT version FROM encounter WHERE id = :id FOR UPDATE"),
                {"id": stay.encounter_id},
            )
            other.execute(
                text("UPDATE encounter SET version = version + 1 WHERE id = :id"),
                {"id": stay.encounter_id},
            )
            thread = threading.Thread(target=update)
            thread.start()
            while thread.is_alive() and not _waiting_on_a_lock(db):
                thread.join(0.01)  # until the A08 waits on the row
        thread.join()
    assert "error" not in outcome, outcome.get("error")
    assert services.encounter(stay.encounter_id).encounter.department == "手外科"


def _waiting_on_a_lock(db: Engine) -> bool:
    # a connection of its own: a transaction sees pg_stat_activity as at its first look
    with db.connect() as connection:
        return bool(
            connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
        )
