"""The admission desk (入院登记, N§33, B§28): read the card, see the person and their filings,
whether direct settlement is possible (and if not, every reason with its article and where to
file), then admit."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from adapter.domain.commands import Admit
from adapter.domain.encounters import EncounterKind
from adapter.domain.errors import AdapterError, UpstreamUnavailable
from adapter.services.admission import ADMISSION_OUTAGE_MESSAGE, OpenStayExists
from adapter.services.worklists import LABELS, Queue, admission_list
from adapter.web.auth import Csrf
from adapter.web.config import web_config
from adapter.web.forms import (
    Confirm,
    FormError,
    card_text,
    checked,
    diagnoses,
    local_time,
    read_card,
)
from adapter.web.forms import problem as problem_of
from adapter.web.forms import refusal as refusal_of
from adapter.web.pages.common import AdmissionDesk, ServicesDep, now
from adapter.web.render import page

router = APIRouter(prefix="/web/admission", include_in_schema=False)
KINDS = {"medical": "住院工伤医疗", "rehab": "住院工伤康复"}


def _desk(request: Request, **context: object) -> Response:
    status = 422 if context.get("refusal") or context.get("error") else 200
    return page(request, "admission.html", status_code=status, kinds=KINDS, **context)


QUEUES = ("", Queue.ADMITTED, Queue.CANCELLED)


@router.get("", response_class=HTMLResponse)
def admission_desk(request: Request, services: ServicesDep, _: AdmissionDesk) -> Response:
    """The card field, and below it today's admissions and cancellations."""
    shown = request.query_params.get("f", "")
    typed = request.query_params.get("w", "").strip()
    rows = [
        r
        for r in admission_list(services.context)
        if (not shown or r.queue == shown) and typed in r.his_visit_id
    ]
    return _desk(
        request,
        kind="medical",
        rows=rows,
        labels=LABELS,
        queues=QUEUES,
        shown=shown if shown in QUEUES else "",
        typed_filter=typed,
    )


@router.post("/check", response_class=HTMLResponse, dependencies=[Csrf])
def check(
    request: Request,
    services: ServicesDep,
    _: AdmissionDesk,
    card: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "medical",
    card_kind: Annotated[str, Form()] = "auto",
) -> Response:
    """Identity and filing as upstream says now; changes nothing."""
    kind = kind if kind in KINDS else "medical"
    try:
        card_data = read_card(card, card_kind)
        answer = services.eligibility.query(card_data, EncounterKind(kind), now(request).date())
    except FormError as exc:
        return _desk(request, kind=kind, error=str(exc))
    except UpstreamUnavailable:
        # N§38, B§27: try again later, or record the stay as a manual-claim case now.
        return _desk(
            request,
            kind=kind,
            upstream_down=True,
            error=ADMISSION_OUTAGE_MESSAGE,
            card_value=card_text(card_data),
            card_kind=card_kind,
            now=now(request).strftime("%Y-%m-%dT%H:%M"),
        )
    except AdapterError as exc:
        return _desk(request, kind=kind, **problem_of(exc))
    decision, facts = answer.decision, answer.facts
    context: dict[str, object] = {
        "kind": kind,
        "card_value": card_text(card_data),
        "card_kind": card_kind,
        "facts": facts,
        "decision": decision,
        "warnings": decision.warnings,
        "now": now(request).strftime("%Y-%m-%dT%H:%M"),
        "today": now(request).date(),
    }
    if not decision.eligible:
        context["refusal"] = refusal_of(decision.reasons)
    elif facts is not None:
        # One open stay per worker and kind (N§33, B§28): show it instead of a second form.
        context["open_stay"] = services.admissions.open_stay(
            facts.person.psn_no, EncounterKind(kind)
        )
    return _desk(request, **context)


@router.post("/admit", response_class=HTMLResponse, dependencies=[Csrf])
def admit(
    request: Request,
    services: ServicesDep,
    session: AdmissionDesk,
    card: Annotated[str, Form()] = "",
    card_kind: Annotated[str, Form()] = "auto",
    kind: Annotated[str, Form()] = "medical",
    his_visit_id: Annotated[str, Form()] = "",
    department: Annotated[str, Form()] = "",
    admitted_at: Annotated[str, Form()] = "",
    diagnosis_lines: Annotated[str, Form()] = "",
    injury_parts: Annotated[list[str] | None, Form()] = None,
    injury_parts_text: Annotated[str, Form()] = "",
    manual_claim: Annotated[str, Form()] = "",
) -> Response:
    kind = kind if kind in KINDS else "medical"
    typed = tuple(p for p in injury_parts_text.replace("，", "、").replace(",", "、").split("、"))
    try:
        if not his_visit_id.strip():
            raise FormError("请填写 HIS 住院号")
        command = Admit(
            card=read_card(card, card_kind),
            his_visit_id=his_visit_id.strip(),
            kind=EncounterKind(kind),
            admitted_at=local_time(admitted_at, web_config(request).zone, now(request)),
            diagnoses=diagnoses(diagnosis_lines),
            injury_parts=checked([*(injury_parts or []), *typed]),
            department=department.strip(),
        )
        admitted = services.admissions.admit(
            command, actor=session.user.name, manual_claim_if_upstream_down=manual_claim == "1"
        )
    except FormError as exc:
        return _desk(request, kind=kind, error=str(exc))
    except OpenStayExists as exc:
        return _desk(request, kind=kind, open_stay=exc.open_stay, error=exc.message)
    except AdapterError as exc:
        return _desk(request, kind=kind, **problem_of(exc))
    return _desk(request, kind=kind, admitted=admitted)


@router.post("/{encounter_id}/cancel", response_class=HTMLResponse, dependencies=[Csrf])
def cancel_open_stay(
    request: Request,
    encounter_id: str,
    services: ServicesDep,
    session: AdmissionDesk,
    reason: Annotated[str, Form()] = "",
    confirmed: Annotated[str, Form()] = "",
) -> Response:
    """Cancel the worker's open stay (an admission registered by mistake), queue WI2404;
    the clerk confirms first, reading what happens upstream."""
    try:
        if not reason.strip():
            raise FormError("请填写取消入院登记的原因")
        if confirmed != "1":
            stay = services.encounter(encounter_id).encounter
            confirm = Confirm(
                title="确认取消入院登记？",
                upstream=(
                    f"将向上级系统上传撤销入院登记（WI2404），住院号 {stay.his_visit_id} "
                    "的本次入院登记作废，不能再结算；如需住院须重新办理入院登记。"
                ),
                article="N§33、B§28",
                action=f"/web/admission/{encounter_id}/cancel",
                button="确认取消入院登记",
                back="/web/admission",
                fields={"reason": reason.strip()},
            )
            return _desk(request, kind=stay.kind.value, open_stay=stay, confirm=confirm)
        cancelled = services.stays.cancel(
            encounter_id, reason=reason.strip(), actor=session.user.name
        )
    except FormError as exc:
        return _desk(request, kind="medical", error=str(exc))
    except AdapterError as exc:
        return _desk(request, kind="medical", **problem_of(exc))
    return _desk(request, kind=cancelled.kind.value, cancelled=cancelled)
