"""Hot statements (run on the driver) read and write exactly what SQLAlchemy's execute does,
on both databases: the same converted values, the same exceptions, seen by cursor listeners."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError, MultipleResultsFound, NoResultFound
from sqlalchemy.orm import Session

from adapter.hot_sql import HotStatement
from adapter.store.types import Money, UTCDateTime

_meta = MetaData()
_stay = Table(
    "hot_sql_stay",
    _meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("visit", String(20), nullable=False, unique=True),
    Column("admitted_at", UTCDateTime(), nullable=False),
    Column("diagnoses", JSON, nullable=False),
    Column("deposit", Money(), nullable=False),
    Column("version", Integer, nullable=False, server_default="1"),
)
_with_default = Table(
    "hot_sql_defaulted",
    _meta,
    Column("id", Integer, primary_key=True),
    Column("made", String(10), default=lambda: "python"),
)

_INSERT = HotStatement(insert(_stay).returning(_stay.c.id))
_BY_VISIT = HotStatement(select(_stay).where(_stay.c.visit == bindparam("b_visit")))
_BUMP = HotStatement(
    update(_stay)
    .where(_stay.c.visit == bindparam("b_visit"))
    .values(version=_stay.c.version + 1)
    .returning(_stay.c.version, _stay.c.admitted_at)
)
BEIJING = timezone(timedelta(hours=8))


@pytest.fixture
def tables(engine: Engine) -> Iterator[Engine]:
    _meta.create_all(engine)
    try:
        yield engine
    finally:
        _meta.drop_all(engine)


def _stay_values(visit: str) -> dict[str, Any]:
    return {
        "visit": visit,
        "admitted_at": datetime(2026, 12, 1, 8, 30, 15, 123456, tzinfo=BEIJING),
        "diagnoses": ["S82.201 胫骨骨折", "康复"],
        "deposit": Decimal("1234.50"),
    }


def test_a_row_reads_back_as_sqlalchemy_reads_it(tables: Engine) -> None:
    with Session(tables) as session:
        new_id = _INSERT.one(session, _stay_values("V1")).id
        session.commit()
    with Session(tables) as session:
        hot = _BY_VISIT.one(session, {"b_visit": "V1"})
        slow = session.execute(select(_stay).where(_stay.c.visit == "V1")).one()
    assert tuple(hot) == tuple(slow)
    assert hot.id == new_id
    assert hot.admitted_at == datetime(2026, 12, 1, 0, 30, 15, 123456, tzinfo=UTC)
    assert hot.diagnoses == ["S82.201 胫骨骨折", "康复"]
    assert hot.deposit == Decimal("1234.50") and isinstance(hot.deposit, Decimal)
    assert hot._mapping["visit"] == "V1"


def test_values_given_in_the_statement_and_returning_rows(tables: Engine) -> None:
    with Session(tables) as session:
        # no RETURNING asked: none added (PostgreSQL's compiler would add the primary key's)
        assert HotStatement(insert(_stay)).execute(session, _stay_values("V2")) == []
        first = _BUMP.one(session, {"b_visit": "V2"})
        second = _BUMP.one(session, {"b_visit": "V2"})
        session.commit()
    assert (first.version, second.version) == (2, 3)
    assert second.admitted_at.tzinfo is not None
    with Session(tables) as session:
        assert _BUMP.one_or_none(session, {"b_visit": "nobody"}) is None


def test_a_driver_error_is_sqlalchemys_and_the_transaction_goes_on(tables: Engine) -> None:
    with Session(tables) as session:
        _INSERT.one(session, _stay_values("V3"))
        with pytest.raises(IntegrityError) as caught:
            _INSERT.one(session, _stay_values("V3"))
        assert "hot_sql_stay" in str(caught.value.orig) or "visit" in str(caught.value.orig)
        session.rollback()
    with Session(tables) as session:
        assert _BY_VISIT.one_or_none(session, {"b_visit": "V3"}) is None


def test_one_and_one_or_none_say_what_sqlalchemy_says(tables: Engine) -> None:
    every = HotStatement(select(_stay.c.visit))
    with Session(tables) as session:
        with pytest.raises(NoResultFound):
            every.one(session, {})
        _INSERT.one(session, _stay_values("V4"))
        _INSERT.one(session, _stay_values("V5"))
        with pytest.raises(MultipleResultsFound):
            every.one_or_none(session, {})


def test_cursor_listeners_see_hot_statements(tables: Engine) -> None:
    seen: list[str] = []

    def listen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement.split()[0])

    event.listen(tables, "before_cursor_execute", listen)
    try:
        with Session(tables) as session:
            _INSERT.one(session, _stay_values("V6"))
            _BY_VISIT.one(session, {"b_visit": "V6"})
    finally:
        event.remove(tables, "before_cursor_execute", listen)
    assert seen[-2:] == ["INSERT", "SELECT"]


def test_what_only_sqlalchemys_execute_can_do_is_refused(tables: Engine) -> None:
    with Session(tables) as session:
        with pytest.raises(ValueError, match="Python-side column defaults"):
            HotStatement(insert(_with_default)).execute(session, {"id": 1})
        expanding = select(_stay).where(_stay.c.visit.in_(bindparam("visits", expanding=True)))
        with pytest.raises(ValueError, match="expand"):
            HotStatement(expanding).execute(session, {"visits": ["V1"]})
