"""A stay's days at their edges, Beijing time (stored in UTC): a filing's first and last days
(N§11, N§13: an admission on either, however early or late, settles directly), the local
day a fee counts in against the admission's (N§33), and a discharge at midnight.

The month a settlement falls in at 23:59:59 and 00:00:00 is in
tests/integration/monthly/test_reconciliation.py (a fixed clock, to the second)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from adapter.domain.catalogue import CatalogueKind
from adapter.domain.errors import DomainError
from adapter.domain.fees import FeeCategory
from adapter.services.container import Services
from adapter.services.settlement import Settled, SettleRequest
from adapter.store.uow import UnitOfWork
from connectors.upstream.simulator import SimulatorServer
from tests.integration.services.helpers import TODAY, admit, fee
from tests.integration.services.support import BEIJING, MovableClock
from tests.support.catalogue_changes import BED, publish_later
from tests.support.filed_stays import admit_on_card, at, seed_worker

D = Decimal


def _to(clock: MovableClock, moment: datetime) -> None:
    clock.advance(moment - clock.now())


def day(n: int) -> date:
    return TODAY + timedelta(days=n)


def _settled_with_one_drug(
    services: Services, stay: str, charged: datetime, discharged: datetime
) -> Settled:
    """The stay charged one drug of 18.25 at ``charged``, settled at ``discharged``."""
    line = replace(fee("L1", "XN02BEB001", "18.25"), occurred_at=charged)
    services.fees.record(stay, [line], actor="his")
    return services.settlements.settle(SettleRequest(stay, discharged), actor="b")


def test_n13_a_stay_discharged_at_23_30_on_the_filings_last_day_settles_directly(
    services: Services, sim: SimulatorServer, clock: MovableClock
) -> None:
    seed_worker(sim, "P911", "CARD911", begndate=day(-20), enddate=day(-1), filed_on=day(-21))
    _to(clock, at(day(-1), 23, 40))
    stay = admit_on_card(services, "P911", "CARD911", at(day(-3), 9))
    settled = _settled_with_one_drug(services, stay, at(day(-2), 10), at(day(-1), 23, 30))
    assert settled.settlement.breakdown.fund_pay == D("18.25")


def test_n11_a_stay_admitted_at_00_10_on_the_filings_first_day_settles_directly(
    services: Services, sim: SimulatorServer, clock: MovableClock
) -> None:
    seed_worker(sim, "P912", "CARD912", begndate=day(-2), enddate=day(200), filed_on=day(-2))
    stay = admit_on_card(services, "P912", "CARD912", at(day(-2), 0, 10))
    settled = _settled_with_one_drug(services, stay, at(day(-2), 0, 0), at(day(-2), 23, 0))
    assert settled.settlement.breakdown.fund_pay == D("18.25")
    assert settled.settlement.bill.discharged_on == day(-2)


def test_n13_admitted_at_23_50_on_the_filings_last_day_and_discharged_at_midnight_settles(
    services: Services, sim: SimulatorServer, clock: MovableClock
) -> None:
    seed_worker(sim, "P913", "CARD913", begndate=day(-20), enddate=day(-2), filed_on=day(-21))
    stay = admit_on_card(services, "P913", "CARD913", at(day(-2), 23, 50))
    settled = _settled_with_one_drug(services, stay, at(day(-2), 23, 55), at(day(-1), 0, 0))
    assert settled.settlement.breakdown.fund_pay == D("18.25")
    assert settled.settlement.bill.discharged_on == day(-1)


def test_n33_a_fee_from_00_00_of_the_admission_day_is_in_the_stay_one_the_evening_before_not(
    services: Services, sim: SimulatorServer
) -> None:
    seed_worker(sim, "P914", "CARD914", begndate=day(-20), enddate=day(200), filed_on=day(-21))
    stay = admit_on_card(services, "P914", "CARD914", at(day(-3), 9))
    # 00:00 and 00:30 of the admission day: 16:00 and 16:30 UTC the day before, hours
    # before the 09:00 admission — a HIS dates a day's charges by the day
    lines = [
        replace(fee("L1", "XN02BEB001", "18.25"), occurred_at=at(day(-3), 0, 0)),
        replace(fee("L2", "XN02BEB001", "18.25"), occurred_at=at(day(-3), 0, 30)),
    ]
    services.fees.record(stay, lines, actor="his")
    before = replace(fee("L3", "XN02BEB001", "18.25"), occurred_at=at(day(-4), 23, 59, 59))
    with pytest.raises(DomainError) as refused:
        services.fees.record(stay, [before], actor="his")
    assert refused.value.code == "FEE_OUTSIDE_STAY"
    settled = services.settlements.settle(SettleRequest(stay, at(day(-1), 0, 0)), actor="b")
    assert settled.settlement.breakdown.fund_pay == D("36.50")


def test_n32_a_bed_day_at_23_59_59_and_one_at_00_00_are_priced_by_their_own_days_standards(
    services: Services, db: Engine, clock: MovableClock
) -> None:
    """A 40.00/日 standard in force from local midnight (16:00 UTC the day before): the bed
    day charged at 23:59:59 keeps the 50.00 standard of its day, the one charged at 00:00:00
    takes the new one (N§32, B§30), when recorded and again when settled."""
    new_day = day(-3)
    day_before = new_day - timedelta(days=1)
    changes = {"version": "new-day", "valid_from": new_day, "price_cap": D("40.00")}
    earlier = publish_later(db, clock, CatalogueKind.SERVICE_STANDARD, BED, day_before, **changes)
    assert earlier.price_cap == D("50.00")
    clock.advance(timedelta(minutes=1))
    stay = services.admissions.admit(admit("P001", "V-1"), actor="clerk").encounter
    bed = fee("B1", BED, "60.00", category=FeeCategory.SERVICE)
    lines = [
        replace(bed, occurred_at=at(new_day - timedelta(days=1), 23, 59, 59)),
        replace(bed, line_id="B2", occurred_at=at(new_day, 0, 0, 0)),
    ]
    services.fees.record(stay.id, lines, actor="his")
    preview = services.settlements.presettle(stay.id, at(day(-1), 10)).bill.lines
    assert [(p.line.line_id, p.fund_pay, p.personal_pay) for p in preview] == [
        ("B1", D("50.00"), D("10.00")),
        ("B2", D("40.00"), D("20.00")),
    ]
    settled = services.settlements.settle(SettleRequest(stay.id, at(day(-1), 10)), actor="b")
    totals = settled.settlement.breakdown
    assert (totals.total, totals.fund_pay, totals.over_limit) == (
        D("120.00"),
        D("90.00"),
        D("30.00"),
    )


def test_n32_after_a_temporary_standard_ends_the_years_standard_still_in_force_prices(
    services: Services, db: Engine, clock: MovableClock
) -> None:
    """The treatment place publishes a bed standard for the year (50.00/日, to a date a month
    ahead) and a temporary one over part of it (45.00/日, ended two days before the stay's
    bed day). On that day the year's version is in force by its own dates (N§32, B§30): the
    fund pays up to 50.00. Before, the temporary version was found, out of force, and the bed
    day was taken as out of catalogue — flagged for the billing clerk, the worker to pay it
    all."""
    with UnitOfWork(db, clock=clock) as uow:
        current = uow.catalogue.treatment_catalogue(BEIJING).lookup(
            CatalogueKind.SERVICE_STANDARD, BEIJING, BED, day(-4)
        )
        assert current is not None
        uow.catalogue.load(
            [
                replace(current, version="year", valid_from=day(-30), valid_to=day(30)),
                replace(
                    current,
                    version="temporary",
                    valid_from=day(-10),
                    valid_to=day(-6),
                    price_cap=D("45.00"),
                ),
            ]
        )
        uow.commit()
    clock.advance(timedelta(minutes=1))
    stay = services.admissions.admit(admit("P001", "V-1"), actor="clerk").encounter
    bed = replace(fee("B1", BED, "60.00", category=FeeCategory.SERVICE), occurred_at=at(day(-4), 0))
    assert services.fees.record(stay.id, [bed], actor="his").unmapped == ()
    settled = services.settlements.settle(SettleRequest(stay.id, at(day(-1), 10)), actor="b")
    totals = settled.settlement.breakdown
    assert (totals.fund_pay, totals.over_limit, totals.out_of_catalogue) == (
        D("50.00"),
        D("10.00"),
        D("0.00"),
    )
