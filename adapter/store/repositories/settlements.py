"""Settlements (saved with a snapshot of every priced line) and the daily slip sequence."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, Table, func, literal, null, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from adapter.domain.encounters import Encounter
from adapter.domain.errors import NotFound
from adapter.domain.pricing import PricedLine
from adapter.domain.settlement import (
    Bill,
    Breakdown,
    Settlement,
    SettlementStatus,
    make_slip_no,
)
from adapter.store import errors
from adapter.store.mapping import (
    FEE_LINE_FIELDS,
    encounter_of,
    fee_line_of,
    fee_line_values,
)
from adapter.store.mapping import priced_line_values as _priced_values
from adapter.store.repositories.fee_line_rows import PRICED_COLUMNS, PricedRows
from adapter.store.repositories.fee_totals import priced_code
from adapter.store.sql import table, upsert, violates
from adapter.store.tables import (
    EncounterRow,
    ExcludedLineRow,
    FeeLineRow,
    SettlementLineRow,
    SettlementRow,
    SlipSequenceRow,
)

_settlement = table(SettlementRow)
_line = table(SettlementLineRow)
_excluded = table(ExcludedLineRow)
_encounter = table(EncounterRow)
_sequence = table(SlipSequenceRow)
_TOTALS = tuple(Breakdown.__dataclass_fields__)
_fee_line = table(FeeLineRow)
_FEE = list(FEE_LINE_FIELDS)
_PRICE = [
    name
    for name in SettlementLineRow.model_fields
    if name not in FEE_LINE_FIELDS and name not in ("id", "settlement_id", "position")
]


# A snapshot's lines in line order, by position: the position, the line, its price, then the
# device limit it was priced against.
_SNAPSHOT = select(
    _line.c.position, *(_line.c[n] for n in (*FEE_LINE_FIELDS, *PRICED_COLUMNS, "priced_limit"))
).order_by(_line.c.position)


def _snapshot_lines(
    rows: Iterable[Sequence[Any]], reader: PricedRows | None = None
) -> list[tuple[int, PricedLine]]:
    """Rows of :data:`_SNAPSHOT` (further columns after them are ignored) → (position, line)."""
    reader = reader or PricedRows()
    width = 1 + len(FEE_LINE_FIELDS)
    end = width + len(PRICED_COLUMNS)
    return [
        (row[0], reader.priced(reader.line(row[1:width]), row[width:end], row[end])) for row in rows
    ]


@dataclass(frozen=True)
class SettlementSummary:
    """A settlement without its lines: what reconciliation lists and totals."""

    id: str
    encounter_id: str
    psn_no: str
    institution_code: str
    slip_no: str
    settled_at: datetime
    discharged_on: date
    month: str  # the month the settlement belongs to (its settlement time's, local)
    breakdown: Breakdown
    status: SettlementStatus
    operator: str
    revoked_at: datetime | None


class SettlementRepository:
    def __init__(self, session: Session):
        self._session = session

    def add(self, settlement: Settlement, *, zone: tzinfo, lines_of: str | None = None) -> None:
        """Save a settlement and its line snapshots.

        ``lines_of``: the encounter whose fee lines, with the prices stored on them, are
        exactly ``settlement.bill`` (the service read the bill from them and stored what it
        re-priced, in this transaction); the snapshot is then copied inside the database,
        one statement for 10,000 lines, instead of sent back line by line.

        ``month`` is stored as :meth:`Settlement.month_in` ``zone`` (the institution's): the
        month of the settlement time, local, which the monthly lists and device funds group by.

        Raises ``DomainError(SETTLEMENT_DUPLICATE)`` when the encounter already has an active
        (settled, not revoked) settlement — the database's partial unique index decides, so
        of two clerks settling at once exactly one succeeds — and
        ``DomainError(SLIP_NO_DUPLICATE)`` for a reused slip number.
        """
        bill = settlement.bill
        values = {
            "id": settlement.id,
            "encounter_id": settlement.encounter.id,
            "slip_no": settlement.slip_no,
            "settled_at": settlement.settled_at,
            "discharged_on": bill.discharged_on,
            "month": settlement.month_in(zone),
            **{name: getattr(bill.breakdown, name) for name in _TOTALS},
            "crosses_year": bill.crosses_year,
            "notes": list(bill.notes),
            "operator": settlement.operator,
            "status": settlement.status.value,
            "revoked_at": settlement.revoked_at,
            "revoke_reason": settlement.revoke_reason,
        }
        try:
            with self._session.begin_nested():
                self._session.execute(_settlement.insert().values(values))
        except IntegrityError as exc:
            if violates(exc, "uq_settlement_active_encounter", "settlement.encounter_id"):
                raise errors.settlement_duplicate(settlement.encounter.id) from exc
            if violates(exc, "uq_settlement_slip_no", "settlement.slip_no"):
                raise errors.slip_no_duplicate(settlement.slip_no) from exc
            raise
        if lines_of is not None:
            self._copy_lines(settlement, lines_of)
            return
        if bill.lines:
            self._session.execute(
                _line.insert(),
                [
                    {**_priced_values(line), "settlement_id": settlement.id, "position": n}
                    for n, line in enumerate(bill.lines)
                ],
            )
        if bill.excluded:
            self._session.execute(
                _excluded.insert(),
                [
                    {**fee_line_values(line), "settlement_id": settlement.id, "position": n}
                    for n, line in enumerate(bill.excluded)
                ],
            )

    def _copy_lines(self, settlement: Settlement, encounter_id: str) -> None:
        line = _fee_line.c
        # The snapshot keeps the code pricing saw as the line's item (billing's effective_line).
        fee_columns = [priced_code(line) if name == "item_code" else line[name] for name in _FEE]
        for target, excluded, names, expected in (
            (_line, False, _FEE + _PRICE, settlement.bill.line_count),
            (_excluded, True, _FEE, len(settlement.bill.excluded)),
        ):
            chosen = line.excluded if excluded else ~line.excluded
            # Positions are numbered over the ids alone, then joined to their rows: a window
            # over whole rows sorts every column of 10,000 lines (twice the copy's time).
            positions = (
                select(
                    line.id.label("line"), (func.row_number().over(order_by=line.id) - 1).label("n")
                )
                .where(line.encounter_id == encounter_id, chosen)
                .subquery()
            )
            # A fee line has no device limit (devices settle at the counter): NULL for it.
            columns = fee_columns + [line[n] if n in line else null() for n in names[len(_FEE) :]]
            rows = select(literal(settlement.id), positions.c.n, *columns).join_from(
                positions, _fee_line, _fee_line.c.id == positions.c.line
            )
            self._session.execute(
                target.insert().from_select(["settlement_id", "position", *names], rows)
            )
            # The bill the clerk is shown and the snapshot kept must be the same lines.
            copied = self._session.execute(
                select(func.count()).where(target.c.settlement_id == settlement.id)
            ).scalar_one()
            if copied != expected:
                raise RuntimeError(
                    f"settlement {settlement.id}: {copied} lines copied, {expected} priced"
                )

    def get(self, settlement_id: str) -> Settlement:
        """The settlement with its bill rebuilt from the snapshot, or :class:`NotFound`."""
        found = self._load(_settlement.c.id == settlement_id)
        if not found:
            raise NotFound(f"结算{settlement_id}不存在", code="SETTLEMENT_NOT_FOUND")
        return found[0]

    def line_page(
        self, settlement_id: str, *, after: int | None, limit: int
    ) -> tuple[int, list[tuple[int, PricedLine]]]:
        """``limit`` priced lines of the snapshot after position ``after`` (from the first
        when None), each with its position, and how many priced lines the settlement has;
        :class:`NotFound` if there is no such settlement. Keyset paging on the snapshot's
        (settlement, position) key: a page costs its own lines, wherever it starts."""
        self._exists(settlement_id)
        total = self._session.execute(
            select(func.count()).where(_line.c.settlement_id == settlement_id)
        ).scalar_one()
        query = _SNAPSHOT.where(_line.c.settlement_id == settlement_id)
        if after is not None:
            query = query.where(_line.c.position > after)
        return int(total), _snapshot_lines(self._session.execute(query.limit(limit)))

    def priced_lines(self, settlement_id: str) -> list[PricedLine]:
        """Every priced line of the settlement's snapshot, in line order, or
        :class:`NotFound`."""
        self._exists(settlement_id)
        rows = self._session.execute(_SNAPSHOT.where(_line.c.settlement_id == settlement_id))
        return [line for _, line in _snapshot_lines(rows)]

    def _exists(self, settlement_id: str) -> None:
        found = self._session.execute(
            select(_settlement.c.id).where(_settlement.c.id == settlement_id)
        ).first()
        if found is None:
            raise NotFound(f"结算{settlement_id}不存在", code="SETTLEMENT_NOT_FOUND")

    def find_active(self, encounter_id: str) -> Settlement | None:
        """The encounter's settled (not revoked) settlement, if any."""
        found = self._load(
            (_settlement.c.encounter_id == encounter_id)
            & (_settlement.c.status == SettlementStatus.SETTLED.value)
        )
        return found[0] if found else None

    def list_for_encounter(self, encounter_id: str) -> list[Settlement]:
        return self._load(_settlement.c.encounter_id == encounter_id)

    def list_by_month(self, month: str, *, institution_code: str | None = None) -> list[Settlement]:
        """Every settlement (settled or revoked) made in ``month`` (``YYYY-MM``; the stored
        month of its settlement time, local), in settlement order, with full bills."""
        condition = _settlement.c.month == month
        if institution_code is not None:
            condition = condition & (_encounter.c.institution_code == institution_code)
        return self._load(condition)

    def summaries_by_month(
        self, month: str, *, institution_code: str | None = None
    ) -> list[SettlementSummary]:
        """Like :meth:`list_by_month` without the lines: cheap enough for a whole month."""
        query = self._joined().where(_settlement.c.month == month)
        if institution_code is not None:
            query = query.where(_encounter.c.institution_code == institution_code)
        return [
            SettlementSummary(
                id=row.id,
                encounter_id=row.encounter_id,
                psn_no=row.psn_no,
                institution_code=row.institution_code,
                slip_no=row.slip_no,
                settled_at=row.settled_at,
                discharged_on=row.discharged_on,
                month=row.month,
                breakdown=Breakdown(**{name: getattr(row, name) for name in _TOTALS}),
                status=SettlementStatus(row.status),
                operator=row.operator,
                revoked_at=row.revoked_at,
            )
            for row in self._session.execute(query)
        ]

    def revoke(self, settlement_id: str, *, at: datetime, reason: str) -> Settlement:
        """Mark an active settlement revoked; raises ``DomainError(SETTLEMENT_NOT_ACTIVE)``
        if it is not settled (already revoked), :class:`NotFound` if unknown."""
        result = self._session.execute(
            update(_settlement)
            .where(
                _settlement.c.id == settlement_id,
                _settlement.c.status == SettlementStatus.SETTLED.value,
            )
            .values(status=SettlementStatus.REVOKED.value, revoked_at=at, revoke_reason=reason)
        )
        # why: an UPDATE's Result is a CursorResult at run time, which has rowcount
        if result.rowcount == 0:  # type: ignore[attr-defined]
            self.get(settlement_id)
            raise errors.settlement_not_active(settlement_id)
        return self.get(settlement_id)

    def _joined(self) -> Select[Any]:
        encounter_columns = [
            column.label(f"e_{column.name}") if column.name in _settlement.c else column
            for column in _encounter.c
        ]
        return (
            select(_settlement, *encounter_columns)
            .join(_encounter, _encounter.c.id == _settlement.c.encounter_id)
            .order_by(_settlement.c.settled_at, _settlement.c.id)
        )

    def _load(self, condition: ColumnElement[bool]) -> list[Settlement]:
        rows = list(self._session.execute(self._joined().where(condition)))
        if not rows:
            return []
        ids = [row.id for row in rows]
        reader = PricedRows()  # the rules and items the settlements share, built once
        lines = {
            settlement: _snapshot_lines(children, reader)
            for settlement, children in _children(self._session, _line, ids, _SNAPSHOT).items()
        }
        excluded = _children(self._session, _excluded, ids, select(_excluded))
        return [
            _settlement_of(row, lines.get(row.id, []), excluded.get(row.id, [])) for row in rows
        ]


def _children(
    session: Session, target: Table, ids: Sequence[str], columns: Select[Any]
) -> dict[str, list[Row[Any]]]:
    """``columns`` of ``target``'s rows of the settlements ``ids``, by settlement, in position
    order."""
    grouped: dict[str, list[Row[Any]]] = defaultdict(list)
    key = target.c.settlement_id
    # Chunked: SQLite limits bound parameters per statement.
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        query = columns.add_columns(key).where(key.in_(chunk)).order_by(None)
        for row in session.execute(query.order_by(key, target.c.position)):
            grouped[row[-1]].append(row)
    return grouped


class _EncounterView:
    """The joined row seen with the encounter's own column names (``e_id`` → ``id``…)."""

    def __init__(self, row: Row[Any]):
        self._row = row

    def __getattr__(self, name: str) -> object:
        prefixed = f"e_{name}"
        mapping = self._row._mapping
        return mapping[prefixed] if prefixed in mapping else mapping[name]


def _settlement_of(
    row: Row[Any], lines: list[tuple[int, PricedLine]], excluded: list[Row[Any]]
) -> Settlement:
    # why: the view reads like the encounter's own Row (same column names), it is not one
    encounter: Encounter = encounter_of(_EncounterView(row))  # type: ignore[arg-type]
    bill = Bill(
        lines=tuple(line for _, line in lines),
        excluded=tuple(fee_line_of(line) for line in excluded),
        breakdown=Breakdown(**{name: getattr(row, name) for name in _TOTALS}),
        discharged_on=row.discharged_on,
        crosses_year=row.crosses_year,
        notes=tuple(row.notes),
    )
    return Settlement(
        id=row.id,
        encounter=encounter,
        slip_no=row.slip_no,
        settled_at=row.settled_at,
        bill=bill,
        operator=row.operator,
        status=SettlementStatus(row.status),
        revoked_at=row.revoked_at,
        revoke_reason=row.revoke_reason,
    )


class SlipSequence:
    """Slip numbers: institution code + date + a per-day sequence (N附件10)."""

    def __init__(self, session: Session):
        self._session = session

    def next(self, institution_code: str, day: date) -> int:
        """The next sequence number for ``day``, starting at 1.

        One ``INSERT … ON CONFLICT DO UPDATE SET last = last + 1 RETURNING last``: atomic on
        both backends (a row lock on PostgreSQL, the write lock on SQLite), so concurrent
        settlements never draw the same number. The number is used only if the caller
        commits; a rolled-back settlement leaves no gap-filling duty.
        """
        statement = upsert(self._session, _sequence).values(
            institution_code=institution_code, day=day, last=1
        )
        statement = statement.on_conflict_do_update(
            index_elements=["institution_code", "day"],
            set_={"last": _sequence.c.last + 1},
        ).returning(_sequence.c.last)
        return int(self._session.execute(statement).scalar_one())

    def next_slip_no(self, institution_code: str, day: date) -> str:
        return make_slip_no(institution_code, day, self.next(institution_code, day))
