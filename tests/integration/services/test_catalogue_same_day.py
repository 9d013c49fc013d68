"""Two catalogue versions of one item in force from the same day: the one loaded later
prices, whatever order the database returns them in (N§32, B§30: the catalogue in force)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import Engine

from adapter.domain.catalogue import CatalogueKind
from adapter.domain.fees import FeeCategory
from adapter.services.container import Services
from adapter.services.settlement import SettleRequest
from adapter.store.uow import UnitOfWork
from tests.integration.services.helpers import admit, fee, local
from tests.integration.services.support import BEIJING, MovableClock

D = Decimal
BED = "110900001A"  # service standard: the fund pays up to a cap a day


def test_of_two_versions_from_the_same_day_the_one_loaded_later_prices(
    services: Services, db: Engine, clock: MovableClock
) -> None:
    """Version B (cap 40) is loaded, then version A (cap 45) from the same day, then B again,
    corrected to cap 35: B was loaded last and prices. Its row was stored first, so a
    database returning rows in the order they were first stored (SQLite by its index) put A
    last, and A priced the bed days at 45 — PostgreSQL, returning the corrected row last,
    priced them at 35."""
    clock.advance(timedelta(hours=1))
    stay = services.admissions.admit(admit("P001", "V-1"), actor="clerk").encounter
    bed = fee("B1", BED, "180.00", quantity="3", category=FeeCategory.SERVICE)
    fee_day = bed.occurred_at.date()
    with UnitOfWork(db, clock=clock) as uow:
        current = uow.catalogue.treatment_catalogue(BEIJING).lookup(
            CatalogueKind.SERVICE_STANDARD, BEIJING, BED, fee_day
        )
        assert current is not None and current.valid_from < fee_day
    for version, cap in (("2026-B", "40.00"), ("2026-A", "45.00"), ("2026-B", "35.00")):
        clock.advance(timedelta(minutes=1))
        with UnitOfWork(db, clock=clock) as uow:
            uow.catalogue.load(
                [
                    dataclasses.replace(
                        current, version=version, valid_from=fee_day, price_cap=D(cap)
                    )
                ]
            )
            uow.commit()
    clock.advance(timedelta(minutes=1))
    services.fees.record(stay.id, [bed], actor="his")

    preview = services.settlements.presettle(stay.id, local(0, 0)).bill.breakdown
    assert (preview.fund_pay, preview.over_limit) == (D("105.00"), D("75.00"))
    settled = services.settlements.settle(SettleRequest(stay.id, local(0, 0)), actor="b")
    assert settled.settlement.breakdown.fund_pay == D("105.00")
    with UnitOfWork(db) as uow:
        [line] = uow.settlements.get(settled.settlement.id).bill.lines
        assert line.item is not None and line.item.version == "2026-B"
        # the whole treatment catalogue, as the billing pages read it, says the same
        item = uow.catalogue.treatment_catalogue(BEIJING).lookup(
            CatalogueKind.SERVICE_STANDARD, BEIJING, BED, fee_day
        )
        assert item is not None and item.version == "2026-B"
