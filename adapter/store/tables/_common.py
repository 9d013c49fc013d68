"""Helpers shared by the table modules: column shorthands with explicit types and defaults."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Integer, text
from sqlmodel import Field

from adapter.store.types import Json, Money, Quantity, UTCDateTime

# A 64-bit surrogate key that is still SQLite's INTEGER PRIMARY KEY (rowid alias, autoincrement).
BigId = BigInteger().with_variant(Integer(), "sqlite")


def pk_id() -> Any:
    return Field(default=None, primary_key=True, sa_type=BigId)


def text_field(length: int, *, default: str = "", index: bool = False) -> Any:
    """A NOT NULL string with an empty-string server default (upstream often omits fields)."""
    return Field(
        default=default,
        max_length=length,
        nullable=False,
        index=index,
        sa_column_kwargs={"server_default": text(f"'{default}'")},
    )


def key_field(length: int = 64, *, index: bool = False, primary_key: bool = False) -> Any:
    """A required identifier string (no default: a missing key is a bug, not an empty value)."""
    if primary_key:
        return Field(primary_key=True, max_length=length)
    return Field(max_length=length, nullable=False, index=index)


def money(*, nullable: bool = False) -> Any:
    return Field(default=None if nullable else ..., sa_type=Money(), nullable=nullable)


def quantity_field() -> Any:
    return Field(sa_type=Quantity(), nullable=False)


def utc(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(
        default=None if nullable else ...,
        sa_type=UTCDateTime(),
        nullable=nullable,
        index=index,
    )


def json_list() -> Any:
    return Field(default_factory=list, sa_type=Json, nullable=False)


def flag(default: bool = False) -> Any:
    return Field(
        default=default,
        nullable=False,
        sa_column_kwargs={"server_default": text("true" if default else "false")},
    )
