"""No double payment of a device when the worker shows a card the adapter has never seen — a
reissued card with a new number, or the electronic card's QR code — while upstream is down
(N§34, N§38, B§27, B§34). The card number cannot match it, and upstream cannot say whose card
it is; the payment approval notice can: the insured place issues it on the worker's device
filing, and one approval pays an item once. The store finds the fitting the fund already paid
by the filing that carries the notice, and a case recorded under a stand-in by its notice."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from sqlalchemy import Engine, func, select

from adapter.domain.devices import DeviceItem
from adapter.domain.errors import InvalidTransition
from adapter.domain.people import CardData, CardKind
from adapter.services import device_replacements, devices
from adapter.services.container import Services
from adapter.services.devices import FitDevices
from adapter.services.manual_claim_records import ManualClaim
from adapter.store.sql import table
from adapter.store.tables.settlements import SettlementRow
from connectors.upstream.simulator import SimulatorServer
from tests.integration.services.device_world import NAMES, NOTICE, ORTHOSIS
from tests.integration.services.helpers import card, local

pytestmark = pytest.mark.upstream_outage

D = Decimal
_settlement = table(SettlementRow)
NEW_CARDS = {
    "reissued_card": CardData(kind=CardKind.PHYSICAL, card_no="310100L9911"),
    "electronic_card": CardData(kind=CardKind.ECARD, qr_token="ECQR" + "7" * 60),
}


def _outage(sim: SimulatorServer, on: bool) -> None:
    assert httpx.post(f"{sim.url}/_sim/faults", json={"outage": on}).status_code == 200


def _fit(shown: CardData, hour: int = 9) -> FitDevices:
    items = (DeviceItem(ORTHOSIS, NAMES[ORTHOSIS], D("1500.00")),)
    return FitDevices(shown, NOTICE, items, local(0, hour))


def _fund_paid(db: Engine) -> Decimal:
    with db.connect() as connection:
        paid = connection.execute(
            select(func.coalesce(func.sum(_settlement.c.fund_pay), 0)).where(
                _settlement.c.status == "settled"
            )
        ).scalar_one()
    return D(str(paid)).quantize(D("0.01"))


@pytest.mark.parametrize("shown", list(NEW_CARDS))
def test_n38_b27_a_device_paid_directly_is_not_recorded_as_a_case_under_a_new_card(
    services: Services, sim: SimulatorServer, db: Engine, shown: str
) -> None:
    """Fitted and paid directly (fund 1,500.00) with the worker's card; upstream down, the
    worker comes back with a card never seen for the same item under the same notice: the
    case is refused — its fee list would have the insured place pay 1,500.00 again."""
    direct = services.devices.fit(_fit(card("P011")), actor="dev01").settlement
    assert direct.breakdown.fund_pay == D("1500.00")
    _outage(sim, True)
    with pytest.raises(InvalidTransition) as twice:
        services.device_claims.fit_or_claim(_fit(NEW_CARDS[shown], hour=10), actor="dev01")
    assert twice.value.code == "DEVICE_SETTLED_DIRECTLY" and twice.value.article == "N§38, B§27"
    assert direct.slip_no in twice.value.message and NOTICE in twice.value.message


@pytest.mark.parametrize("shown", list(NEW_CARDS))
def test_n38_b27_a_case_under_a_new_card_is_not_paid_directly_as_well(
    services: Services, sim: SimulatorServer, db: Engine, shown: str
) -> None:
    """Upstream down, the worker shows a card never seen: the fitting is recorded as a case
    under the card's stand-in. Upstream back, the same item under the same notice fitted
    directly with the worker's card is refused while the case is open, and after its fee
    list was handed over; the fund pays nothing."""
    _outage(sim, True)
    case = services.device_claims.fit_or_claim(_fit(NEW_CARDS[shown]), actor="dev01")
    assert isinstance(case, ManualClaim)
    _outage(sim, False)
    with pytest.raises(InvalidTransition) as beside:
        services.devices.fit(_fit(card("P011"), hour=10), actor="dev01")
    assert beside.value.code == "DEVICE_MANUAL_CLAIM_CASE" and case.id in beside.value.message
    services.manual_claims.hand_over(case.id, actor="dev01")
    with pytest.raises(InvalidTransition) as after:
        services.devices.fit(_fit(card("P011"), hour=11), actor="dev01")
    assert after.value.code == "MANUAL_CLAIM_HANDED_OVER" and case.id in after.value.message
    assert _fund_paid(db) == D("0.00")


def test_n38_b27_a_case_under_a_new_card_is_not_handed_over_beside_a_direct_fitting(
    services: Services, sim: SimulatorServer, db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The case was recorded first, under a card never seen; the fund then paid the same item
    under the same notice directly (settled by a release without the case check): the
    case's fee list is not handed over — hand-over is the last moment before the insured
    place pays."""
    _outage(sim, True)
    case = services.device_claims.fit_or_claim(_fit(NEW_CARDS["electronic_card"]), actor="d")
    assert isinstance(case, ManualClaim)
    _outage(sim, False)
    monkeypatch.setattr(devices, "refuse_beside_a_case", lambda *a, **k: None)
    # ... nor the case as the item's earlier fitting (inside its minimum years)
    monkeypatch.setattr(device_replacements, "case_fittings", lambda *a, **k: [])
    direct = services.devices.fit(_fit(card("P011"), hour=10), actor="dev01").settlement
    monkeypatch.undo()
    with pytest.raises(InvalidTransition) as twice:
        services.manual_claims.hand_over(case.id, actor="dev01")
    assert twice.value.code == "DEVICE_SETTLED_DIRECTLY" and direct.slip_no in twice.value.message
    assert services.manual_claims.get(case.id).handed_over_at is None
