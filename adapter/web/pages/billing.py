"""The billing desk (结算收费): find a stay (work list, visit number, the card read), map its
unmapped items, save the rehab plan, presettle, settle, revoke and re-settle. The manual claim
when direct settlement is impossible is :mod:`.billing_claims`; the pages, :mod:`.billing_pages`.

Every change is a POST with the session's CSRF token and ends in a redirect back to the
encounter (so a reload never repeats it); a refusal re-renders the page with every reason.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from adapter.domain.errors import AdapterError, NotFound
from adapter.domain.people import mask_citizen_id
from adapter.services.settlement import SettleRequest
from adapter.store.repositories import EncounterRecord
from adapter.store.tokens import SUPERVISOR
from adapter.store.uow import UnitOfWork
from adapter.web.auth import Csrf
from adapter.web.config import web_config
from adapter.web.forms import Confirm, FormError, diagnoses, local_time, typed
from adapter.web.forms import problem as problem_of
from adapter.web.pages.billing_pages import SETTLEABLE, act, back, encounter_page, find_page
from adapter.web.pages.common import BillingDesk, ServicesDep, now
from adapter.web.sessions import WebSession

router = APIRouter(prefix="/web/billing", include_in_schema=False)
REASON_MAX = 500  # a revocation's or a rehab override's reason, as the API and upstream hold it
OVERRIDE_MIN = 2  # a rehab override's reason, as the API holds it: one character says nothing


@router.get("", response_class=HTMLResponse)
def billing_desk(request: Request, services: ServicesDep, _: BillingDesk, q: str = "") -> Response:
    """Today's work list; find an encounter by HIS visit number or encounter number."""
    q = q.strip()
    if not q:
        return find_page(request, services)
    code = services.context.institution.code
    with services.context.uow() as uow:
        # as typed, then as the HIS writes it (a full-width 住院号 from an input method left on)
        record = next(
            (
                found
                for text in dict.fromkeys((q, typed(q)))
                if (found := uow.encounters.find(text) or uow.encounters.find_by_visit(code, text))
            ),
            None,
        )
    if record is None:
        # what to do next: a typing slip, or a stay never registered as direct settlement
        # at admission (N§33, B§28), which the admission desk registers — not this desk
        error = (
            f"未找到住院号或就诊编号为“{q}”的就诊。请核对号码是否与 HIS 中的住院号一致；"
            "若该职工入院时未在入院处办理工伤跨省直接结算入院登记，请联系入院处核验身份和备案后登记。"
        )
        return find_page(request, services, q=q, error=error)
    return RedirectResponse(f"/web/billing/{record.encounter.id}", status_code=303)


@router.get("/{encounter_id}", response_class=HTMLResponse)
def encounter(
    request: Request, encounter_id: str, services: ServicesDep, _: BillingDesk
) -> Response:
    try:
        return encounter_page(request, services, encounter_id)
    except NotFound as exc:
        return find_page(request, services, q=encounter_id, error=exc.message)


@router.post("/{encounter_id}/fees/{line_id}/mapping", dependencies=[Csrf])
def map_line(
    request: Request,
    encounter_id: str,
    line_id: str,
    services: ServicesDep,
    session: BillingDesk,
    catalogue_code: Annotated[str, Form()] = "",
    out_of_catalogue: Annotated[str, Form()] = "",
) -> Response:
    code = catalogue_code.strip()

    def map_it() -> None:
        if not code and not out_of_catalogue:
            raise FormError(f"请为明细{line_id}填写就医地目录编码，或确认为目录外项目")
        services.fees.map_line(
            encounter_id, line_id, None if out_of_catalogue else code, actor=session.user.name
        )

    return act(request, services, encounter_id, map_it, "mapped")


def _rehab_item(row: list[str]) -> dict[str, Any]:
    name = row[1] if len(row) > 1 else ""
    frequency = row[2] if len(row) > 2 else ""
    return {"item_code": row[0], "item_name": name, "frequency": frequency, "sessions": None}


@router.post("/{encounter_id}/rehab-plan", dependencies=[Csrf])
def rehab_plan(
    request: Request,
    encounter_id: str,
    services: ServicesDep,
    session: BillingDesk,
    goals: Annotated[str, Form()] = "",
    items: Annotated[str, Form()] = "",
    frequency: Annotated[str, Form()] = "",
    expected_days: Annotated[str, Form()] = "",
) -> Response:
    """Items, one per line: ``<项目编码> <名称> [频次]``."""

    def save() -> None:
        rows = [line.split(maxsplit=2) for line in items.splitlines() if line.strip()]
        # isdecimal, not isdigit: ² is a digit int() cannot read (a full-width ３０ it can)
        days = int(expected_days) if expected_days.strip().isdecimal() else 0
        if not goals.strip() or not rows or not expected_days.strip():
            raise FormError("康复方案须填写康复目标、至少一个康复项目和预计天数")
        plan = {
            "goals": goals.strip(),
            "items": [_rehab_item(row) for row in rows],
            "frequency": frequency.strip(),
            "expected_days": days,
        }
        services.rehab.save(encounter_id, plan, actor=session.user.name)

    typed_plan = {
        "goals": goals,
        "items": items,
        "frequency": frequency,
        "expected_days": expected_days,
    }
    return act(request, services, encounter_id, save, "plan", typed_plan=typed_plan)


@router.post("/{encounter_id}/presettle", response_class=HTMLResponse, dependencies=[Csrf])
def presettle(
    request: Request,
    encounter_id: str,
    services: ServicesDep,
    _: BillingDesk,
    discharged_at: Annotated[str, Form()] = "",
    discharge_diagnoses: Annotated[str, Form()] = "",
    override_reason: Annotated[str, Form()] = "",
) -> Response:
    """The bill as it would be settled now; nothing is written, upstream is not asked."""
    typed = _typed(discharged_at, discharge_diagnoses, override_reason)
    try:
        until = local_time(discharged_at, web_config(request).zone, now(request))
        preview = services.settlements.presettle(encounter_id, until)
    except FormError as exc:
        return encounter_page(request, services, encounter_id, error=str(exc), typed=typed)
    except AdapterError as exc:
        return encounter_page(request, services, encounter_id, typed=typed, **problem_of(exc))
    return encounter_page(request, services, encounter_id, preview=preview, typed=typed)


def _fits(label: str, text: str, longest: int) -> None:
    """Refuse at the desk what the API would refuse (upstream keeps no more), saying how long."""
    if len(text) > longest:
        raise FormError(f"{label}最长{longest}个字符（现为{len(text)}个），请精简后重新提交")


def _says_why(override_reason: str) -> None:
    """A supervisor's override is kept with the settlement as its reason: refuse at the desk the
    one-character reason the API refuses, rather than settle on a reason nobody can read back."""
    if override_reason and len(override_reason) < OVERRIDE_MIN:
        raise FormError(
            f"强制结算的原因至少{OVERRIDE_MIN}个字符（现为{len(override_reason)}个），"
            "请写明康复方案未送达仍须先行结算的原因"
        )


def _may_override(session: WebSession, override_reason: str) -> None:
    """Settling a rehab stay before its plan reached upstream is the settlement supervisor's
    decision (N§33 "原则上"): the field is shown to a supervisor only, and a reason posted by
    anyone else is refused here, whatever the page showed."""
    if override_reason and SUPERVISOR not in session.user.roles:
        raise FormError(
            "康复方案未送达上级系统时强制结算须由结算主管操作，您的账号没有“结算主管”角色，"
            "本次未结算。请待康复方案送达后结算，或请结算主管登录后填写原因并结算（N§33、B§32）"
        )


def _typed(discharged_at: str, discharge_diagnoses: str, override_reason: str) -> dict[str, str]:
    """What the clerk typed into the settle form, shown again after a presettle or a refusal."""
    return {
        "discharged_at": discharged_at.strip(),
        "discharge_diagnoses": discharge_diagnoses,
        "override_reason": override_reason,
    }


@router.post("/{encounter_id}/settle", dependencies=[Csrf])
def settle(
    request: Request,
    encounter_id: str,
    services: ServicesDep,
    session: BillingDesk,
    discharged_at: Annotated[str, Form()] = "",
    discharge_diagnoses: Annotated[str, Form()] = "",
    override_reason: Annotated[str, Form()] = "",
) -> Response:
    """Discharge settlement: identity and filing are checked again upstream (N§33, B§30)."""
    typed = _typed(discharged_at, discharge_diagnoses, override_reason)
    try:
        _may_override(session, override_reason.strip())
        _fits("强制结算的原因", override_reason.strip(), REASON_MAX)
        _says_why(override_reason.strip())
        request_ = SettleRequest(
            encounter_id,
            local_time(discharged_at, web_config(request).zone, now(request)),
            diagnoses(discharge_diagnoses),
            rehab_override_reason=override_reason.strip(),
        )
        services.settlements.settle(request_, actor=session.user.name)
    except FormError as exc:
        return encounter_page(request, services, encounter_id, error=str(exc), typed=typed)
    except AdapterError as exc:
        return encounter_page(request, services, encounter_id, typed=typed, **problem_of(exc))
    return back(encounter_id, "settled")


@router.post("/{encounter_id}/revoke", dependencies=[Csrf])
def revoke(
    request: Request,
    encounter_id: str,
    services: ServicesDep,
    session: BillingDesk,
    settlement_id: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    confirmed: Annotated[str, Form()] = "",
) -> Response:
    if not reason.strip():
        return encounter_page(request, services, encounter_id, error="撤销结算须填写原因")
    if len(reason.strip()) > REASON_MAX:  # what upstream's field and the stored reason hold
        error = f"撤销原因最长{REASON_MAX}个字符（现为{len(reason.strip())}个），请精简后重新填写"
        return encounter_page(request, services, encounter_id, error=error, reason=reason)
    if confirmed != "1":
        confirm = Confirm(
            title="确认撤销结算？",
            upstream=(
                "撤销后将向上级系统上传撤销结算信息（WI2305），上级系统确认后原结算作废，"
                "原结算单不再有效；撤销后可重新结算或转手工报销。"
            ),
            article="N§33、B§31",
            action=f"/web/billing/{encounter_id}/revoke",
            button="确认撤销结算",
            back=f"/web/billing/{encounter_id}",
            fields={"settlement_id": settlement_id, "reason": reason.strip()},
        )
        return encounter_page(request, services, encounter_id, confirm=confirm)
    try:
        services.revocations.revoke(settlement_id, reason=reason.strip(), actor=session.user.name)
    except AdapterError as exc:
        return encounter_page(request, services, encounter_id, **problem_of(exc))
    return back(encounter_id, "revoked")


_CITIZEN_ID = re.compile(r"^\d{17}[\dXx]$")


@router.post("/by-card", dependencies=[Csrf])
def by_card(
    request: Request,
    services: ServicesDep,
    _: BillingDesk,
    citizen_id: Annotated[str, Form()] = "",
) -> Response:
    """The stay of the worker whose card the desk's reader read (the citizen ID travels in the
    body, never in a URL that logs and browser history keep)."""
    citizen_id = "".join(typed(citizen_id).split())
    with services.context.uow() as uow:
        record = _stay_of_citizen(uow, citizen_id)
    if record is None:
        who = mask_citizen_id(citizen_id) if _CITIZEN_ID.match(citizen_id) else "无效"
        error = f"未找到该职工（社会保障号码 {who}）在本机构的就诊，请按住院号查找"
        return find_page(request, services, status=404, error=error)
    return RedirectResponse(f"/web/billing/{record.encounter.id}", status_code=303)


def _stay_of_citizen(uow: UnitOfWork, citizen_id: str) -> EncounterRecord | None:
    """The stay of the worker whose card was read (the reader fills the citizen ID): the one
    still open, else the latest."""
    if not _CITIZEN_ID.match(citizen_id):
        return None
    stays = [
        record
        for person in uow.persons.find_by_citizen_id(citizen_id.upper())
        for record in uow.encounters.list_for_person(person.psn_no)
    ]
    stays.sort(key=lambda r: r.encounter.admitted_at)
    still_open = [r for r in stays if r.encounter.status in SETTLEABLE]
    chosen = still_open or stays
    return chosen[-1] if chosen else None
