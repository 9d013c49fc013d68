"""Prices kept with the lines: a stay fed batch by batch settles exactly as the same lines
priced in one go, and a catalogue version that arrives later for an earlier day is used."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import Engine

from adapter.domain.catalogue import CatalogueKind
from adapter.domain.fees import FeeCategory, FeeLine
from adapter.domain.pricing import price_lines
from adapter.domain.settlement import Breakdown
from adapter.services.billing import effective_line
from adapter.services.container import Services
from adapter.services.payloads import feedetail
from adapter.services.settlement import SettleRequest
from adapter.store.uow import UnitOfWork
from connectors.upstream.client import ReferenceClient
from connectors.upstream.simulator import SimulatorServer
from tests.integration.services.helpers import fee, local
from tests.integration.services.support import BEIJING, MovableClock
from tests.support.catalogue_changes import BED, later_bed_standard, priced_stay, publish_later
from upload_queue import UploadQueue

D = Decimal
ZONE = ZoneInfo("Asia/Shanghai")


def _lines(batch: int) -> list[FeeLine]:
    """Six lines of every kind pricing tells apart, and reversals (named and by item) of
    lines recorded in earlier batches. The bed line is a tenth of a day over the standard
    (60.00/日), half of it reversed the next batch: 2.55 days in all, within the stay's six
    (a stay billed more bed days than it had is refused, FEE_DAYS_OVER_STAY)."""
    n = f"{batch:02d}"
    lines = [
        fee(f"D{n}", "XN02BEB001", "36.50", quantity="2"),
        fee(f"B{n}", BED, "6.00", quantity="0.1", category=FeeCategory.SERVICE),
        fee(f"N{n}", "XJ01DCC061", "42.00", work_injury=False),
        fee(f"M{n}", "MEAL01", "30.00", category=FeeCategory.MEAL),
        fee(f"O{n}", "XA11DBM001", "9.90", quantity="3"),
        fee(f"U{n}", f"HIS-ODD-{n}", "12.34"),
    ]
    if batch >= 2:
        earlier = f"{batch - 1:02d}"
        lines.append(
            fee(
                f"RB{n}",
                BED,
                "-3.00",
                quantity="-0.05",
                reverses=f"B{earlier}",
                category=FeeCategory.SERVICE,
            )
        )
        lines.append(fee(f"RO{n}", "XA11DBM001", "-3.30", quantity="-1"))
    return lines


def _in_one_go(db: Engine, services: Services, encounter_id: str) -> tuple[Breakdown, list]:
    """Every stored line priced afresh against the whole catalogue, as before prices were
    kept: the reference the stored prices must match to the fen."""
    with UnitOfWork(db) as uow:
        stored = uow.fee_lines.list_stored(encounter_id)
        catalogue = uow.catalogue.treatment_catalogue(BEIJING)
    bill = price_lines([effective_line(s) for s in stored], catalogue, BEIJING)
    return Breakdown.of(bill.lines, bill.excluded), [
        (p.line.line_id, p.fund_pay, p.personal_pay, p.rule.code) for p in bill.lines
    ]


def _settles_three_bed_days_at_the_late_40_standard(
    services: Services, db: Engine, stay_id: str
) -> None:
    """Settled, the stay's one line of three bed days is paid at 40.00 a day, the excess the
    worker's, priced by (and kept with) the later version."""
    settled = services.settlements.settle(SettleRequest(stay_id, local(0, 0)), actor="b")
    after = settled.settlement.breakdown
    assert (after.fund_pay, after.over_limit) == (D("120.00"), D("60.00"))
    with UnitOfWork(db) as uow:
        [line] = uow.settlements.get(settled.settlement.id).bill.lines
    assert line.item is not None and line.item.version == "2026-late"


def test_a_stay_fed_in_50_batches_settles_as_its_lines_priced_in_one_go(
    services: Services,
    db: Engine,
    clock: MovableClock,
    client: ReferenceClient,
    queue: UploadQueue,
    sim: SimulatorServer,
) -> None:
    # Past the margin a price is taken with, so the stored prices are what settles.
    stay = priced_stay(services, clock)
    for batch in range(1, 51):
        services.fees.record(stay.id, _lines(batch), actor="his")
    # The clerk maps every odd item: half to a catalogue drug, half as out of catalogue.
    for batch in range(1, 51):
        code = "XA11DBM001" if batch % 2 else None
        services.fees.map_line(stay.id, f"U{batch:02d}", code, actor="billing01")
    # The catalogue downloaded again, unchanged, after the lines were priced: no price changes.
    kinds = [k for k in CatalogueKind if k is not CatalogueKind.DEVICE]
    again = [item for kind in kinds for item in client.download_catalogue(kind, BEIJING)]
    with UnitOfWork(db, clock=clock) as uow:
        uow.catalogue.load(again)
        uow.commit()
    with UnitOfWork(db) as uow:
        stale = uow.fee_lines.stale(stay.id, BEIJING, [k.value for k in CatalogueKind])
    assert stale == set()  # nothing is re-priced: every price was kept when recorded
    expected, expected_lines = _in_one_go(db, services, stay.id)
    presettled = services.settlements.presettle(stay.id, local(0, 0))
    settled = services.settlements.settle(SettleRequest(stay.id, local(0, 0)), actor="b")
    breakdown = settled.settlement.breakdown
    assert presettled.bill.breakdown == breakdown == expected
    assert breakdown.fund_pay + breakdown.personal_pay == breakdown.total
    with UnitOfWork(db) as uow:
        kept = uow.settlements.get(settled.settlement.id)  # the snapshot, as reprinted
    assert [
        (p.line.line_id, p.fund_pay, p.personal_pay, p.rule.code) for p in kept.bill.lines
    ] == expected_lines
    assert kept.bill.lines == presettled.bill.lines
    assert kept.bill.excluded == settled.settlement.bill.excluded == presettled.bill.excluded
    assert kept.breakdown == breakdown
    # the settlement was summed by the database: the same category totals as its lines give
    assert settled.settlement.bill.by_category() == kept.bill.by_category()
    assert settled.settlement.bill.line_count == len(kept.bill.lines) == 50 * 5 + 49 * 2
    assert len(settled.settlement.bill.excluded) == 50  # the meals, listed apart
    # 1.00 over the standard per tenth of a day (6.00 at 50.00/日), 0.50 of it returned
    assert breakdown.over_limit == D("1.00") * 50 - D("0.50") * 49
    # The discharge record sent upstream carries every line as pricing the stay gives it:
    # formatted from the snapshot when delivered, the same as from the priced lines.
    queue.worker().drain()
    [write] = httpx.get(f"{sim.url}/_sim/received", params={"infno": "WI2301"}).json()["writes"]
    assert write["input"]["feedetail"] == feedetail(presettled.bill.lines, size=100, zone=ZONE)
    assert write["input"]["feedetail_batch_cnt"] == 4


def test_a_catalogue_version_for_an_earlier_day_loaded_later_is_what_settles(
    services: Services, db: Engine, clock: MovableClock
) -> None:
    stay = priced_stay(services, clock)
    bed = fee("B1", BED, "180.00", quantity="3", category=FeeCategory.SERVICE)
    services.fees.record(stay.id, [bed], actor="his")
    before = services.settlements.presettle(stay.id, local(0, 0)).bill.breakdown
    assert (before.fund_pay, before.over_limit) == (D("150.00"), D("30.00"))
    fee_day = bed.occurred_at.date()
    # A new standard, in force from the day before the fee, published after it was recorded.
    assert later_bed_standard(db, clock, fee_day, "40.00").valid_from < fee_day
    _settles_three_bed_days_at_the_late_40_standard(services, db, stay.id)


def test_reversals_repriced_by_a_later_standard_leave_the_days_left_at_the_new_standard(
    services: Services, db: Engine, clock: MovableClock
) -> None:
    stay = priced_stay(services, clock)
    bed = fee("B1", BED, "166.67", quantity="3", category=FeeCategory.SERVICE)  # 3 × 55.5567
    services.fees.record(stay.id, [bed, fee("K1", "XA11DBM001", "9.90")], actor="his")
    for n, amount in ((1, "-55.56"), (2, "-55.56"), (3, "-55.55")):  # one day back a batch
        services.fees.record(
            stay.id,
            [
                fee(
                    f"R{n}",
                    BED,
                    amount,
                    quantity="-1",
                    category=FeeCategory.SERVICE,
                    reverses="B1",
                )
            ],
            actor="his",
        )
    # a 45/日 standard for the fee's day, published after the days were returned
    later_bed_standard(db, clock, bed.occurred_at.date(), "45.00")
    with UnitOfWork(db) as uow:
        stale = uow.fee_lines.stale(stay.id, BEIJING, [k.value for k in CatalogueKind])
    assert stale == {"B1", "R1", "R2", "R3"}
    expected, expected_lines = _in_one_go(db, services, stay.id)
    settled = services.settlements.settle(SettleRequest(stay.id, local(0, 0)), actor="b")
    breakdown = settled.settlement.breakdown
    assert (breakdown.total, breakdown.fund_pay, breakdown.personal_pay) == (
        D("9.90"),
        D("9.90"),
        D("0.00"),
    )
    assert breakdown == expected
    with UnitOfWork(db) as uow:
        kept = uow.settlements.get(settled.settlement.id)
    lines = [(p.line.line_id, p.fund_pay, p.personal_pay, p.rule.code) for p in kept.bill.lines]
    assert lines == expected_lines
    # the new standard's 135.00 for three days, 45.00 of it back with each day returned
    assert [fund for line_id, fund, _, _ in lines if line_id.startswith("R")] == [
        D("-45.00"),
        D("-45.00"),
        D("-45.00"),
    ]


def test_a_fee_before_8_am_is_priced_by_the_version_in_force_on_its_local_day(
    services: Services, db: Engine, clock: MovableClock
) -> None:
    """A fee at 05:00 Beijing time is 21:00 UTC the day before. Its catalogue version is the
    one in force on its day where it happened (N§32, B§30), also when it is priced again
    after a catalogue load (its time then read back from the store, in UTC)."""
    stay = priced_stay(services, clock)
    bed = dataclasses.replace(
        fee("B1", BED, "180.00", quantity="3", category=FeeCategory.SERVICE),
        occurred_at=local(-4, 5),
    )
    services.fees.record(stay.id, [bed], actor="his")
    fee_day = local(-4, 5).date()
    # a 40/日 standard in force from the fee's own day, published after it was recorded
    earlier = later_bed_standard(db, clock, fee_day, "40.00", valid_from=fee_day)
    assert earlier.valid_from < fee_day
    presettled = services.settlements.presettle(stay.id, local(0, 0)).bill.breakdown
    assert (presettled.fund_pay, presettled.over_limit) == (D("120.00"), D("60.00"))
    _settles_three_bed_days_at_the_late_40_standard(services, db, stay.id)


def test_a_fee_before_8_am_maps_to_an_item_in_force_from_its_local_day(
    services: Services, db: Engine, clock: MovableClock
) -> None:
    stay = priced_stay(services, clock)
    odd = dataclasses.replace(fee("U1", "HIS-NEW-1", "12.00"), occurred_at=local(-4, 5))
    assert services.fees.record(stay.id, [odd], actor="his").unmapped == ("U1",)
    fee_day = local(-4, 5).date()
    # a drug listed from the fee's own day
    publish_later(
        db,
        clock,
        CatalogueKind.DRUG,
        "XN02BEB001",
        fee_day,
        code="XNEW0001",
        version="2026-new",
        valid_from=fee_day,
    )
    services.fees.map_line(stay.id, "U1", "XNEW0001", actor="billing01")
    breakdown = services.settlements.presettle(stay.id, local(0, 0)).bill.breakdown
    assert (breakdown.fund_pay, breakdown.out_of_catalogue) == (D("12.00"), D("0.00"))
