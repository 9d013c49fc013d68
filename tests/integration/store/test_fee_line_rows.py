"""Fee-line rows bound for the driver by position are what the column types would bind.

The fee-line insert skips SQLAlchemy's per-value type processing (a 200-line batch spent more
on it than on the insert); these compare every column of its rows with the types' own bind
processors, on both dialects, for every kind of stored price and awkward values.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Dialect
from sqlalchemy.dialects import postgresql, sqlite

from adapter.domain.catalogue import CatalogueItem, CatalogueKind
from adapter.domain.pricing import price_lines
from adapter.store.mapping import fee_line_values
from adapter.store.repositories import (
    FeeLineRepository,
    LinePrice,
    MappingStatus,
    StoredFeeLine,
)
from adapter.store.repositories.fee_line_rows import _INSERT_COLUMNS, _fee_line
from adapter.store.repositories.fee_line_rows import binder_for as _binder
from tests.integration.store import factories as f

DIALECTS = {"sqlite": sqlite.pysqlite.dialect(), "postgresql": postgresql.psycopg.dialect()}
NOW = datetime(2026, 1, 3, 2, 30, 15, 123456, tzinfo=UTC)


def entries() -> list[StoredFeeLine]:
    lines = f.fee_lines()
    lines[1] = replace(lines[1], occurred_at=datetime(2025, 12, 30, 23, 59, 59, 999999, UTC))
    lines[2] = replace(
        lines[2], occurred_at=datetime(2025, 12, 31, 8, tzinfo=timezone(timedelta(hours=8)))
    )
    lines[3] = replace(lines[3], quantity=Decimal(1), unit_price=Decimal("12.350"))  # int-like
    bill = price_lines(lines, f.catalogue(), f.REGION)
    prices = {p.line.line_id: LinePrice(p, p.line.item_code) for p in bill.lines}
    prices.update({line.line_id: LinePrice(None, line.item_code) for line in bill.excluded})
    del prices["L7"]
    capped = CatalogueItem(
        CatalogueKind.SERVICE_STANDARD,
        "BED1",
        "床位",
        f.REGION,
        "日",
        Decimal("50.00"),
        Decimal("-0.00"),
        "2026.1",
        date(2026, 1, 1),
        date(2026, 12, 31),
    )
    bed = prices["L2"].priced
    assert bed is not None
    prices["L2"] = LinePrice(replace(bed, item=capped), "BED1")
    stored = [
        StoredFeeLine(line, MappingStatus.MAPPED, line.item_code, prices.get(line.line_id))
        for line in lines
    ]
    stored[2] = replace(stored[2], mapping_status=MappingStatus.UNMAPPED, catalogue_code="")
    return stored


def expected_row(dialect: Dialect, entry: StoredFeeLine) -> tuple[Any, ...]:
    """The row as SQLAlchemy would bind it from a dictionary of values."""
    values = {
        **fee_line_values(entry.line),
        **FeeLineRepository._price_columns(entry.price, NOW),
        "encounter_id": "E1",
        "mapping_status": entry.mapping_status.value,
        "catalogue_code": entry.catalogue_code,
        "received_at": NOW,
    }
    row = []
    for name in _INSERT_COLUMNS:
        processor = _fee_line.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        row.append(processor(values[name]) if processor else values[name])
    return tuple(row)


@pytest.mark.parametrize("name", DIALECTS)
def test_rows_are_bound_as_the_column_types_bind_them(name: str) -> None:
    dialect = DIALECTS[name]
    stored = entries()
    rows = _binder(dialect).rows(stored, "E1", NOW)
    assert len(rows) == len(stored)
    for entry, row in zip(stored, rows, strict=True):
        expected = expected_row(dialect, entry)
        assert row == expected, entry.line.line_id
        assert [type(v) for v in row] == [type(v) for v in expected], entry.line.line_id
        assert [str(v) for v in row] == [str(v) for v in expected], entry.line.line_id


@pytest.mark.parametrize("name", DIALECTS)
@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"quantity": Decimal("1.00001")}, ValueError),  # finer than NUMERIC(14, 4)
        ({"amount": Decimal("12.345")}, ValueError),  # finer than the fen
        ({"amount": 12.35}, TypeError),  # a float is never money
        ({"occurred_at": datetime(2026, 1, 1, 8)}, ValueError),  # naive: zone unknown
    ],
)
def test_values_the_column_types_refuse_are_refused(
    name: str, change: dict[str, Any], error: type[Exception]
) -> None:
    dialect = DIALECTS[name]
    line = replace(f.fee_lines()[0], **change)
    with pytest.raises(error):
        expected_row(dialect, StoredFeeLine(line))
    with pytest.raises(error):
        _binder(dialect).rows([StoredFeeLine(line)], "E1", NOW)
