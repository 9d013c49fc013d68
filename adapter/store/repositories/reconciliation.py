"""Monthly reconciliation's records (:mod:`adapter.store.tables.monthly`): the month's local
settlements read for it, and the runs kept per month.

A run row holds both sides' totals; the local settlements it compared are rows of
``reconciliation_line`` and its differences rows of ``reconciliation_difference``, each in
order. A ``failed`` run has no result.

A month may hold 50,000 settlements: a run's lines are copied, read back and compared by
:mod:`adapter.store.repositories.reconciliation_lines`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from adapter.domain.reconciliation import (
    Difference,
    DifferenceKind,
    ReconciliationResult,
    Totals,
)
from adapter.domain.reconciliation_lines import Amounts, Lines, LocalSettlement
from adapter.domain.reconciliation_sieve import Sieve
from adapter.store.repositories import reconciliation_lines as line_store
from adapter.store.repositories.reconciliation_lines import Sifted
from adapter.store.tables.monthly import reconciliation_difference, reconciliation_run


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
    # the month's settlements settled or revoked after the run, not as it compared them:
    # the result no longer stands for the month (see ``Reconciliations.latest``)
    changed_since_run: tuple[str, ...] = ()


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
        """The month's settlements become the run's lines (see
        :func:`.reconciliation_lines.copy_lines`)."""
        line_store.copy_lines(self._session, run_id, bounds, days, institution_code, undelivered)

    def upload_msgids(self, bounds: Sequence[datetime], institution_code: str) -> list[str]:
        """The month's settlements' latest uploads (:func:`.reconciliation_lines.upload_msgids`)."""
        return line_store.upload_msgids(self._session, bounds, institution_code)

    def settlements_of(
        self, setl_ids: Collection[str], institution_code: str, zone: tzinfo
    ) -> dict[str, LocalSettlement]:
        """Of ``setl_ids``, the institution's settlements of any month
        (:func:`.reconciliation_lines.settlements_of`)."""
        return line_store.settlements_of(self._session, setl_ids, institution_code, zone)

    def sift(self, run_id: int, sieve: Sieve) -> Sifted:
        """A run's lines read once against ``sieve`` (:func:`.reconciliation_lines.sift`)."""
        return line_store.sift(self._session, run_id, sieve)

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
        return report_of(row, rows, line_store.read_lines(self._session, row.id))

    def changed_since(self, run: RunInfo, institution_code: str) -> list[str]:
        """The month's settlements changed since ``run`` (see
        :func:`.reconciliation_lines.changed_since`)."""
        return line_store.changed_since(
            self._session, run.id, run.month, run.started_at, institution_code
        )

    def runs(self, month: str) -> list[RunInfo]:
        """Every run of ``month``, newest first."""
        rows = self._session.execute(
            select(reconciliation_run)
            .where(reconciliation_run.c.month == month)
            .order_by(reconciliation_run.c.id.desc())
        ).all()
        return [run_info(row) for row in rows]

    def latest_runs(self) -> list[tuple[RunInfo, int]]:
        """Each month's latest run, with how many differences it found; oldest month first."""
        latest = select(func.max(reconciliation_run.c.id)).group_by(reconciliation_run.c.month)
        rows = self._session.execute(
            select(reconciliation_run)
            .where(reconciliation_run.c.id.in_(latest))
            .order_by(reconciliation_run.c.month)
        ).all()
        return [(run_info(row), int(row.difference_count)) for row in rows]
