"""Presettle lists what settle would refuse even when a line's stored price is out of date:
settle prices such a line again and stores it before its checks; presettle checks the same
prices and keeps none of them."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from adapter.domain.catalogue import CatalogueKind
from adapter.domain.errors import PricingError
from adapter.domain.fees import FeeCategory
from adapter.services.billing import stale_lines
from adapter.services.container import Services
from adapter.services.settlement import SettleRequest
from adapter.store.sql import table
from adapter.store.tables import FeeLineRow
from adapter.store.uow import UnitOfWork
from tests.integration.services.helpers import fee, local
from tests.integration.services.support import BEIJING, MovableClock
from tests.support.catalogue_changes import BED, priced_stay

HIS_BED = "HIS-BED-2"  # the HIS's own bed-day code, in no catalogue when the lines come


def _fee_rows(db: Engine, encounter_id: str) -> list[Any]:
    """The stay's fee-line rows as stored, prices included."""
    fee_line = table(FeeLineRow)
    query = select(fee_line).where(fee_line.c.encounter_id == encounter_id).order_by(fee_line.c.id)
    with db.connect() as connection:
        return [tuple(row) for row in connection.execute(query)]


def _publish_his_bed(db: Engine, clock: MovableClock) -> None:
    """The treatment place's catalogue gains the HIS's code as a bed-day standard (50.00/日),
    loaded now: the lines priced by it before are out of date."""
    with UnitOfWork(db, clock=clock) as uow:
        bed = uow.catalogue.treatment_catalogue(BEIJING).lookup(
            CatalogueKind.SERVICE_STANDARD, BEIJING, BED, local(-4).date()
        )
        assert bed is not None
        uow.catalogue.load([dataclasses.replace(bed, code=HIS_BED, valid_from=date(2020, 1, 1))])
        uow.commit()


def test_FEE_DAYS_OVER_STAY_presettle_counts_bed_days_a_catalogue_load_priced_again(
    services: Services, db: Engine, clock: MovableClock
) -> None:
    """Six days (admitted five days back, discharged today), billed seven under the HIS's own
    code, priced out of catalogue (no per-day standard) when recorded. The catalogue then
    lists the code as a bed-day standard: settle prices the line again before counting its
    days and refuses them; presettle says so, and leaves the stored price out of date."""
    stay = priced_stay(services, clock)
    beds = fee("B1", HIS_BED, "350.00", quantity="7", category=FeeCategory.SERVICE)
    services.fees.record(stay.id, [beds], actor="his")
    clock.advance(timedelta(minutes=1))
    _publish_his_bed(db, clock)
    with services.context.uow() as uow:
        assert stale_lines(services.context, uow, stay.id) == {"B1"}
    rows = _fee_rows(db, stay.id)

    preview = services.settlements.presettle(stay.id, local(0, 0))
    assert [b.code for b in preview.blocking] == ["FEES_UNMAPPED", "FEE_DAYS_OVER_STAY"]
    days = preview.blocking[1]
    assert "费用明细B1的" in days.message and "共计7日，超过本次住院的6天" in days.message
    assert preview.bill.breakdown.fund_pay == 350  # the standard of the code's day, 50.00/日
    assert _fee_rows(db, stay.id) == rows  # the new price not kept
    with services.context.uow() as uow:
        assert stale_lines(services.context, uow, stay.id) == {"B1"}

    services.fees.map_line(stay.id, "B1", HIS_BED, actor="billing01")  # the clerk maps it
    with pytest.raises(PricingError) as refused:
        services.settlements.settle(SettleRequest(stay.id, local(0, 0)), actor="billing01")
    assert (refused.value.code, refused.value.message) == (days.code, days.message)
