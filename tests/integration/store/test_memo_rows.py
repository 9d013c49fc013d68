"""A stay's priced lines read with each distinct value converted once read back exactly as
the typed statement reads them: same values, same types, same exponents and signs."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import Engine

from adapter.domain.pricing import price_lines
from adapter.store.repositories import LinePrice, MappingStatus, StoredFeeLine
from adapter.store.repositories.encounters import _PRICED
from adapter.store.uow import UnitOfWork
from tests.integration.store import factories as f
from tests.integration.store.conftest import FakeClock


def _stay() -> list[StoredFeeLine]:
    base = f.fee_lines()
    # Many lines sharing values (what the memo remembers), zero and signed-zero amounts,
    # times a second apart, and every kind of stored price.
    lines = [
        replace(line, line_id=f"{line.line_id}-{n}", occurred_at=line.occurred_at + timedelta(
            seconds=n % 3), reverses=f"{line.reverses}-{n}" if line.reverses else "")
        for n in range(4)
        for line in base
    ]  # fmt: skip
    free = Decimal("0.0000")
    lines.append(
        replace(base[0], line_id="Z0", quantity=Decimal(1), unit_price=free, amount=Decimal("0.00"))
    )
    lines.append(replace(base[0], line_id="Z1", quantity=Decimal(-1), unit_price=free,
                         amount=Decimal("-0.00"), reverses="Z0"))  # fmt: skip
    bill = price_lines(lines, f.catalogue(), f.REGION)
    prices = {p.line.line_id: LinePrice(p, p.line.item_code) for p in bill.lines}
    prices.update({line.line_id: LinePrice(None, line.item_code) for line in bill.excluded})
    del prices["L7-2"]  # stored without a price: its price columns are NULL
    return [
        StoredFeeLine(line, MappingStatus.MAPPED, line.item_code, prices.get(line.line_id))
        for line in lines
    ]


def test_memoized_rows_equal_the_typed_rows(store: Engine, clock: FakeClock) -> None:
    stored = _stay()
    with UnitOfWork(store, clock=clock) as uow:
        uow.encounters.add(f.encounter())
        uow.fee_lines.add("E1", stored)
        uow.commit()
    params = {"b_encounter": "E1"}
    with UnitOfWork(store) as uow:
        typed = [tuple(row) for row in uow.session.execute(_PRICED.statement, params)]
        memoized = list(_PRICED.rows(uow.session, params))
    assert len(typed) == len(stored) == len(memoized)
    # repr tells 0.00 from -0.00, 2.0000 from 2.00, and a naive time from an aware one
    assert [[(type(v), repr(v)) for v in row] for row in memoized] == [
        [(type(v), repr(v)) for v in row] for row in typed
    ]
    assert any(isinstance(v, Decimal) and v.is_zero() for row in memoized for v in row)


def test_an_empty_stay_reads_no_rows(store: Engine) -> None:
    with UnitOfWork(store) as uow:
        assert list(_PRICED.rows(uow.session, {"b_encounter": "nobody"})) == []
