"""Monthly reconciliation (对账) as a use case: run it, keep it, show it (N§35, B§33).

:meth:`Reconciliations.run`, in order:

1. upstream's figures for the month (``WI3201``), read outside any transaction, and checked
   to be the month's, this institution's, and to add up
   (:func:`~adapter.domain.reconciliation_reply.check_reply`); a reply that is not is kept
   as a failed run, like one upstream could not give;
2. in one transaction (``BEGIN IMMEDIATE`` on SQLite: other writers wait for the run, about
   a second for a month of 50,000 on a quiet machine):

   a. the run is recorded and the month's local settlements of this institution become its
      lines — those *settled* in the month, local time, as upstream counts them
      (:func:`~adapter.domain.reconciliation.settlement_period`, N§35; a stay discharged on
      the 31st and settled on the 1st is the next month's) — each with its upload
      (``WI2301``/``WI2701``) and whether upstream has acknowledged it, copied by the
      database in one statement;
   b. the lines are read back once and compared (:class:`adapter.domain.reconciliation_sieve.Sieve`,
      as :func:`~adapter.domain.reconciliation_sieve.reconcile` does): totals first, then
      settlement by settlement — the lines matching upstream's plain figures set aside by
      comparing amounts in fen, the others judged — what is kept is exactly what was
      compared; a settlement upstream lists that the month lacks is looked up among all
      of ours: if it is ours, of another month, the difference says which, and whether
      it is revoked here (:func:`~adapter.domain.reconciliation.placed`); one revoked here
      that upstream lists in effect is told by where its revocation's upload (WI2305)
      stands (:func:`revocations_told`);
   c. the run's outcome, totals and differences, and an audit entry.

The month's latest run (:meth:`Reconciliations.latest`) tells those revocations again as
they stand when it is read: the kept action says where the upload stood at the run, the
answer where it stands now (delivered since, it says to reconcile again).

A month still showing differences (or a failed run, or a balanced run overtaken by a
settlement of the month revoked or made since: ``outdated``) once its half-yearly clearing
cutoff has come (N§40, N§43) is *unresolved at clearing*:
:meth:`Reconciliations.unresolved_at_clearing` lists such months for the reconciliation page.
Whether an upload was delivered is the upload queue's delivery ledger's answer
(``Outbox.delivered``), so a settlement whose job was purged after delivery still counts as
delivered when its month is reconciled again.

If upstream cannot be read (or its reply is refused), a ``failed`` run is kept with the
reason (so IT sees it in the month's history) and the
:class:`~adapter.domain.errors.UpstreamError` is raised again.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, tzinfo

from adapter.domain.clearing import ClearingCalendar, Cutoff
from adapter.domain.errors import InvalidMessage, NotFound, UpstreamError
from adapter.domain.months import parse_month, settlement_period
from adapter.domain.reconciliation import (
    DifferenceKind,
    ReconciliationResult,
    Totals,
    placed,
    with_revocations,
)
from adapter.domain.reconciliation_reply import check_reply
from adapter.domain.reconciliation_revocations import RevocationUpload
from adapter.domain.reconciliation_sieve import Sieve
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
    "keep_lines",
    "require_month",
    "revocations_told",
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


def _day_bounds(month: str, zone: tzinfo) -> tuple[list[datetime], list[date]]:
    """The instants each local day of ``month`` begins, then the month's end; and the days.
    A settlement's day (``settlement_day``: the local day of its settlement time) is found
    among these bounds by the database, not per settlement here."""
    start, end = settlement_period(month, zone)
    days = [start.date() + timedelta(days=n) for n in range((end.date() - start.date()).days)]
    bounds = [datetime.combine(day, time.min, tzinfo=zone) for day in days]
    return [*bounds, end], days


def _undelivered(
    ctx: ServiceContext, uow: UnitOfWork, bounds: Sequence[datetime]
) -> Collection[str]:
    """The uploads not yet delivered, of those that may carry the month's settlements.

    The upload queue's jobs not yet delivered (queued, in flight, dead) are read once where
    the outbox can list them: every other upload a use case queued was delivered — its job
    is marked so, or was purged after its delivery was written to the ledger (only delivered
    jobs are purged), so this is the ledger's answer without asking it 50,000 times. An
    outbox that cannot list them is asked about each of the month's uploads."""
    outbox, session = ctx.outbox, uow.session
    if isinstance(outbox, UploadTracker):
        return outbox.unfinished(session, _UPLOADS).keys()
    msgids = uow.reconciliations.upload_msgids(bounds, ctx.institution.code)
    return [msgid for msgid in msgids if not outbox.delivered(session, msgid)]


def keep_lines(ctx: ServiceContext, uow: UnitOfWork, month: str, run_id: int) -> None:
    """Make this institution's settlements made in ``month`` (settled and revoked) the run's
    lines, with upload state, in settlement-time order. Selected by settlement time over the
    month's local period (indexed): the same rule as the stored ``month`` column
    (:func:`adapter.domain.settlement.settlement_month`). Read them back with
    ``uow.reconciliations.sift(run_id, sieve)`` in the same unit of work."""
    bounds, days = _day_bounds(month, ctx.zone)
    undelivered = _undelivered(ctx, uow, bounds)
    uow.reconciliations.copy_lines(run_id, bounds, days, ctx.institution.code, undelivered)


def revocations_told(
    ctx: ServiceContext, uow: UnitOfWork, result: ReconciliationResult, compared_at: datetime
) -> ReconciliationResult:
    """``result`` with each settlement revoked here that upstream lists in effect told by its
    revocation's upload as it stands now (:func:`~adapter.domain.reconciliation.with_revocations`):
    the uploads of all of them read in one look, and the queue asked once."""
    told = (DifferenceKind.REVOKED_HERE_ONLY, DifferenceKind.OTHER_MONTH_HERE)
    ids = {d.setl_id for d in result.differences if d.kind in told}
    if not ids:
        return result
    queued = uow.uploads.revocations_of(ids)
    progress = ctx.outbox.progress(uow.session, [u.msgid for u in queued.values() if u])
    uploads = {
        setl_id: RevocationUpload.of(u.msgid, u.job_id, progress.get(u.msgid), ctx.zone)
        if u is not None
        else RevocationUpload.of("", None, None, ctx.zone)
        for setl_id, u in queued.items()
    }
    return with_revocations(result, uploads, compared_at)


@dataclass(frozen=True)
class UnresolvedMonth:
    """A month whose latest reconciliation still differs (or failed) at its half-yearly
    clearing cutoff (N§40, N§43)."""

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
        """Months whose latest run is not ``balanced``, or balanced but overtaken by the
        month's settlements (outcome ``outdated``), and whose half-yearly cutoff is today or
        past, oldest first (the reconciliation page flags them)."""
        ctx = self._ctx
        today = today or ctx.local_date(ctx.now())
        found = []
        with ctx.uow() as uow:
            for run, differences in uow.reconciliations.latest_runs():
                cutoff = self.calendar.month_cutoffs(run.month)[1]
                if cutoff.on > today:
                    continue
                outcome, message = run.outcome, run.message
                if outcome == "balanced":
                    changed = uow.reconciliations.changed_since(run, ctx.institution.code)
                    if not changed:
                        continue
                    outcome = "outdated"
                    message = (
                        f"对账后本月有{len(changed)}笔结算新结算或被撤销（{'、'.join(changed)}），"
                        "请重新对账"
                    )
                found.append(UnresolvedMonth(run.month, cutoff, outcome, differences, message))
        return found

    def run(self, month: str, *, actor: str) -> ReconciliationReport:
        """Reconcile ``month`` now and keep the result (see the module docstring)."""
        ctx = self._ctx
        started = ctx.now()
        require_month(month, ctx.local_date(started))
        try:
            figures = ctx.gateway.reconciliation(month, context=f"reconciliation:{month}")
            # another month's or institution's reply, or one that does not add up, is not
            # compared with ours: the clerk is told what differs (N§35, B§33)
            check_reply(figures, month, ctx.institution.code)
        except UpstreamError as exc:
            self._keep_failed(month, started, actor, exc.message)
            raise
        sieve = Sieve(figures)  # upstream's side, indexed before the transaction
        # one transaction (holding SQLite's write lock from the start): the lines kept are
        # the month as it was compared
        with ctx.uow(immediate=True) as uow:
            runs = uow.reconciliations
            run_id = runs.add(
                month=month,
                started_at=started,
                finished_at=started,
                actor=actor,
                outcome="running",
                message="",
            )
            keep_lines(ctx, uow, month, run_id)
            sifted = runs.sift(run_id, sieve)
            result = sieve.judge(month, sifted.local, sifted.others, sifted.matched)
            lacking = [
                d.setl_id for d in result.differences if d.kind is DifferenceKind.MISSING_HERE
            ]
            if lacking:  # ours, of another month? (upstream dated it otherwise, N§35)
                result = placed(
                    result, runs.settlements_of(lacking, ctx.institution.code, ctx.zone)
                )
            result = revocations_told(ctx, uow, result, started)
            outcome = "balanced" if result.balanced else "differences"
            message = (
                "本月本地结算与上级系统一致"
                if result.balanced
                else f"发现{len(result.differences)}处差异"
                + ("，总额不一致" if not result.totals_match else "，总额一致")
            )
            finished = ctx.now()
            runs.finish(
                run_id,
                finished_at=finished,
                outcome=outcome,
                message=message,
                totals_match=result.totals_match,
                local=result.local,
                upstream=result.upstream,
                differences=result.differences,
            )
            self._audit(
                uow,
                actor,
                month,
                run_id,
                outcome,
                message,
                result.local,
                result.upstream,
                len(result.differences),
            )
            uow.commit()
        run = RunInfo(run_id, month, started, finished, actor, outcome, message)
        return ReconciliationReport(run, result, sifted.lines)

    def _keep_failed(self, month: str, started: datetime, actor: str, message: str) -> None:
        """A run upstream could not answer: kept with the month's lines and the reason."""
        ctx = self._ctx
        empty = Totals.of(())
        with ctx.uow(immediate=True) as uow:
            run_id = uow.reconciliations.add(
                month=month,
                started_at=started,
                finished_at=ctx.now(),
                actor=actor,
                outcome="failed",
                message=message,
                local=empty,
                upstream=empty,
            )
            keep_lines(ctx, uow, month, run_id)
            self._audit(uow, actor, month, run_id, "failed", message, empty, empty, 0)
            uow.commit()

    @staticmethod
    def _audit(
        uow: UnitOfWork,
        actor: str,
        month: str,
        run_id: int,
        outcome: str,
        message: str,
        local: Totals,
        upstream: Totals,
        differences: int,
    ) -> None:
        uow.audit.append(
            actor=actor,
            action="reconciliation.run",
            subject_type="month",
            subject_id=month,
            details={
                "run_id": run_id,
                "outcome": outcome,
                "differences": differences,
                "local_total": str(local.amounts.total),
                "upstream_total": str(upstream.amounts.total),
                "message": message,
            },
        )

    def latest(self, month: str) -> ReconciliationReport:
        """The month's latest kept run; :class:`NotFound` if it was never reconciled. With
        the month's settlements settled or revoked since, unless compared so: a revocation
        after a balanced run (its WI2305 perhaps undelivered) must not be hidden by it."""
        ctx = self._ctx
        require_month(month, ctx.local_date(ctx.now()))
        with ctx.uow() as uow:
            report = uow.reconciliations.latest(month)
            if report is not None and report.result is not None:
                changed = uow.reconciliations.changed_since(report.run, ctx.institution.code)
                told = revocations_told(ctx, uow, report.result, report.run.started_at)
                report = replace(report, result=told, changed_since_run=tuple(changed))
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
