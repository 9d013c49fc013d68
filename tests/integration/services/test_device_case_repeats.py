"""A second manual-claim case of the same items at another time (N§38 杜绝重复报销, N§34, 附表2),
over the use cases with the simulator over real HTTP.

Upstream down at the counter twice: the same worker's items under the same approval notice
recorded again at a later hour would be a second fee list for the insured place to reimburse.
Earlier cases count as earlier fittings, as settled ones do: the counter is shown the
earlier case and must confirm, and the confirmed items are the worker's on the second list
(nothing of them claimed). A double click (the same priced time) is still the same case."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import Engine

from adapter.domain.devices import DeviceItem
from adapter.domain.errors import ConfirmationRequired
from adapter.services.container import Services
from adapter.services.devices import FitDevices
from adapter.services.manual_claim_records import ManualClaim
from connectors.upstream.simulator import SimulatorServer
from tests.integration.services.device_world import ARM, NAMES, NOTICE, ORTHOSIS
from tests.integration.services.helpers import TODAY, card, local
from tests.integration.services.support import jobs

pytestmark = pytest.mark.upstream_outage

D = Decimal


def outage(sim: SimulatorServer, on: bool) -> None:
    assert httpx.post(f"{sim.url}/_sim/faults", json={"outage": on}).status_code == 200


def _fit(hour: int, **costs: str) -> FitDevices:
    items = tuple(DeviceItem(code, NAMES[code], D(cost)) for code, cost in costs.items())
    return FitDevices(card("P011"), NOTICE, items, local(0, hour))


def _case(services: Services, request: FitDevices) -> ManualClaim:
    result = services.device_claims.fit_or_claim(request, actor="dev01")
    assert isinstance(result, ManualClaim)
    return result


def _sums(case: ManualClaim) -> tuple[str, str, str]:
    listing = case.fee_list
    return listing["medfee_sumamt"], listing["claimed_sumamt"], listing["personal_sumamt"]


@pytest.mark.parametrize("first_state", ["open", "handed_over"])
def test_PR_DEVICE_NOTICE_USED_n38_a_second_case_of_the_items_under_the_notice_is_confirmed(
    services: Services, sim: SimulatorServer, db: Engine, first_state: str
) -> None:
    outage(sim, True)
    first = _case(services, _fit(9, **{ORTHOSIS: "1500.00"}))
    if first_state == "handed_over":
        services.manual_claims.hand_over(first.id, actor="dev01")
    second = _fit(11, **{ORTHOSIS: "1600.00"})
    with pytest.raises(ConfirmationRequired) as unconfirmed:
        services.device_claims.fit_or_claim(second, actor="dev01")
    [reason] = unconfirmed.value.reasons
    # The worker is unknown to the store (upstream down from the start): no minimum years to
    # count, but the notice that the first case claims the item under is used again.
    assert reason.code == "PR_DEVICE_NOTICE_USED" and reason.field == ORTHOSIS
    assert first.id in reason.message and TODAY.isoformat() in reason.message
    assert NOTICE in reason.message and NAMES[ORTHOSIS] in reason.message
    assert services.manual_claims.of_encounter(first.encounter_id) is not None
    # Confirmed: recorded, the item the worker's — the insured place is asked for nothing.
    case = _case(services, replace(second, replacement_confirmed=True))
    assert case.id != first.id
    assert _sums(case) == ("1600.00", "0.00", "1600.00")
    [line] = case.fee_list["lines"]
    assert line["amount"] == "1600.00" and line["claimed"] == "0.00"
    assert line["personal"] == "1600.00" and "同一核付通知单再次配置" in line["reason"]
    assert first.id in line["reason"]
    assert "个人" in case.fee_list["note"]
    # The first list is untouched: it still claims its 1500.00.
    assert _sums(services.manual_claims.get(first.id)) == ("1500.00", "1500.00", "0.00")
    # Entered again (a double click), the confirmed case is the same case.
    assert _case(services, replace(second, replacement_confirmed=True)).id == case.id
    assert jobs(db) == []


def test_n38_a_second_case_of_another_item_under_the_notice_needs_no_confirmation(
    services: Services, sim: SimulatorServer
) -> None:
    outage(sim, True)
    _case(services, _fit(9, **{ORTHOSIS: "1500.00"}))
    case = _case(services, _fit(11, **{ARM: "30000.00"}))
    assert _sums(case) == ("30000.00", "30000.00", "0.00")


def test_PR_DEVICE_MIN_YEARS_fujian2_a_second_case_inside_the_minimum_years_of_a_known_worker(
    services: Services, sim: SimulatorServer, db: Engine
) -> None:
    # The worker's filing is known from an earlier fitting (the orthosis: 2 minimum years).
    services.devices.fit(_fit(8, **{ARM: "100.00"}), actor="dev01")
    outage(sim, True)
    first = _case(services, _fit(9, **{ORTHOSIS: "1500.00"}))
    with pytest.raises(ConfirmationRequired) as unconfirmed:
        services.device_claims.fit_or_claim(_fit(11, **{ORTHOSIS: "1500.00"}), actor="dev01")
    [reason] = unconfirmed.value.reasons
    assert reason.code == "PR_DEVICE_MIN_YEARS" and "2年" in reason.message
    assert first.id in reason.message
    confirmed = replace(_fit(11, **{ORTHOSIS: "1500.00"}), replacement_confirmed=True)
    assert _sums(_case(services, confirmed)) == ("1500.00", "0.00", "1500.00")


def test_n38_fujian2_a_case_switching_beside_an_open_case_of_its_items_is_confirmed(
    services: Services, sim: SimulatorServer, db: Engine
) -> None:
    """Both cases open when upstream comes back: the second switched first meets the first
    as its earlier fitting (the worker pays, once confirmed); the first then settles as the
    one the fund pays (a fitting the worker paid alone starts no clock)."""
    outage(sim, True)
    first = _case(services, _fit(9, **{ORTHOSIS: "1500.00"}))
    second = _case(services, replace(_fit(11, **{ORTHOSIS: "1600.00"}), replacement_confirmed=True))
    outage(sim, False)
    with pytest.raises(ConfirmationRequired) as unconfirmed:
        services.device_claims.switch_to_direct(second.id, card("P011"), actor="dev01")
    [reason] = unconfirmed.value.reasons
    assert reason.code == "PR_DEVICE_MIN_YEARS" and first.id in reason.message
    assert jobs(db) == []
    worker_pays = services.device_claims.switch_to_direct(
        second.id, card("P011"), actor="dev01", replacement_confirmed=True
    ).settlement.breakdown
    assert (worker_pays.fund_pay, worker_pays.personal_pay, worker_pays.total) == (
        D("0.00"),
        D("1600.00"),
        D("1600.00"),
    )
    fund_pays = services.device_claims.switch_to_direct(
        first.id, card("P011"), actor="dev01"
    ).settlement.breakdown
    assert (fund_pays.fund_pay, fund_pays.personal_pay, fund_pays.total) == (
        D("1500.00"),
        D("0.00"),
        D("1500.00"),
    )
    assert [j["kind"] for j in jobs(db)] == ["WI2701", "WI2701"]
