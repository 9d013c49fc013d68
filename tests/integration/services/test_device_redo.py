"""Device fittings settled again after a revocation (N§34, B§35), over the simulator."""

from __future__ import annotations

from decimal import Decimal

import httpx
from sqlalchemy import Engine

from adapter.domain.devices import DeviceItem
from adapter.domain.encounters import EncounterStatus
from adapter.domain.settlement import SettlementStatus
from adapter.services.container import Services
from adapter.services.devices import FitDevices
from connectors.upstream.simulator import SimulatorServer
from tests.integration.services.device_world import NAMES, NOTICE, ORTHOSIS
from tests.integration.services.helpers import card, local
from tests.integration.services.support import jobs
from upload_queue import UploadQueue

D = Decimal


def test_n34_b35_a_revoked_fitting_entered_again_is_settled_again_behind_its_revocation(
    services: Services, db: Engine, queue: UploadQueue, sim: SimulatorServer
) -> None:
    request = FitDevices(
        card("P011"), NOTICE, (DeviceItem(ORTHOSIS, NAMES[ORTHOSIS], D("1500.00")),), local(0, 9)
    )
    first = services.devices.fit(request, actor="dev01").settlement
    services.revocations.revoke(first.id, reason="录入有误，撤销结算", actor="dev01")
    # The counter enters the same fitting again: it is settled, not the revoked one handed back.
    again = services.devices.fit(request, actor="dev01")
    assert not again.replayed and again.settlement.id != first.id
    assert again.settlement.status is SettlementStatus.SETTLED
    assert again.settlement.encounter.id == first.encounter.id
    assert again.settlement.breakdown.fund_pay == D("1500.00")
    assert services.encounter(first.encounter.id).encounter.status is EncounterStatus.SETTLED
    assert [j["kind"] for j in jobs(db)] == ["WI2701", "WI2305", "WI2701"]
    # Entered a third time, it is the settlement in force that is handed back.
    replay = services.devices.fit(request, actor="dev01")
    assert replay.replayed and replay.settlement.id == again.settlement.id
    assert queue.worker().drain() == 3
    writes = httpx.get(f"{sim.url}/_sim/received", params={"infno": "WI2701"}).json()["writes"]
    assert [w["input"]["fund_pay_sumamt"] for w in writes] == ["1500.00", "1500.00"]
    assert all(w["reply"]["infcode"] == 0 for w in writes)
