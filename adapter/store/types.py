"""Column types that behave the same on SQLite and PostgreSQL.

``Exact`` stores a ``Decimal`` as ``NUMERIC(p, s)`` and always reads it back as a ``Decimal``
quantized to the column's scale. PostgreSQL keeps numerics exactly. SQLite has no decimal
type: a NUMERIC column keeps up to 15 significant digits exactly (as INTEGER or REAL), so
precisions are capped at 15 and the value read back is re-quantized, which recovers the
stored decimal exactly (every decimal of ≤15 significant digits maps to a distinct double).

``UTCDateTime`` stores an aware datetime as UTC and reads it back aware (UTC). SQLite keeps
no time zone, so the value is stored naive-UTC there; a naive datetime is refused on the way
in, because guessing its zone is how settlement times drift by eight hours.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect, Numeric, TypeDecorator
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeEngine

MAX_SQLITE_PRECISION = 15


class Exact(TypeDecorator[Decimal]):
    """``NUMERIC(precision, scale)`` read back as an exact ``Decimal`` on both backends."""

    impl = Numeric
    cache_ok = True

    def __init__(self, precision: int = 14, scale: int = 2):
        if precision > MAX_SQLITE_PRECISION:
            raise ValueError(f"precision {precision} exceeds what SQLite keeps exactly (15)")
        super().__init__(precision=precision, scale=scale)
        self.precision = precision
        self.scale = scale
        self._quantum = Decimal(1).scaleb(-scale)

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            # asdecimal=False: we convert ourselves (SQLAlchemy would warn that SQLite has no
            # native decimal, and pytest turns warnings into errors).
            return dialect.type_descriptor(Numeric(self.precision, self.scale, asdecimal=False))
        return dialect.type_descriptor(Numeric(self.precision, self.scale))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal | int):
            raise TypeError(f"exact numeric column needs a Decimal, got {type(value).__name__}")
        amount = Decimal(value)
        if amount != amount.quantize(self._quantum):
            raise ValueError(f"{amount} has more than {self.scale} decimal places")
        # SQLite: bind the decimal text; NUMERIC affinity converts it without loss (≤15 digits).
        return str(amount) if dialect.name == "sqlite" else amount

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if isinstance(value, float | int) and value:  # SQLite's NUMERIC: a float or an int
            return _exact(value, self._quantum)
        if isinstance(value, float):
            return Decimal(repr(value)).quantize(self._quantum)
        return Decimal(value).quantize(self._quantum)


@lru_cache(maxsize=65536)
def _exact(value: float | int, quantum: Decimal) -> Decimal:
    """The stored number as an exact ``Decimal`` (repr: the shortest text that reads back as
    that float, which is the decimal text SQLite was given). Remembered: a stay's 10,000 lines
    hold a few dozen distinct amounts, and a settlement reads 70,000 of them. Zero is never
    asked for (-0.0 and 0 are one key but read back as -0.00 and 0.00); an int and the float
    equal to it are one key and read back alike."""
    return Decimal(repr(value)).quantize(quantum)


def Money() -> Exact:
    """Yuan to the fen: ``NUMERIC(14, 2)``."""
    return Exact(14, 2)


def Quantity() -> Exact:
    """Quantities and unit prices: ``NUMERIC(14, 4)`` (a drug's unit price may be 0.0123)."""
    return Exact(14, 4)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime stored as UTC (``timestamptz`` on PostgreSQL, text on SQLite)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} refused: pass an aware one")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {value!r}")
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# JSON on SQLite, JSONB on PostgreSQL (indexable, compact).
Json = JSON().with_variant(JSONB(), "postgresql")
