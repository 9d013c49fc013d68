"""Exact numerics and UTC datetimes behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, Engine, Integer, MetaData, Table, insert, select

from adapter.store.types import Money, Quantity, UTCDateTime

metadata = MetaData()
probe = Table(
    "type_probe",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("amount", Money()),
    Column("quantity", Quantity()),
    Column("at", UTCDateTime()),
)

fen = st.decimals(
    min_value=Decimal("-999999999999.99"),
    max_value=Decimal("999999999999.99"),
    places=2,
    allow_nan=False,
    allow_infinity=False,
)
quantities = st.decimals(
    min_value=Decimal("-9999999999.9999"),
    max_value=Decimal("9999999999.9999"),
    places=4,
    allow_nan=False,
    allow_infinity=False,
)


@pytest.fixture
def probed(engine: Engine) -> Engine:
    metadata.create_all(engine)
    return engine


def _round_trip(engine: Engine, **values: object) -> tuple[object, ...]:
    with engine.begin() as connection:
        row_id = connection.execute(insert(probe).values(**values).returning(probe.c.id)).scalar()
        row = connection.execute(
            select(probe.c.amount, probe.c.quantity, probe.c.at).where(probe.c.id == row_id)
        ).one()
    return tuple(row)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(amount=fen, quantity=quantities)
def test_exact_numerics_round_trip_to_the_fen(probed: Engine, amount: Decimal, quantity: Decimal):
    stored_amount, stored_quantity, _ = _round_trip(probed, amount=amount, quantity=quantity)
    assert isinstance(stored_amount, Decimal) and isinstance(stored_quantity, Decimal)
    assert stored_amount == amount and stored_amount.as_tuple().exponent == -2
    assert stored_quantity == quantity and stored_quantity.as_tuple().exponent == -4


@pytest.mark.parametrize(
    "amount",
    ["0.01", "-0.01", "0.10", "999999999999.99", "-999999999999.99", "123456789012.35", "0"],
)
def test_boundary_amounts_round_trip(probed: Engine, amount: str) -> None:
    stored, _, _ = _round_trip(probed, amount=Decimal(amount), quantity=Decimal(1))
    assert str(stored) == str(Decimal(amount).quantize(Decimal("0.01")))


def test_a_number_read_again_keeps_its_columns_scale(probed: Engine) -> None:
    # the same stored number through a money column and a quantity column, many times: each
    # read has its column's scale (read-back values are remembered per number and scale)
    for _ in range(3):
        for text in ("36.5", "2", "-18.25", "0"):
            amount, quantity, _ = _round_trip(probed, amount=Decimal(text), quantity=Decimal(text))
            assert (str(amount), str(quantity)) == (
                str(Decimal(text).quantize(Decimal("0.01"))),
                str(Decimal(text).quantize(Decimal("0.0001"))),
            )


def test_amounts_finer_than_the_fen_are_refused(probed: Engine) -> None:
    with pytest.raises(Exception, match="decimal places"):
        _round_trip(probed, amount=Decimal("0.001"))


def test_floats_are_refused_for_money(probed: Engine) -> None:
    with pytest.raises(Exception, match="needs a Decimal"):
        _round_trip(probed, amount=0.1)


def test_aware_datetimes_come_back_as_the_same_instant_in_utc(probed: Engine) -> None:
    beijing = datetime(2026, 1, 1, 0, 30, 15, 123456, tzinfo=timezone(timedelta(hours=8)))
    _, _, stored = _round_trip(probed, at=beijing)
    assert isinstance(stored, datetime)
    assert stored == beijing
    assert stored.tzinfo == UTC
    assert stored == datetime(2025, 12, 31, 16, 30, 15, 123456, tzinfo=UTC)


def test_naive_datetimes_are_refused(probed: Engine) -> None:
    with pytest.raises(Exception, match="naive datetime"):
        _round_trip(probed, at=datetime(2026, 1, 1, 8))
