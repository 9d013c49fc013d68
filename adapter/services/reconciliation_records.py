"""Reconciliation runs as rows and back: what :mod:`.reconciliation` keeps per month.

A run row holds both sides' totals and the local lines compared (JSON); its differences
are rows of ``reconciliation_difference`` in order. A ``failed`` run has no result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from adapter.domain.reconciliation import (
    Amounts,
    Difference,
    DifferenceKind,
    ReconciliationResult,
    Totals,
)


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
