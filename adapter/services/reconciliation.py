"""Monthly reconciliation (对账) as a use case: run it, keep it, show it (N§35, B§33).

:meth:`Reconciliations.run`, in order:

1. the month's local settlements of this institution — those *settled* in the month, local
   time, as upstream counts them (:func:`~adapter.domain.reconciliation.settlement_period`,
   N§35); a stay discharged on the 31st and settled on the 1st is the next month's — with
   each one's upload (``WI2301``/``WI2701``) and whether upstream has acknowledged it;
2. upstream's figures for the month (``WI3201``), read outside any transaction;
3. the comparison (:func:`adapter.domain.reconciliation.reconcile`): totals first, then
   settlement by settlement;
4. in one transaction: the run, its differences and an audit entry.

A month still showing differences (or a failed run) once its half-yearly clearing cutoff
has come (N§43, B§42) is *unresolved at clearing*: :meth:`Reconciliations.unresolved_at_clearing`
lists such months for the reconciliation page. Whether an upload was delivered is the upload
queue's delivery ledger's answer (``Outbox.delivered``), so a settlement whose job was purged
after delivery still counts as delivered when its month is reconciled again.

If upstream cannot be read, a ``failed`` run is kept with the reason (so IT sees it in the
month's history) and the :class:`~adapter.domain.errors.UpstreamError` is raised again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from adapter.domain.clearing import ClearingCalendar, Cutoff
from adapter.domain.errors import InvalidMessage, NotFound, UpstreamError
from adapter.domain.reconciliation import (
    Amounts,
    LocalSettlement,
    ReconciliationResult,
    Totals,
    parse_month,
    reconcile,
    settlement_period,
)
from adapter.domain.settlement import SettlementStatus, settlement_day
from adapter.domain.upstream import Infno
from adapter.services.context import ServiceContext
from adapter.services.monthly_clearing import UploadTracker
from adapter.store.repositories import ReconciliationReport, RunInfo
from adapter.store.uow import UnitOfWork

__all__ = [
    "ReconciliationReport",
    "Reconciliations",
    "RunInfo",
    "UnresolvedMonth",
    "local_settlements",
    "require_month",
]
_UPLOADS = (Infno.DISCHARGE.value, Infno.DEVICE_SETTLEMENT.value)


def require_month(month: str, today: date) -> str:
    """A month that has begun; ``InvalidMessage`` naming ``month`` otherwise."""
    try:
        parse_month(month)
    except ValueError as exc:
        raise InvalidMessage(str(exc), field="month", code="MONTH_INVALID") from exc
    if month > f"{today:%Y-%m}":
        raise InvalidMessage(f"{month}尚未开始，不能对账", field="month", code="MONTH_IN_FUTURE")
    return month


def _delivery_state(ctx: ServiceContext, session: Any) -> Callable[[str], bool]:
    """Whether an upload was delivered, for a month's many uploads at once.

    The upload queue's jobs not yet delivered (queued, in flight, dead) are read once where
    the outbox can list them: every other upload a use case queued was delivered — its job
    is marked so, or was purged after its delivery was written to the ledger (only delivered
    jobs are purged), so this is the ledger's answer without asking it 50,000 times. An
    outbox that cannot list them is asked one upload at a time."""
    outbox = ctx.outbox
    if not isinstance(outbox, UploadTracker):
        return lambda msgid: bool(outbox.delivered(session, msgid))
    unfinished = outbox.unfinished(session, _UPLOADS).keys()
    return lambda msgid: msgid not in unfinished


def local_settlements(
    ctx: ServiceContext, uow: UnitOfWork, month: str
) -> Iterator[LocalSettlement]:
    """This institution's settlements made in ``month`` (settled and revoked), with upload
    state, in settlement-time order, streamed from the database (a month may hold 50,000).
    Selected by settlement time over the month's local period (indexed): the same rule as
    the stored ``month`` column (:func:`adapter.domain.settlement.settlement_month`)."""
    start, end = settlement_period(month, ctx.zone)
    delivered = _delivery_state(ctx, uow.session)
    rows = uow.reconciliations.settlements(start, end, ctx.institution.code)
    revoked, zone = SettlementStatus.REVOKED.value, ctx.zone
    for (
        id_,
        at,
        slip_no,
        status,
        total,
        fund_pay,
        personal_pay,
        crosses,
        psn_no,
        kind,
        msgid,
    ) in rows:
        yield LocalSettlement(
            setl_id=id_,
            psn_no=psn_no,
            kind=kind,
            settles_on=settlement_day(at, zone),
            amounts=Amounts(total, fund_pay, personal_pay),
            revoked=status == revoked,
            slip_no=slip_no,
            crosses_year=bool(crosses),
            upload_msgid=msgid or "",
            upload_delivered=delivered(msgid) if msgid else None,
        )


def _line(s: LocalSettlement) -> dict[str, Any]:
    return {
        "setl_id": s.setl_id,
        "slip_no": s.slip_no,
        "psn_no": s.psn_no,
        "kind": s.kind,
        "settles_on": s.settles_on.isoformat(),
        "total": str(s.amounts.total),
        "fund_pay": str(s.amounts.fund_pay),
        "personal_pay": str(s.amounts.personal_pay),
        "status": "revoked" if s.revoked else "settled",
        "crosses_year": s.crosses_year,
        "upload_msgid": s.upload_msgid,
        "upload_delivered": s.upload_delivered,
    }


@dataclass(frozen=True)
class UnresolvedMonth:
    """A month whose latest reconciliation still differs (or failed) at its half-yearly
    clearing cutoff (N§43, B§42)."""

    month: str
    cutoff: Cutoff
    outcome: str
    differences: int
    message: str


class Reconciliations:
    def __init__(self, ctx: ServiceContext, calendar: ClearingCalendar | None = None):
        self._ctx = ctx
        self.calendar = calendar or ClearingCalendar()

    def unresolved_at_clearing(self, today: date | None = None) -> list[UnresolvedMonth]:
        """Months whose latest run is not ``balanced`` and whose half-yearly cutoff is today
        or past, oldest first (the reconciliation page flags them)."""
        ctx = self._ctx
        today = today or ctx.local_date(ctx.now())
        with ctx.uow() as uow:
            runs = uow.reconciliations.latest_not_balanced()
        found = []
        for run, differences in runs:
            cutoff = self.calendar.month_cutoffs(run.month)[1]
            if cutoff.on <= today:
                found.append(
                    UnresolvedMonth(run.month, cutoff, run.outcome, differences, run.message)
                )
        return found

    def run(self, month: str, *, actor: str) -> ReconciliationReport:
        """Reconcile ``month`` now and keep the result (see the module docstring)."""
        ctx = self._ctx
        started = ctx.now()
        require_month(month, ctx.local_date(started))
        try:
            figures = ctx.gateway.reconciliation(month, context=f"reconciliation:{month}")
        except UpstreamError as exc:
            with ctx.uow() as uow:
                failed = tuple(_line(s) for s in local_settlements(ctx, uow, month))
            empty = Totals.of(())
            self._keep(month, started, actor, None, failed, "failed", exc.message, empty)
            raise
        kept: list[dict[str, Any]] = []

        def each(settlements: Iterable[LocalSettlement]) -> Iterator[LocalSettlement]:
            for settlement in settlements:  # the line kept, the settlement compared and let go
                kept.append(_line(settlement))
                yield settlement

        with ctx.uow() as uow:
            result = reconcile(month, each(local_settlements(ctx, uow, month)), figures)
        lines = tuple(kept)
        outcome = "balanced" if result.balanced else "differences"
        message = (
            "本月本地结算与上级系统一致"
            if result.balanced
            else f"发现{len(result.differences)}处差异"
            + ("，总额不一致" if not result.totals_match else "，总额一致")
        )
        return self._keep(month, started, actor, result, lines, outcome, message, result.local)

    def _keep(
        self,
        month: str,
        started: datetime,
        actor: str,
        result: ReconciliationResult | None,
        lines: tuple[dict[str, Any], ...],
        outcome: str,
        message: str,
        local: Totals,
    ) -> ReconciliationReport:
        ctx = self._ctx
        upstream = result.upstream if result else Totals.of(())
        differences = result.differences if result else ()
        finished = ctx.now()
        with ctx.uow() as uow:
            run_id = uow.reconciliations.add(
                month=month,
                started_at=started,
                finished_at=finished,
                actor=actor,
                outcome=outcome,
                message=message,
                totals_match=bool(result and result.totals_match),
                local=local,
                upstream=upstream,
                differences=differences,
                lines=lines,
            )
            uow.audit.append(
                actor=actor,
                action="reconciliation.run",
                subject_type="month",
                subject_id=month,
                details={
                    "run_id": run_id,
                    "outcome": outcome,
                    "differences": len(differences),
                    "local_total": str(local.amounts.total),
                    "upstream_total": str(upstream.amounts.total),
                    "message": message,
                },
            )
            uow.commit()
        run = RunInfo(run_id, month, started, finished, actor, outcome, message)
        return ReconciliationReport(run, result, lines)

    def latest(self, month: str) -> ReconciliationReport:
        """The month's latest kept run; :class:`NotFound` if it was never reconciled."""
        ctx = self._ctx
        require_month(month, ctx.local_date(ctx.now()))
        with ctx.uow() as uow:
            report = uow.reconciliations.latest(month)
        if report is None:
            raise NotFound(
                f"{month}尚未对账，可立即执行对账（POST …/reconciliation/{month}/run）",
                code="RECONCILIATION_NOT_RUN",
            )
        return report

    def history(self, month: str) -> list[RunInfo]:
        """Every run of ``month``, newest first."""
        with self._ctx.uow() as uow:
            return uow.reconciliations.runs(month)
