"""Device fittings settled again after a revocation (N§34, B§35), over the simulator."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import Engine

from adapter.domain.devices import DeviceItem
from adapter.domain.encounters import EncounterStatus
from adapter.domain.errors import InvalidTransition
from adapter.domain.settlement import SettlementStatus
from adapter.services.container import Services
from adapter.services.devices import FitDevices
from adapter.services.manual_claim_records import ManualClaimReason
from connectors.upstream.simulator import SimulatorServer
from tests.integration.services.device_world import ARM, NAMES, NOTICE, ORTHOSIS
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


def test_n38_b27_a_revoked_fitting_turned_manual_claim_lists_its_items_not_nothing(
    services: Services, db: Engine, queue: UploadQueue
) -> None:
    items = (
        DeviceItem(ORTHOSIS, NAMES[ORTHOSIS], D("2000.00")),  # 1,800 limit: 200 the worker's
        DeviceItem(ARM, NAMES[ARM], D("100.00")),
    )
    request = FitDevices(card("P011"), NOTICE, items, local(0, 9))
    first = services.devices.fit(request, actor="dev01").settlement
    services.revocations.revoke(first.id, reason="社保卡故障，转手工报销", actor="dev01")
    assert queue.worker().drain() == 2  # the revocation acknowledged: nothing paid directly
    claim = services.manual_claims.create(
        first.encounter.id, ManualClaimReason.CARD_FAILURE, "社保卡芯片损坏", actor="dev01"
    )
    listing = claim.fee_list
    assert (listing["medfee_sumamt"], listing["fund_pay_sumamt"], listing["psn_pay"]) == (
        "2100.00",
        "1900.00",
        "200.00",
    )
    assert [(x["med_list_codg"], x["det_item_fee_sumamt"]) for x in listing["lines"]] == [
        (ORTHOSIS, "2000.00"),
        (ARM, "100.00"),
    ]
    assert listing["fitting"]["approval_notice_no"] == NOTICE
    # The claim's items under the notice are not settled directly again (N§38).
    with pytest.raises(InvalidTransition) as twice:
        services.devices.fit(replace(request, fitted_at=local(0, 11)), actor="dev01")
    assert twice.value.code == "MANUAL_CLAIM_HANDED_OVER"
    with pytest.raises(InvalidTransition):
        services.devices.fit(request, actor="dev01")  # nor the very fitting entered again


def test_n38_b27_a_revoked_fitting_paid_since_directly_is_not_claimed_manually(
    services: Services, db: Engine, queue: UploadQueue
) -> None:
    request = FitDevices(
        card("P011"), NOTICE, (DeviceItem(ORTHOSIS, NAMES[ORTHOSIS], D("1500.00")),), local(0, 9)
    )
    first = services.devices.fit(request, actor="dev01").settlement
    services.revocations.revoke(first.id, reason="时间录入有误", actor="dev01")
    services.devices.fit(replace(request, fitted_at=local(0, 10)), actor="dev01")
    queue.worker().drain()
    with pytest.raises(InvalidTransition) as twice:
        services.manual_claims.create(
            first.encounter.id, ManualClaimReason.CARD_FAILURE, "社保卡芯片损坏", actor="dev01"
        )
    assert twice.value.code == "DEVICE_SETTLED_DIRECTLY"


def test_DEVICE_SETTLED_AT_COUNTER_a_revoked_fitting_settled_at_the_billing_desk_is_sent_there(
    services: Services, db: Engine, sim: SimulatorServer
) -> None:
    """The billing desk offered 重新结算 on a revoked fitting; settling it asked upstream for
    the worker's identity and filing, then refused it for a missing approval notice (or, with
    one, stopped at "该就诊没有费用明细"), which told the clerk nothing of where a fitting is
    settled. It is refused at once, naming the
    device counter, and nothing is asked or queued (N§34, B§35)."""
    from adapter.services.settlement import SettleRequest

    request = FitDevices(
        card("P011"), NOTICE, (DeviceItem(ORTHOSIS, NAMES[ORTHOSIS], D("1500.00")),), local(0, 9)
    )
    first = services.devices.fit(request, actor="dev01").settlement
    services.revocations.revoke(first.id, reason="录入有误，撤销结算", actor="b01")
    asked = httpx.get(f"{sim.url}/_sim/requests").json()["count"]
    with pytest.raises(InvalidTransition) as refused:
        services.settlements.settle(SettleRequest(first.encounter.id, local(0, 10)), actor="b01")
    assert refused.value.code == "DEVICE_SETTLED_AT_COUNTER"
    assert "器具室" in refused.value.message and "N§34" in refused.value.article
    assert httpx.get(f"{sim.url}/_sim/requests").json()["count"] == asked
    assert [j["kind"] for j in jobs(db)] == ["WI2701", "WI2305"]


def test_DEVICE_SETTLED_AT_COUNTER_the_billing_desk_offers_no_settlement_of_a_revoked_fitting(
    services: Services, db: Engine, db_url: str
) -> None:
    """The billing page of a revoked fitting offered 重新结算 and 转手工报销 as for a stay;
    it now says the fitting is entered again at the device counter, and offers neither."""
    from adapter.services.monthly import MonthlyServices
    from tests.integration.monthly.api import desk_pages

    request = FitDevices(
        card("P011"), NOTICE, (DeviceItem(ORTHOSIS, NAMES[ORTHOSIS], D("1500.00")),), local(0, 9)
    )
    first = services.devices.fit(request, actor="dev01").settlement
    services.revocations.revoke(first.id, reason="录入有误，撤销结算", actor="b01")
    monthly = MonthlyServices(services.context)
    with desk_pages(db, db_url, services, monthly, role="billing") as desk:
        page = desk.get(f"/web/billing/{first.encounter.id}")
    assert page.status_code == 200, page.text
    assert 'data-testid="fitting-revoked"' in page.text and "器具室" in page.text
    assert "<h2>重新结算</h2>" not in page.text and "转手工报销</button>" not in page.text
