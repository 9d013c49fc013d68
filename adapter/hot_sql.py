"""Statements on the hot write path, run on the driver's cursor and compiled once per dialect.

An ADT^A08 runs about eight statements (its log row, the stay's read and update, three for the
audit chain, its outcome). Through SQLAlchemy each costs 60–100 µs of Python on top of the
driver's few: the execution context, events, parameter processing and a ``Row`` per result row.
:class:`HotStatement` keeps what makes those statements correct — the SQL SQLAlchemy renders
for the dialect, each column type's conversion of parameters and results, SQLAlchemy's
exception classes — and drops the rest: the statement is compiled once per dialect and set of
given columns, and each execution is the driver's ``execute`` with converted values.

It runs on the connection (and so in the transaction) of the session or connection it is
given, exactly as ``session.execute`` would. Statements that need what only SQLAlchemy's
execution does — Python-side column defaults, expanding ``IN`` lists — are refused when first
compiled, so a hot statement never writes a row differently from the slow path.

What it does not do: SQLAlchemy's statement echo (``echo=True``) does not show it, though
cursor listeners see it; and a driver error that means a lost PostgreSQL connection is raised
as SQLAlchemy's but does not mark the pooled connection invalid — the pool's pre-ping
(``pool_pre_ping``, on for PostgreSQL) replaces it at its next checkout.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, MultipleResultsFound, NoResultFound
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.elements import ClauseElement

__all__ = ["HotRow", "HotStatement"]

_Convert = Callable[[Any], Any] | None


class HotRow(tuple[Any, ...]):
    """A result row: a tuple whose columns are also attributes, like SQLAlchemy's ``Row``."""

    __slots__ = ()
    _names: dict[str, int] = {}  # noqa: RUF012 - each statement's subclass sets its own

    def __getattr__(self, name: str) -> Any:
        try:
            return self[self._names[name]]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def _mapping(self) -> dict[str, Any]:
        return {name: self[index] for name, index in self._names.items()}


@dataclass
class _Compiled:
    sql: str
    positional: bool
    defaults: Mapping[str, Any]  # values bound in the statement itself (``.values(...)``)
    # each bind name, in the order the driver takes them, with its type's conversion
    binds: tuple[tuple[str, _Convert], ...]
    columns: tuple[Any, ...]  # the result's columns (their types convert the driver's values)
    row: type[HotRow] | None  # None: the statement returns no rows
    error: type[Exception]  # the driver's base error
    # each result column's conversion, None: none has one; made at the first execution, from
    # the driver's column type codes (PostgreSQL's numerics need them), the same each time
    results: tuple[_Convert, ...] | None = None
    results_known: bool = False


class HotStatement:
    """One statement, run through the driver (thread-safe: a compiled form only gains its result
    conversions once made, the same ones whichever thread makes them)."""

    __slots__ = ("_compiled", "_statement")

    def __init__(self, statement: ClauseElement) -> None:
        self._statement = statement
        self._compiled: dict[tuple[str, frozenset[str]], _Compiled] = {}

    def execute(self, where: Session | Connection, params: Mapping[str, Any]) -> list[HotRow]:
        """Run with ``params`` in ``where``'s transaction; the result rows (none for a plain
        write). Driver errors come out as SQLAlchemy's (``IntegrityError``, ``OperationalError``
        …) with the driver's error as ``orig``, as from ``session.execute``."""
        connection = where.connection() if isinstance(where, Session) else where
        compiled = self._for(connection.dialect, params)
        given = {**compiled.defaults, **params} if compiled.defaults else params
        # comprehensions: a generator per execution costs more than the conversions
        binds = compiled.binds
        values: Any = (
            [convert(given[name]) if convert else given[name] for name, convert in binds]
            if compiled.positional
            else {name: convert(given[name]) if convert else given[name] for name, convert in binds}
        )
        driver = connection.connection.driver_connection
        assert driver is not None  # a checked-out connection
        cursor = driver.cursor()
        sql = compiled.sql
        # why: SQLAlchemy's private flags, read as its own execute reads them, so that cursor
        # listeners (statement counts, fault injection in tests) see hot statements too
        watched = connection._has_events or connection.engine._has_events
        try:
            if watched:
                for listener in connection.dispatch.before_cursor_execute:
                    sql, values = listener(connection, cursor, sql, values, None, False)
            cursor.execute(sql, values)
            fetched = cursor.fetchall() if compiled.row is not None else []
            if not compiled.results_known and compiled.row is not None:
                compiled.results = _result_converts(
                    compiled.columns, cursor.description, connection.dialect
                )
                compiled.results_known = True
            if watched:
                connection.dispatch.after_cursor_execute(
                    connection, cursor, sql, values, None, False
                )
        except compiled.error as exc:
            raise DBAPIError.instance(
                sql, values, exc, compiled.error, dialect=connection.dialect
            ) from exc
        finally:
            cursor.close()
        if compiled.row is None:
            return []
        row, results = compiled.row, compiled.results
        if results is None:
            return [row(found) for found in fetched]
        return [
            row(
                [
                    convert(value) if convert else value
                    for value, convert in zip(found, results, strict=True)
                ]
            )
            for found in fetched
        ]

    def one_or_none(self, where: Session | Connection, params: Mapping[str, Any]) -> Any:
        """The one row, or ``None``; SQLAlchemy's ``MultipleResultsFound`` if there are more."""
        rows = self.execute(where, params)
        if len(rows) > 1:
            raise MultipleResultsFound("Multiple rows were found when one or none was required")
        return rows[0] if rows else None

    def one(self, where: Session | Connection, params: Mapping[str, Any]) -> Any:
        """The one row; SQLAlchemy's ``NoResultFound`` or ``MultipleResultsFound`` otherwise."""
        row = self.one_or_none(where, params)
        if row is None:
            raise NoResultFound("No row was found when one was required")
        return row

    def _for(self, dialect: Dialect, params: Mapping[str, Any]) -> _Compiled:
        key = (dialect.name, frozenset(params))
        found = self._compiled.get(key)
        if found is None:
            found = self._compiled[key] = _compile(self._statement, dialect, params)
        return found


def _compile(statement: ClauseElement, dialect: Dialect, params: Mapping[str, Any]) -> _Compiled:
    columns = tuple(getattr(statement, "exported_columns", ()))  # selected, or RETURNING
    if isinstance(statement, Insert) and not columns:
        # PostgreSQL's compiler would add RETURNING of the primary key, for
        # ``inserted_primary_key``; a hot insert that wants it says RETURNING itself
        statement = statement.inline()
    compiled = statement.compile(dialect=dialect, column_keys=sorted(params))
    assert isinstance(compiled, SQLCompiler)
    if compiled.insert_prefetch or compiled.update_prefetch:
        raise ValueError("a hot statement cannot fill Python-side column defaults")
    if compiled.literal_execute_params or compiled.post_compile_params:
        raise ValueError("a hot statement cannot expand parameters at execution")
    if compiled.escaped_bind_names:
        raise ValueError("a hot statement's bind names must not need escaping")
    positional = compiled.positiontup is not None
    names = (
        tuple(compiled.positiontup) if compiled.positiontup is not None else tuple(compiled.binds)
    )
    binds = tuple(
        (name, compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
        for name in names
    )
    returns = bool(columns)
    row: type[HotRow] | None = None
    if returns:
        keys = [column.key for column in columns]
        row = type("HotRow", (HotRow,), {"__slots__": (), "_names": _positions(keys)})
    error = dialect.loaded_dbapi.Error
    return _Compiled(
        sql=compiled.string,
        positional=positional,
        defaults={
            name: bind.value
            for name, bind in compiled.binds.items()
            if name not in params and not bind.required
        },
        binds=binds,
        columns=columns if returns else (),
        row=row,
        error=error,
    )


def _result_converts(
    columns: tuple[Any, ...], description: Any, dialect: Dialect
) -> tuple[_Convert, ...] | None:
    converts = tuple(
        column.type.dialect_impl(dialect).result_processor(dialect, described[1])
        for column, described in zip(columns, description or (), strict=True)
    )
    return converts if any(converts) else None


def _positions(names: Iterable[str]) -> dict[str, int]:
    return {name: index for index, name in enumerate(names)}
