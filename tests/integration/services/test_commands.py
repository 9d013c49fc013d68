"""``EncounterCommands`` as the HL7 connector drives it: by HIS visit number, resends harmless."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import Engine

from adapter.domain.commands import (
    CancelAdmission,
    CancelDischarge,
    Discharge,
    EncounterCommands,
    RecordFees,
    UpdateVisit,
)
from adapter.domain.errors import NotFound
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
