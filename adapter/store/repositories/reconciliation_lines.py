"""A reconciliation run's lines (``reconciliation_line``): copied from the month's settlements,
read back, and compared as they are read (:class:`~adapter.domain.reconciliation_sieve.Sieve`).

A month may hold 50,000 settlements: a run's lines are copied from the month's settlements
by the database itself (one ``INSERT … SELECT``, each settlement's local day worked out
there), then streamed back as the driver's tuples (each amount read as an integer of fen:
exact, and all the comparison needs; no per-row type processing, which costs more than the
rest of the read). The comparison sets aside, by comparing integers, the lines that match
upstream's plain figures and makes objects only of the others; the rows themselves are
kept as the run's :class:`~adapter.domain.reconciliation.Lines`, each made a settlement
when the answer is read.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from functools import partial
from itertools import compress, repeat
from operator import eq, itemgetter, not_
from typing import Any

from sqlalchemy import (
    Connection,
    Date,
    Select,
    String,
    and_,
    bindparam,
    case,
    cast,
    false,
    func,
    literal,
    null,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from adapter.domain.reconciliation import Totals
from adapter.domain.reconciliation_lines import Amounts, Lines, LocalSettlement
from adapter.domain.reconciliation_sieve import Sieve, local_totals
from adapter.domain.settlement import SettlementStatus, settlement_day
from adapter.domain.upstream import Infno
from adapter.store.sql import in_fen, of_fen, table
from adapter.store.tables import EncounterRow, SettlementRow
from adapter.store.tables._common import BigId
from adapter.store.tables.monthly import reconciliation_line
from adapter.store.tables.workflow import service_upload

_encounter = table(EncounterRow)
_settlement = table(SettlementRow)
_UPLOADS = (Infno.DISCHARGE.value, Infno.DEVICE_SETTLEMENT.value)
_STREAM = 2_000  # rows fetched at a time: a month is read in bounded memory


# The upload that carried a settlement: the latest discharge/device upload naming it.
def _latest(column: Any) -> Any:
    return (
        select(column)
        .where(
            service_upload.c.settlement_id == _settlement.c.id,
            service_upload.c.infno.in_(_UPLOADS),
        )
        .order_by(service_upload.c.id.desc())
        .limit(1)
        .correlate(_settlement)
        .scalar_subquery()
    )


_latest_upload = _latest(service_upload.c.msgid)
# joined by its id (one lookup per settlement; its msgid then read as often as needed: a
# scalar subquery is run again wherever the copy names it)
_upload = service_upload.alias("latest_upload")
_INLINE = 2_000  # undelivered msgids named in the copy itself; beyond, updated in chunks


def copy_lines(
    session: Session,
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
    way in. Run it in the transaction that reads them back (:func:`read_lines`,
    :func:`sift`), so what is kept is what was compared."""
    at = _settlement.c.settled_at
    dialect = session.connection().dialect.name
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
            _upload.c.msgid,
        )
        .join(_encounter, _encounter.c.id == _settlement.c.encounter_id)
        .outerjoin(_upload, _upload.c.id == _latest(service_upload.c.id))
        .where(
            at >= bounds[0],
            at < bounds[-1],
            _encounter.c.institution_code == institution_code,
        )
        .subquery()
    )
    m = month.c
    pending = sorted(set(undelivered))
    delivered = case(
        (m.msgid.is_(None), null()),
        (m.msgid.in_(pending[:_INLINE]), false()),
        else_=true(),
    )
    query = select(
        literal(run_id, BigId), m.id, m.slip_no, m.psn_no, m.kind, m.day, m.total,
        m.fund_pay, m.personal_pay, m.revoked, m.crosses_year, func.coalesce(m.msgid, ""),
        delivered,
    ).order_by(m.settled_at, m.id)  # fmt: skip
    line = reconciliation_line.c
    # ids are given in the query's order: the lines' order (read back by id)
    session.execute(
        reconciliation_line.insert().from_select(
            [c for c in reconciliation_line.columns if c is not line.id], query
        )
    )
    for start in range(_INLINE, len(pending), 500):  # a long queue: in bounded IN lists
        session.execute(
            reconciliation_line.update()
            .where(line.run_id == run_id, line.upload_msgid.in_(pending[start : start + 500]))
            .values(upload_delivered=False)
        )


def upload_msgids(session: Session, bounds: Sequence[datetime], institution_code: str) -> list[str]:
    """The latest discharge/device upload of each of the institution's settlements made
    in [bounds[0], bounds[-1]) (for an outbox asked one upload at a time)."""
    at = _settlement.c.settled_at
    rows = session.execute(
        select(_latest_upload)
        .join(_encounter, _encounter.c.id == _settlement.c.encounter_id)
        .where(
            at >= bounds[0],
            at < bounds[-1],
            _encounter.c.institution_code == institution_code,
        )
    ).scalars()
    return [msgid for msgid in rows if msgid]


def changed_since(
    session: Session, run_id: int, month: str, since: datetime, institution_code: str
) -> list[str]:
    """The institution's settlements of ``month`` settled or revoked at ``since`` or later
    that run ``run_id`` did not compare as they now stand (absent from its lines, or listed
    there as settled and revoked since), in settlement-time order."""
    s, line = _settlement.c, reconciliation_line.c
    compared = (
        select(line.id)
        .where(
            line.run_id == run_id,
            line.setl_id == s.id,
            line.revoked == (s.status == SettlementStatus.REVOKED.value),
        )
        .exists()
    )
    rows = session.execute(
        select(s.id)
        .join(_encounter, _encounter.c.id == s.encounter_id)
        .where(
            s.month == month,
            _encounter.c.institution_code == institution_code,
            # indexed either way (a month holds 50,000; revoked ones are few)
            or_(
                s.settled_at >= since,
                and_(s.status == SettlementStatus.REVOKED.value, s.revoked_at >= since),
            ),
            ~compared,
        )
        .order_by(s.settled_at, s.id)
    ).scalars()
    return list(rows)


def settlements_of(
    session: Session, setl_ids: Collection[str], institution_code: str, zone: tzinfo
) -> dict[str, LocalSettlement]:
    """Of ``setl_ids``, the institution's settlements of any month (settled or revoked), by
    id, as reconciliation sees them (dated in ``zone``, without their uploads)."""
    found: dict[str, LocalSettlement] = {}
    ids = sorted(setl_ids)
    s = _settlement.c
    for start in range(0, len(ids), 500):  # SQLite's bound parameters: in bounded IN lists
        rows = session.execute(
            select(
                s.id,
                _encounter.c.psn_no,
                _encounter.c.kind,
                s.settled_at,
                s.total,
                s.fund_pay,
                s.personal_pay,
                s.status,
                s.slip_no,
                s.crosses_year,
            )
            .join(_encounter, _encounter.c.id == s.encounter_id)
            .where(
                s.id.in_(ids[start : start + 500]),
                _encounter.c.institution_code == institution_code,
            )
        )
        for row in rows:
            found[row.id] = LocalSettlement(
                row.id, row.psn_no, row.kind, settlement_day(row.settled_at, zone),
                Amounts(row.total, row.fund_pay, row.personal_pay),
                row.status == SettlementStatus.REVOKED.value, row.slip_no, row.crosses_year,
            )  # fmt: skip
    return found


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


def _line_rows(connection: Connection, run_id: int) -> Iterator[Sequence[Any]]:
    """A run's lines in order as rows (see :func:`_settlement_of`), :data:`_STREAM` at a
    time."""
    dialect = connection.dialect.name
    line = reconciliation_line.c
    query = (
        select(
            line.setl_id,
            line.psn_no,
            line.kind,
            cast(line.settles_on, String),
            in_fen(line.total, dialect),
            in_fen(line.fund_pay, dialect),
            in_fen(line.personal_pay, dialect),
            line.slip_no,
            line.upload_msgid,
            # the three flags as one number (see _FLAGS): one value per row to convert
            case((line.revoked, 1), else_=0)
            + case((line.crosses_year, 2), else_=0)
            + case((line.upload_delivered, 4), (line.upload_delivered.is_(None), 8), else_=0),
            case((line.revoked, 1), else_=0),  # the sieve's key: amounts, this, psn_no
        )
        .where(line.run_id == bindparam("run_id"))
        .order_by(line.id)
    )
    return _driver_rows(connection, query, {"run_id": run_id})


def _settlement_of(row: Sequence[Any], days: _Days) -> LocalSettlement:
    """A line's row (:func:`_line_rows`) as the settlement it stands for."""
    setl_id, psn_no, kind, day, total, fund, personal, slip_no, msgid, flags, _ = row
    revoked, crosses, delivered = _FLAGS[flags]
    return LocalSettlement(
        setl_id, psn_no, kind, days[day],
        Amounts(of_fen(total), of_fen(fund), of_fen(personal)),
        revoked, slip_no, crosses, msgid, delivered,
    )  # fmt: skip


def read_lines(session: Session, run_id: int) -> Lines:
    """A run's lines in order, read in :data:`_STREAM`-row chunks; each made a settlement
    when asked for."""
    rows: list[Sequence[Any]] = []
    for chunk in _line_rows(session.connection(), run_id):
        rows += chunk
    return Lines.read(rows, partial(_settlement_of, days=_Days()))


@dataclass(frozen=True)
class Sifted:
    """A run's lines read once against upstream's :class:`Sieve`: what
    :meth:`Sieve.judge` takes, and the lines."""

    local: Totals  # net of revocations
    matched: set[str]  # setl_ids set aside: in effect, upstream's plain worker and amounts
    others: list[LocalSettlement]  # every other line, in order
    lines: Lines


_SETL_ID = itemgetter(0)
_TOTAL, _FUND, _PERSONAL = itemgetter(4), itemgetter(5), itemgetter(6)
# amounts in fen, revoked, worker (and kind, when upstream names kinds): as Sieve.plain's values
_KEY, _KEY_KIND = itemgetter(4, 5, 6, 10, 1), itemgetter(4, 5, 6, 10, 1, 2)


def sift(session: Session, run_id: int, sieve: Sieve) -> Sifted:
    """Read a run's lines once (in the unit of work that copied them): totals in fen, the
    lines matching ``sieve.plain`` set aside by id, the others made settlements.

    No Python code runs per line set aside: each chunk of rows is summed, looked up in
    ``sieve.plain`` (popped: a second line of one id is judged) and compared by C-level
    iterators; only the others (differences, revoked) are made objects. The rows are kept
    (the run's lines), not 50,000 objects."""
    rows: list[Sequence[Any]] = []
    matched: set[str] = set()
    others: list[LocalSettlement] = []
    days = _Days()
    pop = sieve.plain.pop
    key = _KEY_KIND if sieve.kinds else _KEY
    count = total = fund = personal = 0
    for chunk in _line_rows(session.connection(), run_id):
        rows += chunk
        count += len(chunk)
        total += sum(map(_TOTAL, chunk))
        fund += sum(map(_FUND, chunk))
        personal += sum(map(_PERSONAL, chunk))
        same = list(map(eq, map(pop, map(_SETL_ID, chunk), repeat(None)), map(key, chunk)))
        matched.update(compress(map(_SETL_ID, chunk), same))
        for row in compress(chunk, map(not_, same)):
            settlement = _settlement_of(row, days)
            others.append(settlement)
            if settlement.revoked:  # counts on neither side
                count -= 1
                total, fund, personal = total - row[4], fund - row[5], personal - row[6]
    lines = Lines.read(rows, partial(_settlement_of, days=days))
    return Sifted(local_totals(count, total, fund, personal), matched, others, lines)
