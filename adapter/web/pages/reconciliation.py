"""The monthly page (对账) for the billing desk and IT: the month's latest reconciliation with
upstream's figures — both sides' totals, every difference with what to do — "run now" and the
month's earlier runs (N§35, B§33); the month's audit deductions with upstream's reasons and
"fetch from upstream" (N§37, B§25); and, at a device institution, the month's fund receipt
with its confirmation (B§40, device counter or billing desk).

Every change is a POST with the session's CSRF token that ends in a redirect back to the
month (a reload never runs anything again); a failure re-renders the month with the reason.

A month whose latest reconciliation still shows differences (or failed) once its half-yearly
clearing cutoff has come is flagged, on its own page and in a list on every month's page
(N§40, N§43): its settlements may miss the clearing.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from adapter.api.deps import get_monthly
from adapter.domain.errors import AdapterError, NotFound
from adapter.domain.months import MONTH_PATTERN, month_of, previous_month
from adapter.domain.people import mask_name
from adapter.services.monthly import MonthlyServices
from adapter.services.reconciliation import ReconciliationReport
from adapter.web.auth import Csrf, desk
from adapter.web.forms import FormError, amount
from adapter.web.forms import problem as problem_of
from adapter.web.pages.common import now, services
from adapter.web.render import page
from adapter.web.sessions import WebSession

router = APIRouter(prefix="/web/reconciliation", include_in_schema=False)

RECONCILERS = ("billing", "it")  # reconciliation and deductions (as the REST routes)
FUNDS_CLERKS = ("device",)  # as the REST route: the device counter confirms receipt (B§40)
VIEWERS = (*RECONCILERS, "device")
Viewer = Annotated[WebSession, Depends(desk(*VIEWERS))]
Reconciler = Annotated[WebSession, Depends(desk(*RECONCILERS))]
FundsClerk = Annotated[WebSession, Depends(desk(*FUNDS_CLERKS))]

_MONTH = re.compile(MONTH_PATTERN)
DONE = {
    "run": "对账已完成，下方为本次结果。",
    "fetched": "已从上级系统获取本月审核扣款。",
    "funds": "已确认本月结算资金到账，确认信息已排队上传（WI3301）。",
}
OUTCOMES = {
    "balanced": "一致",
    "differences": "有差异",
    "failed": "失败",
    "outdated": "对账后有变更",
}
FUNDS_STATUS = {
    "open": "本月未结束，待清算",
    "unconfirmed": "未确认到账",
    "queued": "已确认，待上传",
    "confirmed": "已确认",
}


def monthly_of(request: Request) -> MonthlyServices:
    """The monthly use cases the app holds (made once from the services' context if not)."""
    services(request)  # a page saying the services are not there, not a bare 503
    return get_monthly(request)


def _month(request: Request, text: str) -> str:
    value = text.strip()
    if _MONTH.match(value):
        return value
    return previous_month(now(request).date())  # what the agency reconciles now (N§35)


def _back(month: str, done: str) -> Response:
    return RedirectResponse(f"/web/reconciliation?month={month}&done={done}", status_code=303)


def _people(request: Request, psn_nos: set[str]) -> dict[str, str]:
    """Each worker as a clerk may see them here: the masked name, else the person number."""
    shown = {}
    with services(request).context.uow() as uow:
        for psn_no in sorted(filter(None, psn_nos)):
            person = uow.persons.get(psn_no)
            shown[psn_no] = f"{mask_name(person.name)}（{psn_no}）" if person else psn_no
    return shown


def _reconciliation(monthly: MonthlyServices, month: str, today: date) -> dict[str, Any]:
    report: ReconciliationReport | None
    try:
        report = monthly.reconciliation.latest(month)
    except NotFound:
        report = None
    slips = {line["setl_id"]: line.get("slip_no", "") for line in report.lines} if report else {}
    return {
        "report": report,
        "result": report.result if report else None,
        "slips": slips,
        "runs": monthly.reconciliation.history(month),
        "deductions": monthly.deductions.month(month),
        **_clearing_flags(monthly, month, today),
    }


def _clearing_flags(monthly: MonthlyServices, month: str, today: date) -> dict[str, Any]:
    """Months whose differences are unresolved at their half-yearly clearing cutoff (N§40,
    N§43), and this month's flag if it is one of them."""
    unresolved = monthly.reconciliation.unresolved_at_clearing(today)
    return {
        "unresolved": unresolved,
        "month_unresolved": next((u for u in unresolved if u.month == month), None),
    }


def _funds(monthly: MonthlyServices, month: str) -> dict[str, Any]:
    found = next((m for m in monthly.device_funds.months() if m.month == month), None)
    return {"funds": found}


def _page(
    request: Request, session: WebSession, month: str, status: int = 200, **extra: Any
) -> Response:
    monthly = monthly_of(request)
    roles = session.user.roles
    today = now(request).date()
    context: dict[str, Any] = {
        "month": month,
        "this_month": month_of(today),
        "last_month": previous_month(today),
        "today": today.isoformat(),
        "can_reconcile": bool(roles & set(RECONCILERS)),
        "can_confirm": bool(roles & set(FUNDS_CLERKS)),
        "is_it": "it" in roles,  # the upload queue's page is IT's
        "device_institution": "device" in monthly.context.institution.kinds,
        "outcomes": OUTCOMES,
        "funds_status": FUNDS_STATUS,
        "done": DONE.get(request.query_params.get("done", ""), ""),
        "report": None,
        "result": None,
        "runs": [],
        "deductions": None,
        "funds": None,
        "unresolved": [],
        "month_unresolved": None,
    }
    try:
        if context["can_reconcile"]:
            context.update(_reconciliation(monthly, month, today))
        if context["device_institution"]:
            context.update(_funds(monthly, month))
    except AdapterError as exc:  # e.g. a month that has not begun
        extra = {**problem_of(exc), **extra}
        status = 422
    psn_nos = set()
    if context["result"] is not None:
        psn_nos |= {d.psn_no for d in context["result"].differences}
    if context["deductions"] is not None:
        psn_nos |= {s.psn_no for s in context["deductions"].settlements}
    context["people"] = _people(request, psn_nos)
    if extra.get("error"):
        status = max(status, 422)
    return page(request, "reconciliation.html", status_code=status, **{**context, **extra})


@router.get("", response_class=HTMLResponse)
def reconciliation_page(request: Request, session: Viewer, month: str = "") -> Response:
    chosen = _month(request, month)
    if month.strip() and chosen != month.strip():
        return _page(request, session, chosen, error=f"月份须为 YYYY-MM 格式，收到“{month}”")
    return _page(request, session, chosen)


@router.post("/run", dependencies=[Csrf])
def run(request: Request, session: Reconciler, month: Annotated[str, Form()] = "") -> Response:
    """Reconcile the month now against upstream's figures (WI3201) and keep the result."""
    chosen = _month(request, month)
    try:
        monthly_of(request).reconciliation.run(chosen, actor=session.user.name)
    except AdapterError as exc:  # a failed run is kept and shown in the month's history
        return _page(request, session, chosen, **problem_of(exc))
    return _back(chosen, "run")


@router.post("/deductions/fetch", dependencies=[Csrf])
def fetch_deductions(
    request: Request, session: Reconciler, month: Annotated[str, Form()] = ""
) -> Response:
    """Read the month's audit deductions from upstream (WI3202) and keep them."""
    chosen = _month(request, month)
    try:
        monthly_of(request).deductions.fetch(chosen, actor=session.user.name)
    except AdapterError as exc:
        return _page(request, session, chosen, **problem_of(exc))
    return _back(chosen, "fetched")


@router.post("/device-funds/confirm", dependencies=[Csrf])
def confirm_funds(
    request: Request,
    session: FundsClerk,
    month: Annotated[str, Form()] = "",
    received_amount: Annotated[str, Form()] = "",
    received_on: Annotated[str, Form()] = "",
    note: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Record that the month's device settlement funds arrived and queue WI3301 (B§40)."""
    chosen = _month(request, month)
    try:
        value = amount(received_amount, "到账金额")
        day = _day(received_on)
        monthly_of(request).device_funds.confirm(
            chosen, value, actor=session.user.name, received_on=day, note=note.strip()
        )
    except FormError as exc:
        return _page(request, session, chosen, error=str(exc), funds_error=True)
    except AdapterError as exc:
        return _page(request, session, chosen, funds_error=True, **problem_of(exc))
    return _back(chosen, "funds")


def _day(text: str) -> date | None:
    value = text.strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise FormError(f"到账日期格式不正确：{value}（应为 年-月-日）") from exc
