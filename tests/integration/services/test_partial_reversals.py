"""Part of a fee line returned (N§32, N§37, B§29): what is left of it is billed as its
remaining quantity would be, charged fresh — the fund pays the standard for the days left,
never for what was returned, and the worker the rest, to the fen — whether the part comes
in a later batch, in the same one, or before the clerk maps the line."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from sqlalchemy import Engine

from adapter.domain.catalogue import CatalogueKind
from adapter.domain.fees import FeeCategory, FeeLine
from adapter.domain.settlement import Breakdown
from adapter.services.container import Services
from adapter.store.uow import UnitOfWork
from tests.integration.services.helpers import admit, fee, local
from tests.integration.services.support import BEIJING

D = Decimal
BED = "110900001A"  # 普通病房床位费: the fund pays up to 50.00 a day
SERVICE = FeeCategory.SERVICE


def bill(
    services: Services, visit: str, *batches: list[FeeLine], psn_no: str = "P001"
) -> Breakdown:
    stay = services.admissions.admit(admit(psn_no, visit), actor="clerk").encounter
    for batch in batches:
        services.fees.record(stay.id, batch, actor="his")
    return services.settlements.presettle(stay.id, local(0, 0)).bill.breakdown


def figures(b: Breakdown) -> tuple[str, ...]:
    """Total, fund, personal and its 超标准 and 非工伤 parts, as the slip shows them."""
    return tuple(map(str, (b.total, b.fund_pay, b.personal_pay, b.over_limit, b.non_work_injury)))


def day_back(n: int, amount: str, original: str = "B1") -> FeeLine:
    return fee(f"R{n}", BED, amount, quantity="-1", category=SERVICE, reverses=original)


def test_two_of_three_days_over_the_standard_returned_leave_the_standard_for_one_day(
    services: Services,
) -> None:
    """3 days at 55.5567 (166.67) over the 50.00 standard; 2 days returned (55.56 each), one
    a batch. The day left is 55.55: the fund pays 50.00 and the worker 5.55, as for a day
    charged alone — not 49.99 and 5.56 (a fen of the standard the worker paid)."""
    charged = fee("B1", BED, "166.67", quantity="3", category=SERVICE)
    returned = bill(services, "V-1", [charged], [day_back(1, "-55.56")], [day_back(2, "-55.56")])
    fresh = bill(services, "V-2", [fee("B1", BED, "55.55", category=SERVICE)], psn_no="P002")
    assert figures(returned) == ("55.55", "50.00", "5.55", "5.55", "0.00")
    assert returned == fresh


def test_a_part_returned_in_the_charges_own_batch_leaves_what_a_fresh_charge_would(
    services: Services, db: Engine
) -> None:
    """5 days at 5.9611 (29.81) over a 5.75 standard, 4 returned with the charge (23.84):
    the fund pays 5.75 for the day left, not 5.76 — a fen over the standard."""
    standard = _standard(db, "5.75")
    charged = fee("B1", standard, "29.81", quantity="5", category=SERVICE)
    back = fee("R1", standard, "-23.84", quantity="-4", category=SERVICE, reverses="B1")
    returned = bill(services, "V-1", [charged, back])
    assert figures(returned) == ("5.97", "5.75", "0.22", "0.22", "0.00")


def test_a_line_mapped_after_part_of_it_was_returned_leaves_the_standard_for_the_days_left(
    services: Services,
) -> None:
    stay = services.admissions.admit(admit("P001", "V-1"), actor="clerk").encounter
    services.fees.record(
        stay.id, [fee("B1", "HIS-BED-2", "166.67", quantity="3", category=SERVICE)], actor="his"
    )
    for n in (1, 2):
        back = fee(f"R{n}", "HIS-BED-2", "-55.56", quantity="-1", category=SERVICE, reverses="B1")
        services.fees.record(stay.id, [back], actor="his")
    services.fees.map_line(stay.id, "B1", BED, actor="billing01")
    breakdown = services.settlements.presettle(stay.id, local(0, 0)).bill.breakdown
    assert figures(breakdown) == ("55.55", "50.00", "5.55", "5.55", "0.00")


def test_B29_boxes_of_a_non_work_injury_returned_stay_the_workers_to_the_fen(
    services: Services,
) -> None:
    """7 boxes at 4.3333 (30.33) for another illness, 3 returned (13.00): the 17.33 left is
    the worker's, under 非工伤; the fund pays nothing of it (B§29, N§37)."""
    boxes = fee("N1", "XJ01DCC061", "30.33", quantity="7", work_injury=False)
    back = fee("RN1", "XJ01DCC061", "-13.00", quantity="-3", work_injury=False, reverses="N1")
    breakdown = bill(services, "V-1", [boxes], [back])
    assert figures(breakdown) == ("17.33", "0.00", "17.33", "0.00", "17.33")


def _standard(db: Engine, cap: str) -> str:
    """A bed item of ``cap`` a day in the treatment place's catalogue; its code."""
    with UnitOfWork(db) as uow:
        current = uow.catalogue.treatment_catalogue(BEIJING).lookup(
            CatalogueKind.SERVICE_STANDARD, BEIJING, BED, local(-4, 10).date()
        )
        assert current is not None
        uow.catalogue.load([dataclasses.replace(current, code="BED-TIGHT", price_cap=D(cap))])
        uow.commit()
    return "BED-TIGHT"
