"""A device fitting while upstream is down (N§38, B§27), over the use cases with the simulator
over real HTTP: refused naming the two ways on, or recorded as a manual-claim case from the
start with its fee list (手工报销); handed over it stays one, switched before that it is
checked and settled directly (N§34, B§34)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import Engine, select

from adapter.domain.devices import DeviceItem
from adapter.domain.encounters import EncounterKind, EncounterStatus
from adapter.domain.errors import (
    ConfirmationRequired,
    EligibilityRefused,
    InvalidTransition,
    NotFound,
    PricingError,
)
from adapter.services import device_claims
from adapter.services.container import Services
from adapter.services.device_outage import UpstreamDownAtDeviceCounter
from adapter.services.devices import FitDevices, Fitted
from adapter.services.manual_claim_records import ManualClaim
from adapter.store.sql import table
from adapter.store.tables.settlements import SettlementRow
from adapter.store.tables.workflow import manual_claim
from connectors.upstream.simulator import SimulatorServer
from tests.integration.services.device_world import ARM, NAMES, NOTICE, ORTHOSIS
from tests.integration.services.helpers import card, local
from tests.integration.services.support import jobs

# Upstream goes down here: each refused read waits out the client's short budget.
pytestmark = pytest.mark.upstream_outage

D = Decimal
_settlement = table(SettlementRow)


def outage(sim: SimulatorServer, on: bool) -> None:
    assert httpx.post(f"{sim.url}/_sim/faults", json={"outage": on}).status_code == 200


def _fit(notice: str = NOTICE, **costs: str) -> FitDevices:
    items = tuple(DeviceItem(code, NAMES[code], D(cost)) for code, cost in costs.items())
    return FitDevices(card("P011"), notice, items, local(0, 9))


def _case(services: Services, request: FitDevices) -> ManualClaim:
    result = services.device_claims.fit_or_claim(request, actor="dev01")
    assert isinstance(result, ManualClaim)
    return result


def test_n38_b27_upstream_down_at_the_device_counter_is_refused_naming_the_two_ways(
    services: Services, sim: SimulatorServer, db: Engine
) -> None:
    outage(sim, True)
    for attempt in (services.devices.fit, services.devices.presettle):
        with pytest.raises(UpstreamDownAtDeviceCounter) as down:
            attempt(_fit(**{ARM: "30000.00"}), actor="dev01")
        assert down.value.code == "UPSTREAM_DOWN_AT_DEVICE_COUNTER"
        assert down.value.article == "N§38, B§27"
        assert "等待上级系统恢复后再配置" in down.value.message
        assert "手工报销" in down.value.message
        ways = [w["way"] for w in down.value.problem_extra["ways_on"]]  # type: ignore[index]
        assert ways == ["retry", "manual_claim"]
    assert jobs(db) == []


def test_n38_b27_n34_a_fitting_recorded_as_a_case_lists_the_whole_cost_for_the_insured_place(
    services: Services, sim: SimulatorServer, db: Engine
) -> None:
    outage(sim, True)
    request = _fit(**{ARM: "30000.00", ORTHOSIS: "1800.00"})
    case = _case(services, request)
    assert case.from_start and case.open_case
    listing = case.fee_list
    assert listing["manual_claim"] is True and "手工报销" in listing["title"]
    assert listing["medfee_sumamt"] == "31800.00" == listing["claimed_sumamt"]
    assert [(x["item_code"], x["amount"]) for x in listing["lines"]] == [
        (ARM, "30000.00"),
        (ORTHOSIS, "1800.00"),
    ]
    assert "无法确定基金支付和个人负担" in listing["note"] and "N§34" in listing["note"]
    assert listing["fitting"]["approval_notice_no"] == NOTICE
    encounter = services.encounter(case.encounter_id).encounter
    assert encounter.kind is EncounterKind.DEVICE and encounter.filing_no == ""
    assert encounter.status is EncounterStatus.ADMITTED
    assert jobs(db) == []  # nothing registered or uploaded upstream
    # The same request again (a double click) is the same case.
    assert _case(services, request).id == case.id


def test_n38_b27_a_fitting_case_handed_over_stays_a_manual_claim(
    services: Services, sim: SimulatorServer, db: Engine
) -> None:
    outage(sim, True)
    request = _fit(**{ORTHOSIS: "1500.00"})
    case = _case(services, request)
    handed = services.manual_claims.hand_over(case.id, actor="dev01")
    assert handed.handed_over_at is not None and not handed.open_case
    assert handed.fee_list == case.fee_list  # the items as entered, not re-priced
    assert services.encounter(case.encounter_id).encounter.status is EncounterStatus.MANUAL_CLAIM
    outage(sim, False)
    with pytest.raises(InvalidTransition) as final:
        services.device_claims.switch_to_direct(case.id, card("P011"), actor="dev01")
    assert final.value.code == "MANUAL_CLAIM_HANDED_OVER" and "N§38" in final.value.article
    # Fitting the same items directly now would reimburse them twice (N§38 杜绝重复报销).
    with pytest.raises(InvalidTransition) as twice:
        services.devices.fit(request, actor="dev01")
    assert twice.value.code == "MANUAL_CLAIM_HANDED_OVER"
    assert services.manual_claims.hand_over(case.id, actor="dev01").fee_list == handed.fee_list
    assert jobs(db) == []


def test_n38_b27_n34_a_fitting_case_switches_to_direct_settlement_before_hand_over(
    services: Services, sim: SimulatorServer, db: Engine
) -> None:
    outage(sim, True)
    request = _fit(**{ARM: "30000.00"})
    case = _case(services, request)
    outage(sim, False)
    # While the case is open, the fitting is not settled a second time beside it.
    with pytest.raises(InvalidTransition) as beside:
        services.devices.fit(request, actor="dev01")
    assert beside.value.code == "DEVICE_MANUAL_CLAIM_CASE" and case.id in beside.value.message
    fitted = services.device_claims.switch_to_direct(case.id, card("P011"), actor="dev01")
    settlement = fitted.settlement
    assert settlement.encounter.id == case.encounter_id  # the case's own encounter
    assert settlement.encounter.psn_no == "P011" and settlement.encounter.filing_no
    assert settlement.encounter.status is EncounterStatus.SETTLED
    assert (settlement.breakdown.fund_pay, settlement.breakdown.personal_pay) == (
        D("28000.00"),
        D("2000.00"),
    )  # priced against the catalogue and the limit now (N§34, B§35)
    assert [j["kind"] for j in jobs(db)] == ["WI2701"]
    with pytest.raises(NotFound):
        services.manual_claims.get(case.id)
    # The same request again is this settlement, not a second one.
    again = services.devices.fit(request, actor="dev01")
    assert isinstance(again, Fitted) and again.replayed
    assert again.settlement.id == settlement.id
    assert len(jobs(db)) == 1
    # Recorded as a case again during a later outage: it is settled already.
    outage(sim, True)
    with pytest.raises(InvalidTransition) as settled:
        services.device_claims.fit_or_claim(request, actor="dev01")
    assert settled.value.code == "DEVICE_MANUAL_CLAIM_SETTLED"
    assert len(jobs(db)) == 1


def test_b34_a_fitting_case_switches_only_once_identity_filing_and_notice_pass(
    services: Services, sim: SimulatorServer, db: Engine
) -> None:
    outage(sim, True)
    case = _case(services, _fit("沪工伤辅核〔2026〕第9999号", **{ARM: "100.00"}))
    outage(sim, False)
    with pytest.raises(EligibilityRefused) as refused:
        services.device_claims.switch_to_direct(case.id, card("P011"), actor="dev01")
    assert [r.code for r in refused.value.reasons] == ["EL_APPROVAL_NOTICE"]
    assert services.manual_claims.get(case.id).open_case  # still a case: hand it over
    assert jobs(db) == []


def test_n38_the_generic_switch_of_a_fitting_case_settles_it_as_a_fitting(
    services: Services, sim: SimulatorServer, db: Engine
) -> None:
    outage(sim, True)
    case = _case(services, _fit(**{ORTHOSIS: "1200.00"}))
    outage(sim, False)
    encounter = services.manual_claims.switch_to_direct(case.id, card("P011"), actor="dev01")
    assert encounter.id == case.encounter_id and encounter.status is EncounterStatus.SETTLED
    assert [j["kind"] for j in jobs(db)] == ["WI2701"]


# --- N§38 杜绝重复报销: the same items under the same notice, entered differently ----------


def _settlements(db: Engine) -> int:
    with db.connect() as connection:
        return len(connection.execute(select(_settlement.c.id)).all())


@pytest.mark.parametrize(
    "variant",
    ["an_hour_later", "cost_written_1500", "with_another_item"],
)
def test_n38_b27_a_handed_over_fitting_case_refuses_its_items_under_its_notice_entered_again(
    services: Services, sim: SimulatorServer, db: Engine, variant: str
) -> None:
    outage(sim, True)
    request = _fit(**{ORTHOSIS: "1500.00"})
    case = _case(services, request)
    services.manual_claims.hand_over(case.id, actor="dev01")  # the insured place reimburses it
    outage(sim, False)
    orthosis = DeviceItem(ORTHOSIS, NAMES[ORTHOSIS], D("1500"))
    again = {
        "an_hour_later": replace(request, fitted_at=local(0, 10)),
        "cost_written_1500": replace(request, items=(orthosis,)),
        "with_another_item": replace(
            request, items=(DeviceItem(ARM, NAMES[ARM], D("100.00")), *request.items)
        ),
    }[variant]
    with pytest.raises(InvalidTransition) as twice:
        services.devices.fit(again, actor="dev01")
    assert twice.value.code == "MANUAL_CLAIM_HANDED_OVER" and twice.value.article == "N§38, B§27"
    assert "手工报销" in twice.value.message and "杜绝重复报销" in twice.value.message
    if variant != "cost_written_1500":  # that one is the very fitting: "本次配置"
        assert case.id in twice.value.message and NAMES[ORTHOSIS] in twice.value.message
        assert NOTICE in twice.value.message
    assert _settlements(db) == 0 and jobs(db) == []  # nothing settled, nothing uploaded
    # Another item under the notice is no double reimbursement: it settles.
    other = replace(request, items=(DeviceItem(ARM, NAMES[ARM], D("100.00")),))
    assert services.devices.fit(other, actor="dev01").settlement.breakdown.fund_pay == D("100.00")


def test_n38_b27_an_open_fitting_case_refuses_its_items_fitted_directly_at_another_time(
    services: Services, sim: SimulatorServer, db: Engine
) -> None:
    outage(sim, True)
    request = _fit(**{ORTHOSIS: "1500.00"})
    case = _case(services, request)
    # The same fitting typed with the cost as 1500: the same case, not a second one.
    written = replace(request, items=(DeviceItem(ORTHOSIS, NAMES[ORTHOSIS], D("1500")),))
    assert _case(services, written).id == case.id
    outage(sim, False)
    later = replace(request, fitted_at=local(0, 10))
    with pytest.raises(InvalidTransition) as beside:
        services.devices.fit(later, actor="dev01")
    assert beside.value.code == "DEVICE_MANUAL_CLAIM_CASE" and case.id in beside.value.message
    assert "转为直接结算" in beside.value.message and NAMES[ORTHOSIS] in beside.value.message
    assert _settlements(db) == 0
    # Switched, the case is the one direct settlement; the later fitting is then a second
    # fitting under the notice that paid it (附表2, N§34): never paid by the fund silently.
    fitted = services.device_claims.switch_to_direct(case.id, card("P011"), actor="dev01")
    assert fitted.settlement.breakdown.fund_pay == D("1500.00")
    with pytest.raises(ConfirmationRequired):
        services.devices.fit(later, actor="dev01")
    second = services.devices.fit(replace(later, replacement_confirmed=True), actor="dev01")
    assert (second.settlement.breakdown.fund_pay, second.settlement.breakdown.personal_pay) == (
        D("0.00"),
        D("1500.00"),
    )


def test_n38_b27_a_case_does_not_switch_beside_a_handed_over_case_of_its_items(
    services: Services, sim: SimulatorServer, db: Engine
) -> None:
    outage(sim, True)
    first = _case(services, _fit(**{ORTHOSIS: "1500.00"}))
    # the same item under the same notice an hour later: a repeat the counter confirmed
    # (the worker's on its list, test_device_case_repeats) — still no second settlement
    later = replace(_fit(**{ORTHOSIS: "1500.00"}), fitted_at=local(0, 10))
    second = _case(services, replace(later, replacement_confirmed=True))
    assert second.id != first.id
    services.manual_claims.hand_over(first.id, actor="dev01")
    outage(sim, False)
    with pytest.raises(InvalidTransition) as switch:
        services.device_claims.switch_to_direct(second.id, card("P011"), actor="dev01")
    assert switch.value.code == "MANUAL_CLAIM_HANDED_OVER" and first.id in switch.value.message
    assert services.manual_claims.get(second.id).open_case  # still a case: hand it over
    assert _settlements(db) == 0 and jobs(db) == []


# --- N§38 杜绝重复报销, the reverse order: settled directly first, a case of it after --------


def _no_case(db: Engine) -> bool:
    with db.connect() as connection:
        return connection.execute(select(manual_claim.c.id)).first() is None


@pytest.mark.parametrize("variant", ["the_same_request", "an_hour_later_at_another_cost"])
def test_n38_b27_a_fitting_settled_directly_is_not_recorded_again_as_a_case_under_its_notice(
    services: Services, sim: SimulatorServer, db: Engine, variant: str
) -> None:
    request = _fit(**{ORTHOSIS: "1500.00"})
    direct = services.devices.fit(request, actor="dev01").settlement
    assert direct.breakdown.fund_pay == D("1500.00")
    outage(sim, True)
    again = {
        "the_same_request": request,
        "an_hour_later_at_another_cost": replace(
            request,
            fitted_at=local(0, 10),
            items=(DeviceItem(ORTHOSIS, NAMES[ORTHOSIS], D("1480.00")),),
        ),
    }[variant]
    with pytest.raises(InvalidTransition) as twice:
        services.device_claims.fit_or_claim(again, actor="dev01")
    assert twice.value.code == "DEVICE_SETTLED_DIRECTLY" and twice.value.article == "N§38, B§27"
    assert twice.value.field == "items"
    message = twice.value.message
    assert NAMES[ORTHOSIS] in message and NOTICE in message and direct.slip_no in message
    assert "直接结算" in message and "杜绝重复报销" in message and "N§38" in message
    assert _no_case(db)  # no fee list to hand over: the insured place is not asked to pay
    # Another item under the notice was never paid: it is recorded as a case.
    other = _case(services, replace(again, items=(DeviceItem(ARM, NAMES[ARM], D("100.00")),)))
    assert other.open_case


def test_n38_b27_a_revoked_direct_fitting_paid_nothing_so_the_case_of_its_items_stands(
    services: Services, sim: SimulatorServer, db: Engine
) -> None:
    request = _fit(**{ORTHOSIS: "1500.00"})
    direct = services.devices.fit(request, actor="dev01").settlement
    services.revocations.revoke(direct.id, reason="录入有误，撤销结算", actor="dev01")
    outage(sim, True)
    case = _case(services, replace(request, fitted_at=local(0, 10)))
    handed = services.manual_claims.hand_over(case.id, actor="dev01")
    assert handed.handed_over_at is not None and handed.fee_list["medfee_sumamt"] == "1500.00"


def test_n38_b27_a_case_recorded_before_the_check_is_not_handed_over_beside_a_direct_fitting(
    services: Services, sim: SimulatorServer, db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = _fit(**{ORTHOSIS: "1500.00", ARM: "100.00"})
    direct = services.devices.fit(request, actor="dev01").settlement
    outage(sim, True)
    # Recorded by the release before the recording check (or by a card the store matched to
    # the worker only since): hand-over is the last moment before the insured place pays.
    monkeypatch.setattr(device_claims, "refuse_after_direct_fitting", lambda *a, **k: None)
    # ... which did not read the direct fitting as an earlier one either (the repeat check)
    monkeypatch.setattr(device_claims.DeviceClaims, "_repeats", lambda *a, **k: ())
    case = _case(services, replace(request, fitted_at=local(0, 10)))
    monkeypatch.undo()
    with pytest.raises(InvalidTransition) as twice:
        services.manual_claims.hand_over(case.id, actor="dev01")
    assert twice.value.code == "DEVICE_SETTLED_DIRECTLY" and twice.value.field == "claim_id"
    message = twice.value.message
    assert NAMES[ORTHOSIS] in message and NAMES[ARM] in message
    assert NOTICE in message and direct.slip_no in message and "交付费用清单" in message
    still = services.manual_claims.get(case.id)
    assert still.open_case and still.handed_over_at is None  # nothing printed for the worker
    assert services.encounter(case.encounter_id).encounter.status is EncounterStatus.ADMITTED
    # Once the direct settlement is revoked it paid nothing: the list may go to the insured place.
    services.revocations.revoke(direct.id, reason="改为手工报销", actor="dev01")
    assert services.manual_claims.hand_over(case.id, actor="dev01").handed_over_at is not None


def test_n38_b27_a_case_whose_notice_was_typed_with_other_brackets_still_refuses_its_items(
    services: Services, sim: SimulatorServer, db: Engine
) -> None:
    # The counter types the notice as its keyboard allows while upstream is down: ASCII
    # brackets and full-width digits for the filing's 〔2026〕第0421号. Same notice.
    typed = NOTICE.replace("〔", "(").replace("〕", ")").replace("0421", "０４２１")
    outage(sim, True)
    case = _case(services, _fit(typed, **{ORTHOSIS: "1500.00"}))
    services.manual_claims.hand_over(case.id, actor="dev01")  # the insured place will pay it
    outage(sim, False)
    with pytest.raises(InvalidTransition) as twice:
        services.devices.fit(
            replace(_fit(**{ORTHOSIS: "1500.00"}), fitted_at=local(0, 11)), actor="d"
        )
    assert twice.value.code == "MANUAL_CLAIM_HANDED_OVER"
    assert jobs(db) == []  # the fund is not asked to pay it a second time


def test_n38_b27_a_case_keyed_before_numbers_were_folded_is_found_when_entered_again(
    services: Services, sim: SimulatorServer, db: Engine
) -> None:
    """A case recorded while upstream was down was keyed by the card's number as typed
    (``cardp011``); numbers are now folded (``CARDP011``, migration 0015). Entered again, it
    must still be that case — not a second fee list for the insured place (N§38, B§27)."""
    from adapter.services.device_keys import fitting_key

    outage(sim, True)
    typed = replace(card("P011"), card_no=" " + card("P011").card_no.lower())
    request = replace(_fit(**{ORTHOSIS: "1500.00"}), card=typed)
    case = _case(services, request)
    legacy = fitting_key(f"?{typed.card_no}", request)  # the stand-in as it was kept
    with db.begin() as connection:
        connection.exec_driver_sql(
            "UPDATE encounter SET his_visit_id = "
            + ("?" if db.dialect.name == "sqlite" else "%s")
            + " WHERE id = "
            + ("?" if db.dialect.name == "sqlite" else "%s"),
            (legacy, case.encounter_id),
        )
    assert _case(services, request).id == case.id


def test_DEVICE_CODE_CASE_n38_a_case_typed_in_another_case_is_never_paid_twice(
    services: Services, sim: SimulatorServer, db: Engine
) -> None:
    """Upstream down at the worker's first visit: nothing here knows the notice or catalogue,
    so the orthosis typed ``sh-fz-0305`` is recorded as a case. Upstream back, the orthosis
    fitted directly as ``SH-FZ-0305`` is refused beside the open case (before, the fund paid
    it directly while the case's fee list still claimed it); the case cannot switch with its
    code, and says to hand its fee list over; handed over, the item is never settled here."""
    outage(sim, True)
    typed = DeviceItem(ORTHOSIS.lower(), NAMES[ORTHOSIS], D("1500.00"))
    case = _case(services, FitDevices(card("P011"), NOTICE, (typed,), local(0, 9)))
    outage(sim, False)
    direct = _fit(**{ORTHOSIS: "1500.00"})
    with pytest.raises(InvalidTransition) as beside:
        services.devices.fit(direct, actor="dev01")
    assert beside.value.code == "DEVICE_MANUAL_CLAIM_CASE" and case.id in beside.value.message
    with pytest.raises(PricingError) as switch:
        services.device_claims.switch_to_direct(case.id, card("P011"), actor="dev01")
    assert (switch.value.code, switch.value.field) == ("DEVICE_CODE_CASE", "items.0.device_code")
    assert case.id in switch.value.message and "请交付费用清单" in switch.value.message
    services.manual_claims.hand_over(case.id, actor="dev01")
    with pytest.raises(InvalidTransition) as after:
        services.devices.fit(direct, actor="dev01")
    assert after.value.code == "MANUAL_CLAIM_HANDED_OVER"
    assert jobs(db) == []
