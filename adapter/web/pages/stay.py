"""One stay as the admission desk and IT see it (``/web/stays/{id}``): who, which filing and its
status today, the stay's status and the uploads upstream was sent, and what the clerk's roles
may do next — cancel the admission (admission desk, after a confirmation naming what happens
upstream, N§33, B§28), or go on to billing. The admission desk's work list and the IT page's
就诊 column open it; billing's own page (``/web/billing/{id}``) stays where fees are handled.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from adapter.domain.encounters import EncounterStatus
from adapter.domain.errors import AdapterError, NotFound
from adapter.domain.upstream import UPLOAD_STATUS_LABELS
from adapter.services.container import Services
from adapter.web.auth import Csrf, desk
from adapter.web.forms import Confirm, FormError
from adapter.web.forms import problem as problem_of
from adapter.web.pages.common import AdmissionDesk, ServicesDep, now
from adapter.web.render import page
from adapter.web.sessions import WebSession

router = APIRouter(prefix="/web/stays", include_in_schema=False)
StayReader = Annotated[WebSession, Depends(desk("admission", "billing", "it"))]
DONE = {
    "cancelled": "已取消入院登记，撤销入院登记（WI2404）已排队上传；如需住院须重新办理入院登记。",
}


def _stay_page(
    request: Request, services: Services, encounter_id: str, status: int = 200, **extra: Any
) -> Response:
    ctx = services.context
    today = now(request).date()
    with ctx.uow() as uow:
        record = uow.encounters.get(encounter_id)
        e = record.encounter
        person = uow.persons.get(e.psn_no)
        filing = uow.filings.get(e.filing_no) if e.filing_no else None
    view = services.encounter(encounter_id)
    with ctx.uow() as uow:
        uploads = [
            (u, (ctx.outbox.job_state(uow.session, u.upload.msgid) or ("pending", ""))[0])
            for u in view.uploads
        ]
    case = services.manual_claims.of_encounter(encounter_id)
    if extra.get("error") or extra.get("refusal"):
        status = 422
    return page(
        request,
        "stay.html",
        status_code=status,
        e=e,
        person=person,
        filing=filing,
        filing_status=filing.status_on(today) if filing else "",
        uploads=uploads,
        job_status=UPLOAD_STATUS_LABELS,
        case=case,
        cancellable=e.status is EncounterStatus.ADMITTED and not view.settlements,
        ready=record.ready_to_settle,
        done=DONE.get(request.query_params.get("done", ""), ""),
        **extra,
    )


@router.get("/{encounter_id}", response_class=HTMLResponse)
def stay(request: Request, encounter_id: str, services: ServicesDep, _: StayReader) -> Response:
    try:
        return _stay_page(request, services, encounter_id)
    except NotFound as exc:
        return page(
            request, "error.html", status_code=404, title="未找到该就诊", message=exc.message
        )


@router.post("/{encounter_id}/cancel", response_class=HTMLResponse, dependencies=[Csrf])
def cancel(
    request: Request,
    encounter_id: str,
    services: ServicesDep,
    session: AdmissionDesk,
    reason: Annotated[str, Form()] = "",
    confirmed: Annotated[str, Form()] = "",
) -> Response:
    """Cancel the admission (registered by mistake), queue WI2404; the clerk confirms first."""
    try:
        if not reason.strip():
            raise FormError("请填写取消入院登记的原因")
        if confirmed != "1":
            e = services.encounter(encounter_id).encounter
            confirm = Confirm(
                title="确认取消入院登记？",
                upstream=(
                    f"将向上级系统上传撤销入院登记（WI2404），住院号 {e.his_visit_id} "
                    "的本次入院登记作废，不能再结算；如需住院须重新办理入院登记。"
                ),
                article="N§33、B§28",
                action=f"/web/stays/{encounter_id}/cancel",
                button="确认取消入院登记",
                back=f"/web/stays/{encounter_id}",
                fields={"reason": reason.strip()},
            )
            return _stay_page(request, services, encounter_id, confirm=confirm, reason=reason)
        services.stays.cancel(encounter_id, reason=reason.strip(), actor=session.user.name)
    except FormError as exc:
        return _stay_page(request, services, encounter_id, error=str(exc))
    except AdapterError as exc:
        return _stay_page(request, services, encounter_id, **problem_of(exc))
    return RedirectResponse(f"/web/stays/{encounter_id}?done=cancelled", status_code=303)
