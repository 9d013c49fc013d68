"""Manual claims (N§38, B§27): recorded with why, the fee list, and no direct settlement after."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import Engine

from adapter.domain.encounters import Encounter, EncounterStatus
from adapter.domain.errors import DomainError, InvalidMessage, InvalidTransition
from adapter.domain.fees import FeeCategory
from adapter.services.container import Services
from adapter.services.manual_claim_records import ManualClaimReason
from adapter.services.settlement import SettleRequest
from connectors.upstream.simulator import SimulatorServer
from tests.integration.services.helpers import admit, fee, local
from tests.integration.services.support import MovableClock, jobs

# Upstream goes down here: each refused read waits out the client's short budget.
pytestmark = pytest.mark.upstream_outage


@pytest.fixture
def stay(services: Services) -> Encounter:
    encounter = services.admissions.admit(admit("P001", "V-1"), actor="c").encounter
    services.fees.record(
        encounter.id,
        [
            fee("L1", "XN02BEB001", "36.50", quantity="2"),
            fee("L2", "MEAL", "30.00", category=FeeCategory.MEAL),
        ],
        actor="his",
    )
    return encounter


def test_a_card_failure_claim_lists_the_fees_and_blocks_direct_settlement_for_good(
    services: Services, stay: Encounter, db: Engine
) -> None:
    with pytest.raises(InvalidMessage) as missing:
        services.manual_claims.create(stay.id, ManualClaimReason.CARD_FAILURE, "", actor="b")
    assert missing.value.field == "detail"
    claim = services.manual_claims.create(
        stay.id, ManualClaimReason.CARD_FAILURE, "社保卡芯片损坏，无法读卡", actor="b"
    )
    listing = claim.fee_list
    assert listing["medfee_sumamt"] == "36.50" and listing["fund_pay_sumamt"] == "36.50"
    assert [line["feedetl_sn"] for line in listing["lines"]] == ["L1"]
    assert listing["excluded"][0]["amount"] == "30.00"
    assert "N§38" in listing["note"]
    assert listing["worker"]["citizen_id"].count("*") == 8  # masked on the paper
    assert services.manual_claims.get(claim.id) == claim
    assert services.encounter(stay.id).encounter.status is EncounterStatus.MANUAL_CLAIM
    with pytest.raises(InvalidTransition) as blocked:
        services.settlements.settle(SettleRequest(stay.id, local(0, 0)), actor="b")
    assert blocked.value.article == "N§38, B§27" and "手工报销" in blocked.value.message
    with pytest.raises(InvalidTransition):
        services.fees.record(stay.id, [fee("L9", "XA11DBM001", "9.90")], actor="his")
    with pytest.raises(InvalidTransition):
        services.manual_claims.create(stay.id, ManualClaimReason.CARD_FAILURE, "再次", actor="b")
    # Upstream is told no direct settlement will follow the registration.
    assert [j["kind"] for j in jobs(db)] == ["WI2401", "WI2404"]


def test_an_upstream_outage_claim_needs_upstream_down_for_the_configured_wait(
    services: Services, stay: Encounter, sim: SimulatorServer, clock: MovableClock
) -> None:
    reason = ManualClaimReason.UPSTREAM_UNAVAILABLE
    with pytest.raises(DomainError) as up:
        services.manual_claims.create(stay.id, reason, "", actor="b")
    assert up.value.code == "MANUAL_CLAIM_UPSTREAM_UP"
    httpx.post(f"{sim.url}/_sim/faults", json={"outage": True})
    with pytest.raises(DomainError) as early:
        services.manual_claims.create(stay.id, reason, "", actor="b")
    assert early.value.code == "MANUAL_CLAIM_TOO_EARLY" and "30分钟" in early.value.message
    clock.advance(timedelta(minutes=31))
    claim = services.manual_claims.create(stay.id, reason, "省平台中断", actor="b")
    assert claim.reason is reason
    assert Decimal(claim.fee_list["medfee_sumamt"]) == Decimal("36.50")
