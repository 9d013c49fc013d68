"""The admission desk (入院登记, N§33, B§28): read the card, see the person and their filings,
whether direct settlement is possible (and if not, every reason with its article and where to
file), then admit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from adapter.domain.commands import Admit
from adapter.domain.encounters import EncounterKind
from adapter.domain.errors import AdapterError, UpstreamUnavailable
from adapter.domain.filings import listed_parts
from adapter.domain.people import CardData
from adapter.services.admission import ADMISSION_OUTAGE_MESSAGE, OpenStayExists
from adapter.services.container import Services
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
        context = _checked(request, services, card_data, kind, card_kind)
    except FormError as exc:
        return _desk(request, kind=kind, error=str(exc), typed_card=card.strip())
    except UpstreamUnavailable:
        # N§38, B§27: try again later, or record the stay as a manual-claim case now.
        return _desk(request, **_outage(request, card_data, kind, card_kind))
    except AdapterError as exc:
        return _desk(request, kind=kind, typed_card=card.strip(), **problem_of(exc))
    if "refusal" in context:  # the card field keeps the number, to correct a mistyped one
        context["typed_card"] = card.strip()
    return _desk(request, **context)


def _checked(
    request: Request, services: Services, card: CardData, kind: str, card_kind: str
) -> dict[str, object]:
    """The desk once the card is checked: the person, the filings, whether direct settlement
    is possible (every reason if not), and the worker's open stay a ``kind`` one may not
    start beside."""
    answer = services.eligibility.query(card, EncounterKind(kind), now(request).date())
    decision, facts = answer.decision, answer.facts
    context: dict[str, object] = {
        "kind": kind,
        "card_value": card_text(card),
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
        # One stay at a time, of either inpatient kind (N§33, B§28): the open one is shown
        # instead of a form to admit beside it.
        context["open_stay"] = services.admissions.open_stay(
            facts.person.psn_no, EncounterKind(kind)
        )
    return context


def _outage(request: Request, card: CardData, kind: str, card_kind: str) -> dict[str, object]:
    return {
        "kind": kind,
        "upstream_down": True,
        "error": ADMISSION_OUTAGE_MESSAGE,
        "card_value": card_text(card),
        "card_kind": card_kind,
        "now": now(request).strftime("%Y-%m-%dT%H:%M"),
    }


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
    typed = listed_parts((injury_parts_text,))
    kept = Typed(
        his_visit_id,
        department,
        admitted_at,
        diagnosis_lines,
        injury_parts or [],
        injury_parts_text,
    )
    try:
        visit = kept.visit()
        command = Admit(
            card=read_card(card, card_kind),
            his_visit_id=visit,
            kind=EncounterKind(kind),
            admitted_at=local_time(admitted_at, web_config(request).zone, now(request)),
            diagnoses=diagnoses(diagnosis_lines),
            injury_parts=checked([*(injury_parts or []), *typed]),
            department=kept.department_(),
        )
        admitted = services.admissions.admit(
            command, actor=session.user.name, manual_claim_if_upstream_down=manual_claim == "1"
        )
    except OpenStayExists as exc:
        return _desk(request, kind=kind, open_stay=exc.open_stay, error=exc.message)
    except (FormError, AdapterError) as exc:
        shown: dict[str, Any] = (
            problem_of(exc) if isinstance(exc, AdapterError) else {"error": str(exc)}
        )
        return _again(request, services, card, card_kind, kind, kept, manual_claim, shown)
    return _desk(request, kind=kind, admitted=admitted)


@dataclass(frozen=True)
class Typed:
    """The admission form as the clerk filled it in, to show again after a refusal."""

    his_visit_id: str
    department: str
    admitted_at: str
    diagnosis_lines: str
    injury_parts: list[str]
    parts_text: str  # the manual-claim form's typed parts

    def visit(self) -> str:
        visit = self.his_visit_id.strip()
        if not visit:
            raise FormError("请填写 HIS 住院号")
        if len(visit) > VISIT_MAX:  # what the HIS's number and the stored key hold
            raise FormError(f"HIS 住院号最长{VISIT_MAX}个字符（现为{len(visit)}个），请核对")
        return visit

    def department_(self) -> str:
        department = self.department.strip()
        if len(department) > DEPARTMENT_MAX:
            raise FormError(f"科室名称最长{DEPARTMENT_MAX}个字符，请核对")
        return department


VISIT_MAX, DEPARTMENT_MAX = 64, 100


def _again(
    request: Request,
    services: Services,
    card: str,
    card_kind: str,
    kind: str,
    kept: Typed,
    manual_claim: str,
    shown: dict[str, Any],
) -> Response:
    """A refused admission: the checked worker and the form again, as typed, with the reason
    (the card is checked again: upstream may have changed since). Without a usable card or
    with upstream down, the reason and the card as read."""
    try:
        card_data = read_card(card, card_kind)
        if manual_claim == "1":
            context = _outage(request, card_data, kind, card_kind)
        else:
            context = _checked(request, services, card_data, kind, card_kind)
    except (FormError, AdapterError):
        return _desk(request, kind=kind, typed_card=card.strip(), **shown)
    return _desk(request, **{**context, **shown, "typed": kept})


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
