"""Fittings stored before the adapter keyed a fitting's notice as compared (notice_key) are
still recognised after the upgrade (N§34, B§35, N§38): entered again, the fitting is handed
its settlement back — not shown as a replacement the counter must confirm, which would have
the worker pay the item a second time — and a manual-claim case is not recorded twice."""

from __future__ import annotations

import hashlib
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import Engine, update

from adapter.domain.devices import DeviceItem
from adapter.services.container import Services
from adapter.services.devices import FitDevices
from adapter.services.manual_claim_records import ManualClaim
from adapter.store.sql import table
from adapter.store.tables import EncounterRow
from connectors.upstream.simulator import SimulatorServer
from tests.integration.services.device_world import NAMES, NOTICE, ORTHOSIS
from tests.integration.services.helpers import card, local
from tests.integration.services.support import jobs

D = Decimal
_encounter = table(EncounterRow)


def _old_key(psn_no: str, request: FitDevices) -> str:
    """The key as the adapter wrote it before the upgrade: the notice and each cost as typed."""
    parts = [psn_no, request.approval_notice_no.strip(), request.fitted_at.isoformat()]
    parts += [f"{i.device_code}:{i.actual_cost}" for i in request.items]
    return "DEV" + hashlib.sha256("|".join(parts).encode()).hexdigest()[:28].upper()


def _stored_in_the_old_form(db: Engine, encounter_id: str, key: str) -> None:
    with db.begin() as connection:
        connection.execute(
            update(_encounter).where(_encounter.c.id == encounter_id).values(his_visit_id=key)
        )


def _fit(notice: str, cost: str) -> FitDevices:
    return FitDevices(
        card("P011"), notice, (DeviceItem(ORTHOSIS, NAMES[ORTHOSIS], D(cost)),), local(0, 9)
    )


@pytest.mark.parametrize(
    "typed_again",
    [NOTICE, NOTICE.replace("〔", "（").replace("〕", "）")],
    ids=["as-before", "typed-otherwise"],
)
def test_n34_a_fitting_stored_before_the_upgrade_is_the_same_fitting_entered_again(
    services: Services, db: Engine, typed_again: str
) -> None:
    """Fitted under 〔2026〕 and stored under the old key; entered again after the upgrade —
    as before, or with （2026） — it is that fitting's settlement (fund 1,500.00, once)."""
    first = services.devices.fit(_fit(NOTICE, "1500.00"), actor="dev01")
    _stored_in_the_old_form(
        db, first.settlement.encounter.id, _old_key("P011", _fit(NOTICE, "1500.00"))
    )

    again = services.devices.fit(_fit(typed_again, "1500.00"), actor="dev01")

    assert again.replayed and again.settlement.id == first.settlement.id
    assert again.settlement.breakdown.fund_pay == D("1500.00")
    assert len(jobs(db)) == 1


@pytest.mark.upstream_outage
def test_n38_b27_a_case_recorded_before_the_upgrade_is_not_recorded_twice(
    services: Services, sim: SimulatorServer, db: Engine
) -> None:
    """A fitting recorded as a manual-claim case while upstream was down, stored under the old
    key: the same fitting recorded again is that case, not a second fee list to reimburse."""
    assert httpx.post(f"{sim.url}/_sim/faults", json={"outage": True}).status_code == 200
    request = _fit(NOTICE, "1500.00")
    case = services.device_claims.fit_or_claim(request, actor="dev01")
    assert isinstance(case, ManualClaim)
    stand_in = f"?{card('P011').card_no}"
    _stored_in_the_old_form(db, case.encounter_id, _old_key(stand_in, request))

    again = services.device_claims.fit_or_claim(request, actor="dev01")

    assert isinstance(again, ManualClaim) and again.id == case.id
