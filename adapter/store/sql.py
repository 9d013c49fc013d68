"""Small SQL helpers shared by the repositories: Core tables, dialect upserts, a UTC clock."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
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
