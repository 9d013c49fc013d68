"""``GET /api/v1/reconciliation/{yyyy-mm}`` and ``POST …/run`` (billing, it): the month's
settlements against upstream's monthly figures (WI3201), differences listed (N§35, B§33);
``GET …/unresolved``: months still differing at their half-yearly cutoff (N§40, N§43)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Path

from adapter.api.duplicate_keys import ParsedOnce
from adapter.api.monthly.common import BillingOrIt, MonthlyDep
from adapter.api.routes.common import Money, Out
from adapter.domain.months import MONTH_PATTERN
from adapter.domain.reconciliation import Totals
from adapter.domain.reconciliation_lines import Amounts
from adapter.domain.reconciliation_revocations import RevocationUpload
from adapter.services.reconciliation import ReconciliationReport, RunInfo

router = APIRouter(prefix="/api/v1/reconciliation", tags=["reconciliation"], route_class=ParsedOnce)
MonthPath = Path(pattern=MONTH_PATTERN, examples=["2026-10"], description="YYYY-MM")


class AmountsOut(Out):
    total: Money
    fund_pay: Money
    personal_pay: Money

    @classmethod
    def of(cls, amounts: Amounts | None) -> AmountsOut | None:
        if amounts is None:
            return None
        return cls(
            total=amounts.total, fund_pay=amounts.fund_pay, personal_pay=amounts.personal_pay
        )


class MonthTotalsOut(Out):
    count: int
    total: Money
    fund_pay: Money
    personal_pay: Money

    @classmethod
    def of(cls, totals: Totals) -> MonthTotalsOut:
        a = totals.amounts
        return cls(
            count=totals.count, total=a.total, fund_pay=a.fund_pay, personal_pay=a.personal_pay
        )


class RevocationUploadOut(Out):
    """A settlement revoked here that upstream lists in effect: where its revocation's
    upload (WI2305) stands now — ``delivered`` (upstream has it: ask the agency to apply it),
    ``queued`` / ``retrying`` (on its way: wait), ``dead`` (IT re-sends the job),
    ``withdrawn`` or ``none`` (never sent, never queued: a defect to raise)."""

    state: str
    state_label: str
    msgid: str  # what it was (or is to be) sent under; "" when none was queued
    job_id: int | None
    delivered_at: datetime | None
    next_attempt_at: datetime | None  # queued or retrying: not before then
    attempts: int
    held_back_by: int | None  # queued behind this earlier upload job of the stay
    last_error: str  # dead: upstream's reason; withdrawn: why

    @classmethod
    def of(cls, upload: RevocationUpload | None) -> RevocationUploadOut | None:
        if upload is None:
            return None
        return cls(
            state=upload.state.value,
            state_label=upload.state.label,
            msgid=upload.msgid,
            job_id=upload.job_id,
            delivered_at=upload.delivered_at,
            next_attempt_at=upload.next_attempt_at,
            attempts=upload.attempts,
            held_back_by=upload.held_back_by,
            last_error=upload.last_error,
        )


class DifferenceOut(Out):
    kind: str
    kind_label: str
    setl_id: str
    psn_no: str
    settles_on: date | None
    local: AmountsOut | None
    upstream: AmountsOut | None
    delta: AmountsOut | None  # upstream minus local
    message: str
    action: str
    article: str
    # revoked here, in effect upstream (revoked_here_only, other_month_here): its WI2305
    revocation_upload: RevocationUploadOut | None = None


class ReconciliationRunOut(Out):
    id: int
    started_at: datetime
    finished_at: datetime
    actor: str
    outcome: str
    message: str

    @classmethod
    def of(cls, run: RunInfo) -> ReconciliationRunOut:
        return cls(
            id=run.id,
            started_at=run.started_at,
            finished_at=run.finished_at,
            actor=run.actor,
            outcome=run.outcome,
            message=run.message,
        )


class ReconciliationOut(Out):
    month: str
    run: ReconciliationRunOut
    balanced: bool
    totals_match: bool
    local: MonthTotalsOut | None  # net of revocations
    upstream: MonthTotalsOut | None
    differences: list[DifferenceOut]
    settlements: list[dict[str, Any]]  # the month's local settlements as compared
    # settled or revoked since the run, not as compared: reconcile again (N§35, B§33)
    changed_since_run: list[str]

    @classmethod
    def of(cls, report: ReconciliationReport) -> ReconciliationOut:
        result = report.result
        return cls(
            month=report.run.month,
            run=ReconciliationRunOut.of(report.run),
            balanced=bool(result and result.balanced),
            totals_match=bool(result and result.totals_match),
            local=MonthTotalsOut.of(result.local) if result else None,
            upstream=MonthTotalsOut.of(result.upstream) if result else None,
            differences=[
                DifferenceOut(
                    kind=d.kind.value,
                    kind_label=d.kind.label,
                    setl_id=d.setl_id,
                    psn_no=d.psn_no,
                    settles_on=d.settles_on,
                    local=AmountsOut.of(d.local),
                    upstream=AmountsOut.of(d.upstream),
                    delta=AmountsOut.of(d.delta),
                    message=d.message,
                    action=d.action,
                    article=d.article,
                    revocation_upload=RevocationUploadOut.of(d.revocation_upload),
                )
                for d in (result.differences if result else ())
            ],
            settlements=list(report.lines),
            changed_since_run=list(report.changed_since_run),
        )


class UnresolvedOut(Out):
    month: str
    half_yearly_cutoff: date
    outcome: str
    differences: int
    message: str
    article: str = "N§40, N§43"


@router.get(
    "/unresolved",
    response_model=list[UnresolvedOut],
    summary="Months whose differences are unresolved at their half-yearly clearing cutoff",
)
def unresolved(monthly: MonthlyDep, _: BillingOrIt) -> list[UnresolvedOut]:
    """Months whose latest reconciliation still differs (or failed, or no longer stands:
    ``outdated``, a settlement of the month revoked or made since) once their half-yearly
    clearing confirmation date (25 January / 25 July by default) has come (N§40, N§43)."""
    return [
        UnresolvedOut(
            month=u.month,
            half_yearly_cutoff=u.cutoff.on,
            outcome=u.outcome,
            differences=u.differences,
            message=u.message,
        )
        for u in monthly.reconciliation.unresolved_at_clearing()
    ]


@router.get(
    "/{month}", response_model=ReconciliationOut, summary="The month's latest reconciliation"
)
def latest(monthly: MonthlyDep, _: BillingOrIt, month: str = MonthPath) -> ReconciliationOut:
    return ReconciliationOut.of(monthly.reconciliation.latest(month))


@router.get(
    "/{month}/runs",
    response_model=list[ReconciliationRunOut],
    summary="Every reconciliation run of the month",
)
def runs(monthly: MonthlyDep, _: BillingOrIt, month: str = MonthPath) -> list[ReconciliationRunOut]:
    return [ReconciliationRunOut.of(run) for run in monthly.reconciliation.history(month)]


@router.post(
    "/{month}/run",
    response_model=ReconciliationOut,
    summary="Reconcile the month now against upstream's figures (WI3201)",
)
def run(monthly: MonthlyDep, principal: BillingOrIt, month: str = MonthPath) -> ReconciliationOut:
    return ReconciliationOut.of(monthly.reconciliation.run(month, actor=principal.name))
