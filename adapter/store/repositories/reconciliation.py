"""Monthly reconciliation's records (:mod:`adapter.store.tables.monthly`): the month's local
settlements read for it, and the runs kept per month.

A run row holds both sides' totals and the local lines compared (JSON); its differences
are rows of ``reconciliation_difference`` in order. A ``failed`` run has no result.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from adapter.domain.reconciliation import (
    Amounts,
    Difference,
    DifferenceKind,
    ReconciliationResult,
    Totals,
)
from adapter.domain.upstream import Infno
from adapter.store.sql import table
from adapter.store.tables import EncounterRow, SettlementRow
from adapter.store.tables.monthly import reconciliation_difference, reconciliation_run
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


class MonthSettlement(NamedTuple):
    """One local settlement as a month's reconciliation reads it (a tuple: a month holds
    tens of thousands, made one by one as they stream)."""

    id: str
    settled_at: datetime
    slip_no: str
    status: str
    total: Decimal
    fund_pay: Decimal
    personal_pay: Decimal
    crosses_year: bool
    psn_no: str
    kind: str
    msgid: str | None  # the latest discharge/device upload naming it, if any


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
    lines: tuple[dict[str, Any], ...]


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


def report_of(row: Any, rows: Sequence[Any]) -> ReconciliationReport:
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
    return ReconciliationReport(run_info(row), result, tuple(row.lines))


class ReconciliationRepository:
    def __init__(self, session: Session):
        self._session = session

    def settlements(
        self, start: datetime, end: datetime, institution_code: str
    ) -> Iterator[MonthSettlement]:
        """The institution's settlements (settled and revoked) made in [start, end), with
        their latest upload, in settlement-time order: streamed (a server-side cursor,
        :data:`_STREAM` rows at a time), so a month of 50,000 is read in bounded memory.
        Consume it inside the unit of work."""
        rows = self._session.connection().execute(
            select(
                _settlement.c.id,
                _settlement.c.settled_at,
                _settlement.c.slip_no,
                _settlement.c.status,
                _settlement.c.total,
                _settlement.c.fund_pay,
                _settlement.c.personal_pay,
                _settlement.c.crosses_year,
                _encounter.c.psn_no,
                _encounter.c.kind,
                _latest_upload.label("msgid"),
            )
            .join(_encounter, _encounter.c.id == _settlement.c.encounter_id)
            .where(
                _settlement.c.settled_at >= start,
                _settlement.c.settled_at < end,
                _encounter.c.institution_code == institution_code,
            )
            .order_by(_settlement.c.settled_at, _settlement.c.id)
            .execution_options(yield_per=_STREAM)
        )
        make = MonthSettlement._make
        for row in rows:
            yield make(row)

    def add(
        self,
        *,
        month: str,
        started_at: datetime,
        finished_at: datetime,
        actor: str,
        outcome: str,
        message: str,
        totals_match: bool,
        local: Totals,
        upstream: Totals,
        differences: Sequence[Difference],
        lines: Sequence[dict[str, Any]],
    ) -> int:
        """Keep a run and its differences; returns the run's id."""
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
                lines=list(lines),
            )
            .returning(reconciliation_run.c.id)
        ).scalar_one()
        if differences:
            self._session.execute(
                reconciliation_difference.insert(),
                [difference_values(run_id, n, d) for n, d in enumerate(differences)],
            )
        return int(run_id)

    def latest(self, month: str) -> ReconciliationReport | None:
        """The month's latest run with its differences; ``None`` if it was never run."""
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
        return report_of(row, rows)

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
