"""The billing desk's two pages (结算收费): the work list with the search box, and a stay's
page — its fees priced line by line with who pays and why, the rehab plan, the settle form,
the manual claim — with what a form left to say (done, a refusal, a confirmation).

The forms (:mod:`.billing`, :mod:`.billing_claims`) end in a redirect back to the stay on
success, so a reload never repeats them, and re-render its page here on a refusal.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from adapter.domain.encounters import EncounterKind, EncounterStatus
from adapter.domain.errors import AdapterError
from adapter.domain.filings import FilingPurpose
from adapter.domain.settlement import Breakdown
from adapter.services.container import Services
from adapter.services.desk_notices import before_settle
from adapter.services.manual_claim_records import ManualClaimReason
from adapter.services.worklists import LABELS, Queue, billing_list
from adapter.web.forms import FormError
from adapter.web.forms import problem as problem_of
from adapter.web.pages.common import now
from adapter.web.render import page

DONE = {
    "mapped": "目录对照已保存，费用已按对照结果重新计算。",
    "plan": "康复方案已保存，已排队上传（WI2501）。",
    "settled": "结算成功，出院结算信息已排队上传（WI2301，30分钟内，N§33、B§31、B§32）。",
    "revoked": "结算已撤销，撤销信息已排队上传（WI2305）；可重新结算。",
    "claim": "已转参保地手工报销，本次就诊不能再直接结算（N§38、B§27）。",
    "handed": "费用清单已交付，本次住院转参保地手工报销，不能再直接结算（N§38、B§27）。",
    "switched": "身份和备案核验通过，已转为跨省异地直接结算住院，入院登记已排队上传（WI2401）。",
}
SETTLEABLE = (EncounterStatus.ADMITTED, EncounterStatus.REVOKED)


def back(encounter_id: str, done: str) -> Response:
    return RedirectResponse(f"/web/billing/{encounter_id}?done={done}", status_code=303)


def act(
    request: Request,
    services: Services,
    encounter_id: str,
    action: Callable[[], object],
    done: str,
    **kept: Any,
) -> Response:
    """A desk action on a stay: refused, the stay's page again with the reason (and ``kept``,
    what the clerk typed, to show again); done, back to it with ``done``."""
    try:
        action()
    except FormError as exc:
        return encounter_page(request, services, encounter_id, error=str(exc), **kept)
    except AdapterError as exc:
        return encounter_page(request, services, encounter_id, **kept, **problem_of(exc))
    return back(encounter_id, done)


def encounter_page(
    request: Request, services: Services, encounter_id: str, status: int = 200, **extra: Any
) -> Response:
    view = services.encounter(encounter_id)
    case = services.manual_claims.of_encounter(encounter_id)
    with services.context.uow() as uow:
        person = uow.persons.get(view.encounter.psn_no)
        # What the clerk ticks switching a case to direct settlement (N§16): the parts it
        # was admitted with and those of the worker's filings as last seen.
        parts = list(view.encounter.injury_parts)
        if case and case.open_case:
            for filing in uow.filings.for_person(view.encounter.psn_no):
                if filing.purpose is not FilingPurpose.DEVICE:
                    parts += [p for p in filing.injury_parts if p not in parts]
    fees = view.fees
    discharged = view.encounter.discharged_at
    notices = before_settle(services.context, view)
    context: dict[str, Any] = {
        "notices": notices,
        "view": view,
        "person": person,
        "stored": {s.line.line_id: s for s in fees.stored},
        "totals": Breakdown.of(fees.bill.lines, fees.bill.excluded),
        # A fitting is settled at the device counter, whose page has its items and notice.
        "settleable": view.encounter.status in SETTLEABLE
        and view.encounter.kind is not EncounterKind.DEVICE
        and not (case and case.open_case),
        "fitting_revoked": view.encounter.kind is EncounterKind.DEVICE
        and view.encounter.status is EncounterStatus.REVOKED,
        "case": case if case and case.open_case else None,
        "case_parts": parts,
        "handed": case if case and case.handed_over_at else None,
        "claim_reasons": list(ManualClaimReason),
        "now": now(request).strftime("%Y-%m-%dT%H:%M"),
        # the discharge the HIS noted (A03), or the one a revoked settlement had: what the
        # clerk settles by, not the moment the page is opened
        "discharge_default": _minute(discharged, request) if discharged else "",
        "done": DONE.get(request.query_params.get("done", ""), ""),
        "wait": next(
            (w for w in services.discharge_waits.waiting() if w.encounter_id == encounter_id), None
        ),
        **extra,
    }
    if extra.get("refusal") or extra.get("error"):
        status = 422
    return page(request, "billing.html", status_code=status, **context)


def _minute(moment: datetime, request: Request) -> str:
    """``moment`` as the form's datetime-local field takes it, in the institution's zone."""
    return moment.astimezone(now(request).tzinfo).strftime("%Y-%m-%dT%H:%M")


QUEUES = (
    "",
    Queue.UPLOAD_FAILED,
    Queue.READY,
    Queue.WAITING,
    Queue.UPLOAD,
    Queue.IN_HOSPITAL,
    Queue.CLAIM,
)


def find_page(
    request: Request, services: Services, q: str = "", status: int = 200, **extra: Any
) -> Response:
    """The desk's first page: today's work list (filterable) and the search box."""
    shown = request.query_params.get("f", "")
    typed = request.query_params.get("w", "").strip()
    waiting = services.discharge_waits.waiting()
    rows = [
        r
        for r in billing_list(services.context, waiting)
        if (not shown or r.queue == shown) and typed in r.his_visit_id
    ]
    return page(
        request,
        "billing_find.html",
        status_code=status,
        q=q,
        waiting=waiting,
        rows=rows,
        labels=LABELS,
        queues=QUEUES,
        shown=shown if shown in QUEUES else "",
        typed_filter=typed,
        **extra,
    )
