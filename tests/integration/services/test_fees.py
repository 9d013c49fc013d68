"""Fee details: priced when recorded, repeats ignored, reversals, unmapped items and mapping."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from adapter.domain.encounters import Encounter
from adapter.domain.errors import DomainError, PricingError
from adapter.domain.fees import FeeCategory
from adapter.domain.pricing import price_lines
from adapter.services.container import Services
from adapter.services.settlement import SettleRequest
from adapter.store.repositories import MappingStatus
from adapter.store.uow import UnitOfWork
from tests.integration.services.helpers import admit, fee, local
from tests.integration.services.support import BEIJING

D = Decimal


@pytest.fixture
def stay(services: Services) -> Encounter:
    return services.admissions.admit(admit("P001", "V-1"), actor="clerk").encounter


def _priced(services: Services, encounter: Encounter) -> dict[str, tuple[Decimal, Decimal]]:
    view = services.encounter(encounter.id)
    return {p.line.line_id: (p.fund_pay, p.personal_pay) for p in view.fees.bill.lines}


def test_lines_are_priced_by_rule_and_unknown_items_kept_flagged(
    services: Services, stay: Encounter
) -> None:
    recorded = services.fees.record(
        stay.id,
        [
            fee("L1", "XN02BEB001", "36.50", quantity="2"),
            fee("L2", "110900001A", "180.00", quantity="3", category=FeeCategory.SERVICE),
            fee("L3", "XJ01DCC061", "42.00", work_injury=False),
            fee("L4", "MEAL01", "90.00", quantity="3", category=FeeCategory.MEAL),
            fee("L5", "HIS-ZZ-9", "55.55"),
        ],
        actor="billing01",
    )
    assert recorded.added == ("L1", "L2", "L3", "L4", "L5")
    assert recorded.unmapped == ("L5",)
    priced = _priced(services, stay)
    assert priced["L1"] == (D("36.50"), D("0.00"))  # in catalogue: the fund pays all
    assert priced["L2"] == (D("150.00"), D("30.00"))  # bed fee above the 50/日 standard
    assert priced["L3"] == (D("0.00"), D("42.00"))  # non-work injury (B§29)
    assert priced["L5"] == (D("0.00"), D("55.55"))  # unmapped: out of catalogue until mapped
    view = services.encounter(stay.id)
    assert [line.line_id for line in view.fees.bill.excluded] == ["L4"]  # meal (N§3, B§30)
    assert [s.line.line_id for s in view.fees.unmapped] == ["L5"]


def test_repeated_line_ids_are_ignored_and_reported(
    services: Services, stay: Encounter, db: Engine
) -> None:
    services.fees.record(stay.id, [fee("L1", "XN02BEB001", "18.25")], actor="his")
    again = services.fees.record(
        stay.id,
        [fee("L1", "XN02BEB001", "18.25"), fee("L2", "XA11DBM001", "9.90")],
        actor="his",
    )
    assert again.added == ("L2",)
    assert again.ignored == ("L1",)
    with UnitOfWork(db) as uow:
        assert [line.line_id for line in uow.fee_lines.list(stay.id)] == ["L1", "L2"]


def test_FEE_LINE_ID_REPEATED_n47_the_same_fee_twice_in_one_batch_refuses_it(
    services: Services, stay: Encounter, db: Engine
) -> None:
    """Two identical lines under one id in one batch: before, one was stored and the other
    reported ignored (9.90 recorded where the HIS may have charged 19.80). Refused, naming
    the second; nothing of the batch is stored, and a later batch resending it is a resend."""
    box = fee("L2", "XA11DBM001", "9.90")
    with pytest.raises(PricingError) as twice:
        services.fees.record(stay.id, [box, fee("L1", "XN02BEB001", "18.25"), box], actor="his")
    assert twice.value.code == "FEE_LINE_ID_REPEATED" and twice.value.article == "N§47"
    assert twice.value.field == "lines.2.his_line_id" and "第1条和第3条" in twice.value.message
    with UnitOfWork(db) as uow:
        assert uow.fee_lines.list(stay.id) == []
    services.fees.record(stay.id, [box], actor="his")
    again = services.fees.record(stay.id, [box], actor="his")
    assert again.added == () and again.ignored == ("L2",)
    assert _priced(services, stay) == {"L2": (D("9.90"), D("0.00"))}


def test_FEE_LINE_ID_REUSED_n47_a_line_id_sent_again_as_another_fee_refuses_its_batch(
    services: Services, stay: Encounter, db: Engine
) -> None:
    """The HIS "corrects" a box of 36.50 by sending its line id again at 18.25: dropped as a
    repeat, the fund would pay 36.50 while the HIS believes 18.25 recorded. Refused, naming
    the line and what differs; a correction is a reversal and a new line."""
    services.fees.record(stay.id, [fee("L1", "XN02BEB001", "36.50")], actor="his")
    with pytest.raises(PricingError) as reused:
        services.fees.record(
            stay.id,
            [fee("L2", "XA11DBM001", "9.90"), fee("L1", "XN02BEB001", "18.25")],
            actor="his",
        )
    assert reused.value.code == "FEE_LINE_ID_REUSED" and reused.value.article == "N§47"
    assert reused.value.field == "lines.1.his_line_id"
    assert "金额18.25（已记录36.50）" in reused.value.message and "冲销" in reused.value.message
    with pytest.raises(PricingError) as twice:  # the same id twice in one batch, two fees
        services.fees.record(
            stay.id,
            [fee("L3", "XA11DBM001", "9.90"), fee("L3", "XA11DBM001", "9.90", work_injury=False)],
            actor="his",
        )
    assert twice.value.field == "lines.1.his_line_id" and "是否工伤否（已记录是）" in (
        twice.value.message
    )
    with UnitOfWork(db) as uow:  # nothing of either batch
        assert [line.line_id for line in uow.fee_lines.list(stay.id)] == ["L1"]
    assert _priced(services, stay) == {"L1": (D("36.50"), D("0.00"))}
    # the same fee sent again is a resend, as before; a reversal re-sent likewise
    services.fees.record(stay.id, [fee("R1", "XN02BEB001", "-36.50", quantity="-1")], actor="his")
    again = services.fees.record(
        stay.id,
        [fee("L1", "XN02BEB001", "36.50"), fee("R1", "XN02BEB001", "-36.50", quantity="-1")],
        actor="his",
    )
    assert again.added == () and again.ignored == ("L1", "R1")


def test_negative_quantity_reverses_its_original_named_or_matched_by_item(
    services: Services, stay: Encounter
) -> None:
    services.fees.record(
        stay.id,
        [
            fee("L1", "XN02BEB001", "36.50", quantity="2"),
            fee("L2", "110900001A", "180.00", quantity="3", category=FeeCategory.SERVICE),
        ],
        actor="his",
    )
    recorded = services.fees.record(
        stay.id,
        [
            fee("R1", "XN02BEB001", "-18.25", quantity="-1"),  # no original named: matched
            fee(
                "R2",
                "110900001A",
                "-60.00",
                quantity="-1",
                category=FeeCategory.SERVICE,
                reverses="L2",
            ),
        ],
        actor="his",
    )
    assert recorded.reversals == {"R1": "L1", "R2": "L2"}
    priced = _priced(services, stay)
    assert priced["R1"] == (D("-18.25"), D("0.00"))
    assert priced["R2"] == (D("-50.00"), D("-10.00"))  # undoes its share of the excess
    bill = services.encounter(stay.id).fees.bill
    total = sum((p.amount for p in bill.lines), D("0"))
    fund = sum((p.fund_pay for p in bill.lines), D("0"))
    assert (total, fund) == (D("138.25"), D("118.25"))


def test_a_reversal_matched_by_item_undoes_a_charge_of_its_own_work_injury_flag(
    services: Services, stay: Encounter
) -> None:
    """The same drug charged for the work injury and, later, for another illness (伤病分离,
    B§29); the HIS returns the work-injury box without naming it: it undoes the work-injury
    charge, which the fund paid, not the latest charge of the item, which the worker paid."""
    services.fees.record(
        stay.id,
        [
            fee("W1", "XN02BEB001", "36.50"),
            fee("N1", "XN02BEB001", "36.50", work_injury=False),
        ],
        actor="his",
    )
    recorded = services.fees.record(
        stay.id, [fee("R1", "XN02BEB001", "-36.50", quantity="-1")], actor="his"
    )
    assert recorded.reversals == {"R1": "W1"}
    assert _priced(services, stay)["R1"] == (D("-36.50"), D("0.00"))
    breakdown = services.settlements.presettle(stay.id, local(0, 0)).bill.breakdown
    assert (breakdown.total, breakdown.fund_pay, breakdown.non_work_injury) == (
        D("36.50"),
        D("0.00"),
        D("36.50"),
    )
    # and the other way round: the illness's box returned undoes the illness's charge
    services.fees.record(
        stay.id,
        [
            fee("W2", "XN02BEB001", "36.50"),
            fee("R2", "XN02BEB001", "-36.50", quantity="-1", work_injury=False),
        ],
        actor="his",
    )
    assert _priced(services, stay)["R2"] == (D("0.00"), D("-36.50"))
    breakdown = services.settlements.presettle(stay.id, local(0, 0)).bill.breakdown
    assert (breakdown.total, breakdown.fund_pay, breakdown.non_work_injury) == (
        D("36.50"),
        D("36.50"),
        D("0.00"),
    )


def test_a_reversal_beyond_its_original_refuses_the_whole_batch_naming_the_line(
    services: Services, stay: Encounter, db: Engine
) -> None:
    services.fees.record(stay.id, [fee("L1", "XN02BEB001", "18.25")], actor="his")
    with pytest.raises(PricingError) as refused:
        services.fees.record(
            stay.id,
            [
                fee("L2", "XA11DBM001", "9.90"),
                fee("R1", "XN02BEB001", "-36.50", quantity="-2", reverses="L1"),
            ],
            actor="his",
        )
    assert refused.value.code == "FEE_REVERSAL_EXCEEDS_ORIGINAL"
    assert refused.value.field == "lines.1.quantity"  # type: ignore[attr-defined]
    with pytest.raises(PricingError) as unknown:
        services.fees.record(stay.id, [fee("R9", "XX", "-1.00", quantity="-1")], actor="his")
    assert unknown.value.code == "FEE_REVERSAL_UNKNOWN_ORIGINAL"
    with pytest.raises(PricingError) as precision:
        services.fees.record(stay.id, [fee("L3", "XA11DBM001", "9.999")], actor="his")
    assert precision.value.field == "lines.0"  # type: ignore[attr-defined]
    with UnitOfWork(db) as uow:
        assert [line.line_id for line in uow.fee_lines.list(stay.id)] == ["L1"]


def test_the_clerk_maps_an_unknown_item_or_confirms_it_out_of_catalogue(
    services: Services, stay: Encounter, db: Engine
) -> None:
    services.fees.record(
        stay.id, [fee("L1", "HIS-CEF", "42.00"), fee("L2", "HIS-ODD", "10.00")], actor="his"
    )
    with pytest.raises(DomainError) as unknown:
        services.fees.map_line(stay.id, "L1", "NOPE", actor="billing01")
    assert unknown.value.code == "CATALOGUE_ITEM_UNKNOWN"
    services.fees.map_line(stay.id, "L1", "XJ01DCC061", actor="billing01")
    services.fees.map_line(stay.id, "L2", None, actor="billing01")
    priced = _priced(services, stay)
    assert priced["L1"] == (D("42.00"), D("0.00"))  # now priced as the catalogue drug
    assert priced["L2"] == (D("0.00"), D("10.00"))  # confirmed 目录外
    with UnitOfWork(db) as uow:
        statuses = {s.line.line_id: s.mapping_status for s in uow.fee_lines.list_stored(stay.id)}
        assert set(statuses.values()) == {MappingStatus.MAPPED}
        [entry, _] = uow.audit.query(action="fees.map_line")
    assert entry.details["catalogue_code"] == "XJ01DCC061" and entry.actor == "billing01"


def test_settlement_is_refused_while_a_line_is_unmapped(
    services: Services, stay: Encounter
) -> None:
    services.fees.record(stay.id, [fee("L1", "HIS-CEF", "42.00")], actor="his")
    with pytest.raises(DomainError) as refused:
        services.settlements.settle(SettleRequest(stay.id, local(0, 0)), actor="billing01")
    assert refused.value.code == "FEES_UNMAPPED" and "L1" in refused.value.message
    presettle = services.settlements.presettle(stay.id, local(0, 0))
    assert presettle.unmapped == ("L1",)


def test_PR_DEVICE_AT_COUNTER_n34_b34_a_device_line_on_a_stay_is_the_workers_and_settles(
    services: Services, stay: Encounter
) -> None:
    """A device line sent with a medical stay's fees is not the fund's (devices are paid at
    the counter on the notice); it needs no mapping, so it does not hold the settlement."""
    recorded = services.fees.record(
        stay.id,
        [
            fee("L1", "XN02BEB001", "36.50"),
            fee("D1", "HIS-DEV-9", "2500.00", category=FeeCategory.DEVICE),
        ],
        actor="his",
    )
    assert recorded.unmapped == ()
    bill = services.encounter(stay.id).fees.bill
    device = next(p for p in bill.lines if p.line.line_id == "D1")
    assert device.rule.code == "PR_DEVICE_AT_COUNTER" and "核付通知单" in device.message
    settled = services.settlements.settle(SettleRequest(stay.id, local(0, 0)), actor="b")
    breakdown = settled.settlement.breakdown
    assert (breakdown.fund_pay, breakdown.personal_pay) == (D("36.50"), D("2500.00"))
    assert breakdown.out_of_catalogue == D("2500.00")


def test_two_fee_batches_for_one_stay_at_once_are_both_recorded(
    services: Services, stay: Encounter, db: Engine
) -> None:
    barrier = threading.Barrier(2)
    errors: list[Exception] = []

    def send(prefix: str) -> None:
        lines = [fee(f"{prefix}{n}", "XA11DBM001", "9.90") for n in range(20)]
        barrier.wait()
        try:
            services.fees.record(stay.id, lines, actor="his")
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(p,)) for p in ("A", "B")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with UnitOfWork(db) as uow:
        assert len(uow.fee_lines.list(stay.id)) == 40


def _line_ids(db: Engine, encounter: Encounter) -> list[str]:
    with UnitOfWork(db) as uow:
        return [line.line_id for line in uow.fee_lines.list(encounter.id)]


def test_FEE_REVERSAL_PRICE_MISMATCH_n32_n33_a_reversal_at_another_price_refuses_its_batch(
    services: Services, stay: Encounter, db: Engine
) -> None:
    """The audit's stay: a day's bed fee at 180.00 reversed at 50.00 and a 36.50 drug reversed
    at 100.00 settled with the fund at -63.50 and the worker paying 130.00 for nothing."""
    bed = FeeCategory.SERVICE
    services.fees.record(
        stay.id,
        [fee("L1", "110900001A", "180.00", category=bed), fee("L2", "XN02BEB001", "36.50")],
        actor="his",
    )
    cheap_day = fee("R1", "110900001A", "-50.00", quantity="-1", category=bed, reverses="L1")
    dear_box = fee("R2", "XN02BEB001", "-100.00", quantity="-1", reverses="L2")
    for index, (line, price) in enumerate(((cheap_day, "180.00"), (dear_box, "36.50"))):
        with pytest.raises(PricingError) as refused:
            # a good line with it: the batch is all or nothing
            services.fees.record(stay.id, [fee("L3", "XA11DBM001", "9.90"), line], actor="his")
        assert refused.value.code == "FEE_REVERSAL_PRICE_MISMATCH", index
        assert refused.value.field == "lines.1.unit_price"  # type: ignore[attr-defined]
        assert f"原明细{line.reverses}的单价{price}元" in refused.value.message
    assert _line_ids(db, stay) == ["L1", "L2"]
    # reversed at their own prices, both charges are gone from the slip
    services.fees.record(
        stay.id,
        [
            fee("R1", "110900001A", "-180.00", quantity="-1", category=bed, reverses="L1"),
            fee("R2", "XN02BEB001", "-36.50", quantity="-1", reverses="L2"),
            fee("L3", "XA11DBM001", "9.90"),
        ],
        actor="his",
    )
    slip = services.settlements.settle(SettleRequest(stay.id, local(0, 0)), actor="b")
    breakdown = slip.settlement.breakdown
    assert (breakdown.total, breakdown.fund_pay, breakdown.personal_pay) == (
        D("9.90"),
        D("9.90"),
        D("0.00"),
    )
    assert breakdown.over_limit == D("0.00")


def test_FEE_REVERSAL_AMOUNT_MISMATCH_n33_a_charge_reversed_in_parts_over_batches_nets_zero(
    services: Services, stay: Encounter, db: Engine
) -> None:
    bed = FeeCategory.SERVICE
    services.fees.record(
        stay.id,
        [
            fee("D1", "XN02BEB001", "100.00", quantity="3"),  # 3 × 33.3333
            fee("B1", "110900001A", "166.67", quantity="3", category=bed),  # 3 × 55.5567
            fee("K1", "XA11DBM001", "9.90"),
        ],
        actor="his",
    )
    # one box and one day back per batch, the boxes matched by item (the HIS names none)
    for n in (1, 2):
        services.fees.record(
            stay.id,
            [
                fee(f"RD{n}", "XN02BEB001", "-33.33", quantity="-1"),
                fee(f"RB{n}", "110900001A", "-55.56", quantity="-1", category=bed, reverses="B1"),
            ],
            actor="his",
        )
    # the last box at -33.33 would leave the worker a fen for three boxes all returned
    with pytest.raises(PricingError) as refused:
        services.fees.record(
            stay.id, [fee("RD3", "XN02BEB001", "-33.33", quantity="-1")], actor="his"
        )
    assert refused.value.code == "FEE_REVERSAL_AMOUNT_MISMATCH"
    assert refused.value.field == "lines.0.amount"  # type: ignore[attr-defined]
    assert "-33.34元" in refused.value.message
    services.fees.record(
        stay.id,
        [
            fee("RD3", "XN02BEB001", "-33.34", quantity="-1"),
            fee("RB3", "110900001A", "-55.55", quantity="-1", category=bed, reverses="B1"),
        ],
        actor="his",
    )
    priced = _priced(services, stay)
    assert priced["B1"] == (D("150.00"), D("16.67"))
    # each day back leaves the days left as they would be charged: the standard's 50.00 a
    # day (100.00 for 111.11, then 50.00 for 55.55), never a fen of it on the worker
    assert [priced[f"RB{n}"] for n in (1, 2, 3)] == [
        (D("-50.00"), D("-5.56")),
        (D("-50.00"), D("-5.56")),
        (D("-50.00"), D("-5.55")),
    ]
    with UnitOfWork(db) as uow:  # the same prices as the stay's lines priced in one go
        stored = uow.fee_lines.list_stored(stay.id)
        catalogue = uow.catalogue.treatment_catalogue(BEIJING)
    in_one_go = price_lines([s.line for s in stored], catalogue, BEIJING)
    assert {p.line.line_id: (p.fund_pay, p.personal_pay) for p in in_one_go.lines} == priced
    breakdown = services.settlements.settle(
        SettleRequest(stay.id, local(0, 0)), actor="b"
    ).settlement.breakdown
    assert (breakdown.total, breakdown.fund_pay, breakdown.personal_pay) == (
        D("9.90"),
        D("9.90"),
        D("0.00"),
    )
    assert breakdown.over_limit == D("0.00")


def test_reversals_of_a_line_the_clerk_maps_later_leave_the_days_left_at_its_new_standard(
    services: Services, stay: Encounter
) -> None:
    bed = FeeCategory.SERVICE
    services.fees.record(
        stay.id,
        [
            fee("B1", "HIS-BED-2", "166.67", quantity="3", category=bed),
            fee("K1", "XA11DBM001", "9.90"),
        ],
        actor="his",
    )
    for n, amount in ((1, "-55.56"), (2, "-55.56"), (3, "-55.55")):
        services.fees.record(
            stay.id,
            [fee(f"R{n}", "HIS-BED-2", amount, quantity="-1", category=bed, reverses="B1")],
            actor="his",
        )
    # mapped to the bed fee with its 50/日 standard, after all three days were returned
    services.fees.map_line(stay.id, "B1", "110900001A", actor="billing01")
    priced = _priced(services, stay)
    assert priced["B1"] == (D("150.00"), D("16.67"))
    assert [priced[f"R{n}"][0] for n in (1, 2, 3)] == [D("-50.00"), D("-50.00"), D("-50.00")]
    breakdown = services.settlements.presettle(stay.id, local(0, 0)).bill.breakdown
    assert (breakdown.total, breakdown.fund_pay, breakdown.personal_pay) == (
        D("9.90"),
        D("9.90"),
        D("0.00"),
    )
