"""Which database errors are a full disk (answered DATABASE_FULL) and which are not."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest
from sqlalchemy.exc import OperationalError

from adapter.domain.errors import is_storage_full


def wrapped(error: Exception) -> OperationalError:
    return OperationalError("INSERT …", {}, error)


def sqlite_error(message: str, code: int) -> sqlite3.OperationalError:
    error = sqlite3.OperationalError(message)
    error.sqlite_errorcode = code  # type: ignore[attr-defined]
    return error


@pytest.mark.parametrize(
    ("error", "full"),
    [
        (sqlite_error("database or disk is full", 13), True),  # SQLITE_FULL
        (sqlite_error("disk I/O error", 10), False),
        (sqlite_error("attempt to write a readonly database", 8), False),
        (psycopg.errors.DiskFull("No space left on device"), True),  # SQLSTATE 53100
        (psycopg.errors.ReadOnlySqlTransaction("read-only transaction"), False),
        (psycopg.OperationalError("connection refused"), False),
    ],
)
def test_a_full_disk_is_told_apart_from_other_database_errors(error: Exception, full: bool) -> None:
    assert is_storage_full(wrapped(error)) is full
