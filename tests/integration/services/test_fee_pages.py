"""A page of a stay's lines reads its own lines, however long the stay: the lines built from
rows are the page's (and the stay's few excluded and unmapped ones, for its totals), never
the stay. Lines whose stored price is out of date are priced and stored once, first, so the
totals stay what presettle says; once stored as of after the load (10 minutes on, see
``PRICE_MARGIN``), a page reads its own lines again."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine

from adapter.domain.fees import FeeCategory, FeeLine
from adapter.services.container import Services
from adapter.store.repositories import fee_line_rows, fee_lines, fee_totals
from tests.integration.services.helpers import fee, local
from tests.integration.services.support import MovableClock
from tests.support.catalogue_changes import BED, later_bed_standard, priced_stay

D = Decimal


def _batch(prefix: str) -> list[FeeLine]:
    lines = [
        fee(f"{prefix}-{n:03d}", "XN02BEB001", "36.50", quantity="2")
        if n % 4
        else fee(f"{prefix}-{n:03d}", BED, "180.00", quantity="3", category=FeeCategory.SERVICE)
        for n in range(200)
    ]
    return [*lines[:-1], fee(f"{prefix}-MEAL", "MEAL01", "30.00", category=FeeCategory.MEAL)]


@pytest.fixture
def lines_read(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The line ids the store builds lines of, from any read of fee-line rows."""
    read: list[str] = []
    priced = fee_line_rows.PricedRows.stored
    plain = fee_lines._stored
    bare = fee_totals.fee_line_of

    def stored(self: Any, row: Any) -> Any:
        read.append(row[0])
        return priced(self, row)

    def stored_plain(row: Any) -> Any:
        read.append(row.line_id)
        return plain(row)

    def line_of(row: Any) -> Any:
        read.append(row.line_id)
        return bare(row)

    monkeypatch.setattr(fee_line_rows.PricedRows, "stored", stored)
    monkeypatch.setattr(fee_lines, "_stored", stored_plain)
    monkeypatch.setattr(fee_totals, "fee_line_of", line_of)
    yield read


def test_a_page_reads_its_own_lines_however_long_the_stay(
    services: Services, clock: MovableClock, lines_read: list[str]
) -> None:
    stay = priced_stay(services, clock)  # past the margin a price is taken with: none stale
    services.fees.record(stay.id, [fee("X1", "HIS-NEW-1", "42.00")], actor="his")  # unmapped
    read_at: dict[int, list[str]] = {}
    for batch in range(1, 11):
        services.fees.record(stay.id, _batch(f"B{batch:02d}"), actor="his")
        if batch in (2, 10):  # a stay of 401 lines, then of 2,001
            lines_read.clear()
            page = services.stay_fee_page(stay.id, offset=200, limit=100)
            read_at[batch] = list(lines_read)
            # the first batch's meal (position 200, listed apart), then the second batch's
            assert [p.line.line_id for p in page.named.bill.lines] == [
                f"B02-{n:03d}" for n in range(99)
            ]
            assert [line.line_id for line in page.named.bill.excluded] == ["B01-MEAL"]
            assert page.line_count == batch * 200 + 1 and page.unmapped == ("X1",)
    # the page's 100 and the unmapped line, whether the stay is 401 lines long or 2,001
    assert read_at[2] == read_at[10]
    assert sorted(read_at[10]) == sorted(["X1", "B01-MEAL", *(f"B02-{n:03d}" for n in range(99))])
    preview = services.settlements.presettle(stay.id, local(0, 0)).bill.breakdown
    assert page.totals == preview


def test_out_of_date_prices_are_priced_and_stored_once_then_pages_read_their_own_lines(
    services: Services, db: Engine, clock: MovableClock, lines_read: list[str]
) -> None:
    stay = priced_stay(services, clock)
    for batch in range(1, 4):
        services.fees.record(stay.id, _batch(f"B{batch:02d}"), actor="his")
    before = services.stay_fee_page(stay.id, offset=0, limit=50)
    # a 40/日 standard for the fee's day, published after the lines were priced
    later_bed_standard(db, clock, local(-4, 10).date(), "40.00")
    lines_read.clear()
    after = services.stay_fee_page(stay.id, offset=0, limit=50)
    assert len(lines_read) > 600  # the stay read once, to price its bed days again
    preview = services.settlements.presettle(stay.id, local(0, 0)).bill.breakdown
    assert after.totals == preview and after.totals != before.totals
    assert after.totals.over_limit == before.totals.over_limit + D("30.00") * 150
    bed = next(p for p in after.named.bill.lines if p.line.item_code == BED)
    assert (bed.fund_pay, bed.personal_pay) == (D("120.00"), D("60.00"))
    assert bed.item is not None and bed.item.version == "2026-late"
    shown = services.encounter(stay.id).fees.bill.lines[:50]
    assert [(p.line, p.fund_pay, p.personal_pay, p.rule) for p in after.named.bill.lines] == [
        (p.line, p.fund_pay, p.personal_pay, p.rule) for p in shown
    ]
    # Priced as of 10 minutes before pricing (PRICE_MARGIN), a line stays older than the load
    # for those 10 minutes, and is priced again when read; after them, once more, and stored
    # as of after the load: the next page reads its own lines (and the stay's unmapped: none)
    clock.advance(timedelta(minutes=11))
    services.stay_fee_page(stay.id, offset=0, limit=50)
    lines_read.clear()
    again = services.stay_fee_page(stay.id, offset=50, limit=50)
    assert len(lines_read) == 50 and again.totals == preview
