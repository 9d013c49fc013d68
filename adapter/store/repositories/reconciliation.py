"""Monthly reconciliation's records (:mod:`adapter.store.tables.monthly`): the month's local
settlements read for it, and the runs kept per month.

A run row holds both sides' totals; the local settlements it compared are rows of
``reconciliation_line`` and its differences rows of ``reconciliation_difference``, each in
order. A ``failed`` run has no result.

A month may hold 50,000 settlements: a run's lines are copied from the month's settlements
by the database itself (one ``INSERT … SELECT``, each settlement's local day worked out
there), then streamed back for the comparison as the driver's tuples (each amount read as
an integer of fen: the exact ``Decimal`` made from it is all the money needs; no per-row
type processing, which costs more than the rest of the read).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Date,
    Integer,
    Select,
    String,
    bindparam,
    case,
    cast,
    func,
    literal,
    null,
    select,
    true,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from adapter.domain.reconciliation import (
    Amounts,
    Difference,
    DifferenceKind,
    Lines,
    LocalSettlement,
    ReconciliationResult,
    Totals,
)
from adapter.domain.settlement import SettlementStatus
from adapter.domain.upstream import Infno
from adapter.store.sql import table
from adapter.store.tables import EncounterRow, SettlementRow
from adapter.store.tables._common import BigId
from adapter.store.tables.monthly import (
    reconciliation_difference,
    reconciliation_line,
    reconciliation_run,
)
from adapter.store.tables.workflow import service_upload

_encounter = table(EncounterRow)
_settlement = table(SettlementRow)
_UPLOADS = (Infno.DISCHARGE.value, Infno.DEVICE_SETTLEMENT.value)
_STREAM = 2_000  # rows fetched at a time: a month is read in bounded memory

# The upload that carried a settlement: the latest discharge/device upload naming it.
_latest_upload = (
    select(service_upload.c.msgid)
    .where(
        service_upload.c.settlement_id == _settlement.c.id,
        service_upload.c.infno.in_(_UPLOADS),
    )
    .order_by(service_upload.c.id.desc())
    .limit(1)
    .correlate(_settlement)
    .scalar_subquery()
)


def _fen(column: Any, dialect: str) -> ColumnElement[int]:
    """An amount column in fen, an exact integer: the cheapest exact value to read (SQLite
    keeps NUMERIC as a double, the nearest to the decimal stored: ×100 and rounded is the
    decimal's fen exactly, ≤15 significant digits). The reader makes it a ``Decimal`` to
    the fen: ``Decimal(1230).scaleb(-2)`` is 12.30, exactly."""
    if dialect == "sqlite":
        return cast(func.round(column * 100), Integer)
    return cast(column * 100, BigInteger)


@dataclass(frozen=True)
class RunInfo:
    id: int
    month: str
    started_at: datetime
    finished_at: datetime
    actor: str
    outcome: str  # balanced | differences | failed
    message: str


@dataclass(frozen=True)
class ReconciliationReport:
    """A kept run: its result (``None`` for a failed run) and the lines compared."""

    run: RunInfo
    result: ReconciliationResult | None
    lines: Sequence[dict[str, Any]]  # each settlement's line (:class:`Lines`)


def totals_values(prefix: str, totals: Totals) -> dict[str, Any]:
    a = totals.amounts
    return {
        f"{prefix}_count": totals.count,
        f"{prefix}_total": a.total,
        f"{prefix}_fund_pay": a.fund_pay,
        f"{prefix}_personal_pay": a.personal_pay,
    }


def totals_of(row: Any, prefix: str) -> Totals:
    return Totals(
        getattr(row, f"{prefix}_count"),
        Amounts(
            getattr(row, f"{prefix}_total"),
            getattr(row, f"{prefix}_fund_pay"),
            getattr(row, f"{prefix}_personal_pay"),
        ),
    )


def side_of(row: Any, prefix: str) -> Amounts | None:
    total = getattr(row, f"{prefix}_total")
    if total is None:
        return None
    return Amounts(
        total, getattr(row, f"{prefix}_fund_pay"), getattr(row, f"{prefix}_personal_pay")
    )


def side_values(prefix: str, amounts: Amounts | None) -> dict[str, Any]:
    return {
        f"{prefix}_total": amounts.total if amounts else None,
        f"{prefix}_fund_pay": amounts.fund_pay if amounts else None,
        f"{prefix}_personal_pay": amounts.personal_pay if amounts else None,
    }


def difference_values(run_id: int, position: int, d: Difference) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "position": position,
        "kind": d.kind.value,
        "setl_id": d.setl_id,
        "psn_no": d.psn_no,
        "settles_on": d.settles_on,
        **side_values("local", d.local),
        **side_values("upstream", d.upstream),
        "message": d.message,
        "action": d.action,
        "article": d.article,
    }


def run_info(row: Any) -> RunInfo:
    return RunInfo(
        row.id, row.month, row.started_at, row.finished_at, row.actor, row.outcome, row.message
    )


def _driver_rows(
    connection: Connection, query: Select[Any], params: dict[str, Any]
) -> Iterator[Sequence[Any]]:
    """``query``'s rows as the driver's tuples, :data:`_STREAM` at a time, on the unit of
    work's connection (its transaction). For a month's lines: SQLAlchemy's result rows
    cost more per row than the rest of the read; the query's values are all plain (text,
    numbers), so there is nothing for the column types to convert. On PostgreSQL a named
    (server-side) cursor, so the month is read in bounded memory."""
    compiled = query.compile(dialect=connection.dialect)
    sql = str(compiled)
    values: Any = compiled.params | params
    if compiled.positiontup is not None:
        values = [values[name] for name in compiled.positiontup]
    driver = connection.connection.dbapi_connection
    assert driver is not None
    if connection.dialect.name == "postgresql":
        cursor = driver.cursor(name=f"stream_{id(query):x}")
    else:
        cursor = driver.cursor()
    try:
        cursor.execute(sql, values)
        while chunk := cursor.fetchmany(_STREAM):
            yield chunk
    finally:
        cursor.close()


class _Days(dict[str, date]):
    """A day's stored text → the day (a month has ~31: each parsed once)."""

    def __missing__(self, text: str) -> date:
        day = self[text] = date.fromisoformat(text[:10])
        return day


# revoked + 2·crosses_year + 4·delivered + 8·no upload → (revoked, crosses_year, delivered)
_FLAGS: tuple[tuple[bool, bool, bool | None], ...] = tuple(
    (bool(n & 1), bool(n & 2), None if n & 8 else bool(n & 4)) for n in range(16)
)

_NONE = Totals(0, Amounts(Decimal(0), Decimal(0), Decimal(0)))


def report_of(row: Any, rows: Sequence[Any], lines: Lines) -> ReconciliationReport:
    result = None
    if row.outcome != "failed":
        differences = tuple(
            Difference(
                DifferenceKind(d.kind),
                d.setl_id,
                d.psn_no,
                d.settles_on,
                side_of(d, "local"),
                side_of(d, "upstream"),
                d.message,
                d.action,
                d.article,
            )
            for d in rows
        )
        result = ReconciliationResult(
            row.month, totals_of(row, "local"), totals_of(row, "upstream"), differences
        )
    return ReconciliationReport(run_info(row), result, lines)


class ReconciliationRepository:
    def __init__(self, session: Session):
        self._session = session

    def add(
        self,
        *,
        month: str,
        started_at: datetime,
        finished_at: datetime,
        actor: str,
        outcome: str,
        message: str,
        totals_match: bool = False,
        local: Totals = _NONE,
        upstream: Totals = _NONE,
        differences: Sequence[Difference] = (),
    ) -> int:
        """Keep a run and its differences; returns the run's id (its lines:
        :meth:`copy_lines`, or :meth:`finish` once compared)."""
        run_id = self._session.execute(
            reconciliation_run.insert()
            .values(
                month=month,
                started_at=started_at,
                finished_at=finished_at,
                actor=actor,
                outcome=outcome,
                message=message,
                totals_match=totals_match,
                **totals_values("local", local),
                **totals_values("upstream", upstream),
                difference_count=len(differences),
            )
            .returning(reconciliation_run.c.id)
        ).scalar_one()
        self._add_differences(int(run_id), differences)
        return int(run_id)

    def finish(
        self,
        run_id: int,
        *,
        finished_at: datetime,
        outcome: str,
        message: str,
        totals_match: bool,
        local: Totals,
        upstream: Totals,
        differences: Sequence[Difference],
    ) -> None:
        """Record a run's outcome, totals and differences once its lines are compared."""
        self._session.execute(
            reconciliation_run.update()
            .where(reconciliation_run.c.id == run_id)
            .values(
                finished_at=finished_at,
                outcome=outcome,
                message=message,
                totals_match=totals_match,
                **totals_values("local", local),
                **totals_values("upstream", upstream),
                difference_count=len(differences),
            )
        )
        self._add_differences(run_id, differences)

    def _add_differences(self, run_id: int, differences: Sequence[Difference]) -> None:
        if differences:
            self._session.execute(
                reconciliation_difference.insert(),
                [difference_values(run_id, n, d) for n, d in enumerate(differences)],
            )

    def copy_lines(
        self,
        run_id: int,
        bounds: Sequence[datetime],
        days: Sequence[date],
        institution_code: str,
        undelivered: Iterable[str],
    ) -> None:
        """Make the institution's settlements (settled and revoked) made in [bounds[0],
        bounds[-1]) the run's lines, in settlement-time order, each with the latest
        discharge/device upload naming it: ``days[i]`` is the day of those made in
        [bounds[i], bounds[i+1]) (the local days: worked out by the database, not per row).
        An upload is delivered unless its msgid is ``undelivered``.

        One ``INSERT … SELECT``: a month's 50,000 lines never pass through Python on their
        way in. Run it in the transaction that reads them back (:meth:`lines`), so what is
        kept is what was compared."""
        at = _settlement.c.settled_at
        dialect = self._session.connection().dialect.name
        offsets = {bound.utcoffset() for bound in bounds}
        day: ColumnElement[Any]
        if dialect == "sqlite" and len(offsets) == 1 and None not in offsets:
            # one offset all month (no daylight saving): the day is the stored UTC time
            # moved by it, in SQLite's own date arithmetic (stored as the text SQLite keeps)
            minutes = int(next(iter(offsets)).total_seconds() // 60)  # type: ignore[union-attr]  # None excluded above
            day = func.date(at, f"{minutes:+d} minutes")
        else:
            day = case(
                *((at < b, literal(d, Date)) for b, d in zip(bounds[1:-1], days, strict=False)),
                else_=literal(days[-1], Date),
            )
        month = (
            select(
                _settlement.c.id,
                _settlement.c.settled_at,
                _settlement.c.slip_no,
                _encounter.c.psn_no,
                _encounter.c.kind,
                day.label("day"),
                _settlement.c.total,
                _settlement.c.fund_pay,
                _settlement.c.personal_pay,
                (_settlement.c.status == SettlementStatus.REVOKED.value).label("revoked"),
                _settlement.c.crosses_year,
                _latest_upload.label("msgid"),
            )
            .join(_encounter, _encounter.c.id == _settlement.c.encounter_id)
            .where(
                at >= bounds[0],
                at < bounds[-1],
                _encounter.c.institution_code == institution_code,
            )
            .subquery()
        )
        m = month.c
        query = select(
            literal(run_id, BigId), m.id, m.slip_no, m.psn_no, m.kind, m.day, m.total,
            m.fund_pay, m.personal_pay, m.revoked, m.crosses_year, func.coalesce(m.msgid, ""),
            case((m.msgid.is_(None), null()), else_=true()),
        ).order_by(m.settled_at, m.id)  # fmt: skip
        line = reconciliation_line.c
        # ids are given in the query's order: the lines' order (read back by id)
        self._session.execute(
            reconciliation_line.insert().from_select(
                [c for c in reconciliation_line.columns if c is not line.id], query
            )
        )
        pending = sorted(set(undelivered))
        for start in range(0, len(pending), 500):  # a long queue: in bounded IN lists
            self._session.execute(
                reconciliation_line.update()
                .where(line.run_id == run_id, line.upload_msgid.in_(pending[start : start + 500]))
                .values(upload_delivered=False)
            )

    def upload_msgids(self, bounds: Sequence[datetime], institution_code: str) -> list[str]:
        """The latest discharge/device upload of each of the institution's settlements made
        in [bounds[0], bounds[-1]) (for an outbox asked one upload at a time)."""
        at = _settlement.c.settled_at
        rows = self._session.execute(
            select(_latest_upload)
            .join(_encounter, _encounter.c.id == _settlement.c.encounter_id)
            .where(
                at >= bounds[0],
                at < bounds[-1],
                _encounter.c.institution_code == institution_code,
            )
        ).scalars()
        return [msgid for msgid in rows if msgid]

    def lines(self, run_id: int) -> Iterator[LocalSettlement]:
        """A run's lines in order, streamed (a server-side cursor, :data:`_STREAM` rows at a
        time: a month of 50,000 is read in bounded memory). Consume it inside the unit of
        work."""
        connection = self._session.connection()
        dialect = connection.dialect
        line = reconciliation_line.c
        query = (
            select(
                line.setl_id,
                line.psn_no,
                line.kind,
                cast(line.settles_on, String),
                _fen(line.total, dialect.name),
                _fen(line.fund_pay, dialect.name),
                _fen(line.personal_pay, dialect.name),
                line.slip_no,
                line.upload_msgid,
                # the three flags as one number (see _FLAGS): one value per row to convert
                case((line.revoked, 1), else_=0)
                + case((line.crosses_year, 2), else_=0)
                + case((line.upload_delivered, 4), (line.upload_delivered.is_(None), 8), else_=0),
            )
            .where(line.run_id == bindparam("run_id"))
            .order_by(line.id)
        )
        # names local, no helper call per amount: this loop runs 50,000 times a month
        make, fen, days, flags = LocalSettlement, Decimal, _Days(), _FLAGS
        for partition in _driver_rows(connection, query, {"run_id": run_id}):
            for setl_id, psn_no, kind, day, total, fund, personal, slip_no, msgid, f in partition:
                revoked, crosses, delivered = flags[f]
                yield make(
                    setl_id, psn_no, kind, days[day],
                    Amounts(fen(total).scaleb(-2), fen(fund).scaleb(-2), fen(personal).scaleb(-2)),
                    revoked, slip_no, crosses, msgid, delivered,
                )  # fmt: skip

    def latest(self, month: str) -> ReconciliationReport | None:
        """The month's latest run with its lines and differences; ``None`` if never run."""
        row = self._session.execute(
            select(reconciliation_run)
            .where(reconciliation_run.c.month == month)
            .order_by(reconciliation_run.c.id.desc())
            .limit(1)
        ).one_or_none()
        if row is None:
            return None
        rows = self._session.execute(
            select(reconciliation_difference)
            .where(reconciliation_difference.c.run_id == row.id)
            .order_by(reconciliation_difference.c.position)
        ).all()
        return report_of(row, rows, Lines(list(self.lines(row.id))))

    def runs(self, month: str) -> list[RunInfo]:
        """Every run of ``month``, newest first."""
        rows = self._session.execute(
            select(reconciliation_run)
            .where(reconciliation_run.c.month == month)
            .order_by(reconciliation_run.c.id.desc())
        ).all()
        return [run_info(row) for row in rows]

    def latest_not_balanced(self) -> list[tuple[RunInfo, int]]:
        """Each month's latest run when it is not ``balanced``, with how many differences
        it found; oldest month first."""
        latest = select(func.max(reconciliation_run.c.id)).group_by(reconciliation_run.c.month)
        rows = self._session.execute(
            select(reconciliation_run)
            .where(
                reconciliation_run.c.id.in_(latest),
                reconciliation_run.c.outcome != "balanced",
            )
            .order_by(reconciliation_run.c.month)
        ).all()
        return [(run_info(row), int(row.difference_count)) for row in rows]
