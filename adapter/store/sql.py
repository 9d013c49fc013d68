"""Small SQL helpers shared by the repositories: Core tables, dialect upserts, a UTC clock."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, BindParameter, Integer, Table, bindparam, cast, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import SQLModel


def table(row: type[SQLModel]) -> Table:
    """The Core table behind a SQLModel row class (repositories read and write through Core:
    no identity map to go stale, and bulk statements stay bulk)."""
    # why: SQLModel sets __table__ only on table=True classes, so its type does not declare it
    result = row.__table__  # type: ignore[attr-defined]
    assert isinstance(result, Table)
    return result


def upsert(session: Session, target: Table) -> Any:
    """``INSERT`` with ``ON CONFLICT`` support for the session's dialect (SQLite ≥ 3.24, PG)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(target)
    return sqlite.insert(target)


class SystemClock:
    """The wall clock, aware, in UTC; tests pass their own ``Clock`` instead."""

    def now(self) -> datetime:
        return datetime.now(UTC)


def violates(exc: Exception, constraint: str, sqlite_columns: str) -> bool:
    """True when ``exc`` (an ``IntegrityError``) is a violation of ``constraint``.

    PostgreSQL names the constraint; SQLite names the columns instead
    (``UNIQUE constraint failed: settlement.encounter_id``), so both are given.
    """
    orig = getattr(exc, "orig", None)
    diag = getattr(orig, "diag", None)
    if diag is not None and getattr(diag, "constraint_name", None):
        return bool(diag.constraint_name == constraint)
    return f"constraint failed: {sqlite_columns}" in str(orig)


# ``IN`` lists of a few fixed lengths, padded by repeating the last key: a statement built
# once per length is compiled once, where an expanding ``IN`` is re-rendered on every
# execution (a fee batch's 200 line ids cost more to render than to look up).
IN_SIZES = (8, 16, 32, 64, 128, 256, 512)


def in_size(count: int) -> int:
    """The fixed ``IN`` length that holds ``count`` keys (1 ≤ count ≤ 512)."""
    for size in IN_SIZES:
        if count <= size:
            return size
    raise ValueError(f"{count} keys: split them into chunks of at most {IN_SIZES[-1]}")


def in_keys(name: str, size: int) -> list[BindParameter[Any]]:
    """``size`` bind parameters ``{name}0 …`` for an ``IN`` list built once."""
    return [bindparam(f"{name}{index}") for index in range(size)]


def in_params(name: str, keys: Sequence[Any], size: int) -> dict[str, Any]:
    """The parameters of :func:`in_keys`, the last key repeated to fill the list."""
    last = keys[-1]
    return {f"{name}{index}": keys[index] if index < len(keys) else last for index in range(size)}


def in_fen(column: Any, dialect: str) -> ColumnElement[int]:
    """An amount column in fen, an exact integer: the cheapest exact value to read (SQLite
    keeps NUMERIC as a double, the nearest to the decimal stored: ×100 and rounded is the
    decimal's fen exactly, ≤15 significant digits). :func:`of_fen` makes it a ``Decimal`` to
    the fen: 1230 is 12.30, exactly."""
    if dialect == "sqlite":
        return cast(func.round(column * 100), Integer)
    return cast(column * 100, BigInteger)


def of_fen(value: Any) -> Decimal:
    """An amount read by :func:`in_fen` (an integer of fen, a ``Decimal`` on PostgreSQL when
    summed) as yuan to the fen, exactly."""
    return Decimal(int(value)).scaleb(-2)
