"""Reading many rows whose typed columns hold few distinct values, converting each value once.

SQLAlchemy calls a column type's result processor on every value of every row: a settlement
reads a stay's 10,000 lines × 10 typed columns (amounts, quantities, prices, times, dates,
flags), 100,000 calls, while the stay holds a few dozen distinct values of each. Here the
statement runs with its columns untyped (the driver's values as they are), and each typed
column's values go through that column type's own processor once per distinct value.

What is remembered is exactly what the processor gave for an equal value of the same column.
None stays None. Zeros are remembered by their type and text, not their value: 0 and -0.0 are
one key as values but read back as 0.00 and -0.00.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, select, type_coerce
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType

Processor = Callable[[Any], Any]


class MemoRows:
    """``select(*columns)`` shaped by ``shape`` (where, order by …), read with conversions
    remembered per column. Build once per statement (at import), run per call."""

    def __init__(
        self,
        columns: Sequence[ColumnElement[Any]],
        shape: Callable[[Select[Any]], Select[Any]],
    ) -> None:
        self._types = tuple(column.type for column in columns)
        self.statement = shape(select(*columns))  # the typed statement, as the reference
        untyped: list[ColumnElement[Any]] = [type_coerce(c, NullType()) for c in columns]
        self._untyped = shape(select(*untyped))

    def rows(self, session: Session, params: Mapping[str, Any]) -> Iterator[tuple[Any, ...]]:
        result = session.connection().execute(self._untyped, params)
        dialect = session.get_bind().dialect
        description = result.cursor.description if result.cursor is not None else None
        fetched = result.fetchall()
        if not fetched:
            return iter(())
        columns: list[Sequence[Any]] = list(zip(*fetched, strict=True))
        for index, column_type in enumerate(self._types):
            type_code = description[index][1] if description else None
            processor = column_type.dialect_impl(dialect).result_processor(dialect, type_code)
            if processor is not None:
                columns[index] = _converted(columns[index], processor)
        return zip(*columns, strict=True)


class _Seen(dict[Any, Any]):
    """A column's values converted so far, each converted when first asked for."""

    def __init__(self, processor: Processor) -> None:
        super().__init__()
        self.processor = processor

    def __missing__(self, value: Any) -> Any:
        known = self[value] = self.processor(value)
        return known


def _converted(values: Sequence[Any], processor: Processor) -> list[Any]:
    seen = _Seen(processor)
    falsy: dict[tuple[type, str], Any] = {}

    def zero(value: Any) -> Any:
        key = (type(value), str(value))  # "0.0" and "-0.0": one key each
        known = falsy.get(key)
        if known is None:
            known = falsy[key] = processor(value)
        return known

    return [seen[v] if v else (None if v is None else zero(v)) for v in values]
