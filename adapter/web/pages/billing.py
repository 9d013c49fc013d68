"""The billing desk (结算收费): an encounter's fees priced line by line with who pays and why,
unmapped items to map, the rehab plan and its upload, presettle, settle, the slip, revoke and
re-settle, and the manual claim when direct settlement is impossible (N§38, B§27).

Every change is a POST with the session's CSRF token and ends in a redirect back to the
encounter (so a reload never repeats it); a refusal re-renders the page with every reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from adapter.domain.encounters import EncounterStatus
from adapter.domain.errors import AdapterError, NotFound
from adapter.domain.people import mask_citizen_id
from adapter.domain.settlement import Breakdown
from adapter.services.container import Services
from adapter.services.desk_notices import before_settle
from adapter.services.manual_claim_records import ManualClaimReason
from adapter.services.settlement import SettleRequest
from adapter.services.unacknowledged_revocation import RevocationNotAcknowledged
from adapter.services.worklists import LABELS, Queue, billing_list
from adapter.store.repositories import EncounterRecord
from adapter.store.uow import UnitOfWork
from adapter.web.auth import Csrf
from adapter.web.config import web_config
from adapter.web.forms import Confirm, FormError, diagnoses, local_time, read_card
from adapter.web.forms import problem as problem_of
from adapter.web.pages.common import BillingDesk, ServicesDep, now
from adapter.web.render import page

router = APIRouter(prefix="/web/billing", include_in_schema=False)

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


def _back(encounter_id: str, done: str) -> Response:
    return RedirectResponse(f"/web/billing/{encounter_id}?done={done}", status_code=303)


def _act(
    request: Request, services: Services, encounter_id: str, action: Callable[[], object], done: str
) -> Response:
    """A desk action on a stay: refused, the stay's page again with the reason; done, back to
    it with ``done``."""
    try:
        action()
    except FormError as exc:
        return _encounter_page(request, services, encounter_id, error=str(exc))
    except AdapterError as exc:
        return _encounter_page(request, services, encounter_id, **problem_of(exc))
    return _back(encounter_id, done)


def _encounter_page(
    request: Request, services: Services, encounter_id: str, status: int = 200, **extra: Any
) -> Response:
    view = services.encounter(encounter_id)
    with services.context.uow() as uow:
        person = uow.persons.get(view.encounter.psn_no)
    fees = view.fees
    case = services.manual_claims.of_encounter(encounter_id)
    notices = before_settle(services.context, view)
    context: dict[str, Any] = {
        "notices": notices,
        "view": view,
        "person": person,
        "stored": {s.line.line_id: s for s in fees.stored},
        "totals": Breakdown.of(fees.bill.lines, fees.bill.excluded),
        "settleable": view.encounter.status in SETTLEABLE and not (case and case.open_case),
        "case": case if case and case.open_case else None,
        "handed": case if case and case.handed_over_at else None,
        "claim_reasons": list(ManualClaimReason),
        "now": now(request).strftime("%Y-%m-%dT%H:%M"),
        "done": DONE.get(request.query_params.get("done", ""), ""),
        "wait": next(
            (w for w in services.discharge_waits.waiting() if w.encounter_id == encounter_id), None
        ),
        **extra,
    }
    if extra.get("refusal") or extra.get("error"):
        status = 422
    return page(request, "billing.html", status_code=status, **context)


QUEUES = (
    "",
    Queue.UPLOAD_FAILED,
    Queue.READY,
    Queue.WAITING,
    Queue.UPLOAD,
    Queue.IN_HOSPITAL,
    Queue.CLAIM,
)


def _find_page(
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


@router.get("", response_class=HTMLResponse)
def billing_desk(request: Request, services: ServicesDep, _: BillingDesk, q: str = "") -> Response:
    """Today's work list; find an encounter by HIS visit number or encounter number."""
    q = q.strip()
    if not q:
        return _find_page(request, services)
    code = services.context.institution.code
    with services.context.uow() as uow:
        record = uow.encounters.find(q) or uow.encounters.find_by_visit(code, q)
    if record is None:
        return _find_page(request, services, q=q, error=f"未找到住院号或就诊编号为“{q}”的就诊")
    return RedirectResponse(f"/web/billing/{record.encounter.id}", status_code=303)


@router.get("/{encounter_id}", response_class=HTMLResponse)
def encounter(
    request: Request, encounter_id: str, services: ServicesDep, _: BillingDesk
) -> Response:
    try:
        return _encounter_page(request, services, encounter_id)
    except NotFound as exc:
        return _find_page(request, services, q=encounter_id, error=exc.message)


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

    return _act(request, services, encounter_id, map_it, "mapped")


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
        days = int(expected_days) if expected_days.strip().isdigit() else 0
        if not goals.strip() or not rows or days < 1:
            raise FormError("康复方案须填写康复目标、至少一个康复项目和预计天数")
        plan = {
            "goals": goals.strip(),
            "items": [_rehab_item(row) for row in rows],
            "frequency": frequency.strip(),
            "expected_days": days,
        }
        services.rehab.save(encounter_id, plan, actor=session.user.name)

    return _act(request, services, encounter_id, save, "plan")


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
        return _encounter_page(request, services, encounter_id, error=str(exc), typed=typed)
    except AdapterError as exc:
        return _encounter_page(request, services, encounter_id, typed=typed, **problem_of(exc))
    return _encounter_page(request, services, encounter_id, preview=preview, typed=typed)


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
        request_ = SettleRequest(
            encounter_id,
            local_time(discharged_at, web_config(request).zone, now(request)),
            diagnoses(discharge_diagnoses),
            rehab_override_reason=override_reason.strip(),
        )
        services.settlements.settle(request_, actor=session.user.name)
    except FormError as exc:
        return _encounter_page(request, services, encounter_id, error=str(exc), typed=typed)
    except AdapterError as exc:
        return _encounter_page(request, services, encounter_id, typed=typed, **problem_of(exc))
    return _back(encounter_id, "settled")


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
        return _encounter_page(request, services, encounter_id, error="撤销结算须填写原因")
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
        return _encounter_page(request, services, encounter_id, confirm=confirm)
    try:
        services.revocations.revoke(settlement_id, reason=reason.strip(), actor=session.user.name)
    except AdapterError as exc:
        return _encounter_page(request, services, encounter_id, **problem_of(exc))
    return _back(encounter_id, "revoked")


@router.post("/{encounter_id}/manual-claim", dependencies=[Csrf])
def manual_claim(
    request: Request,
    encounter_id: str,
    services: ServicesDep,
    session: BillingDesk,
    reason: Annotated[str, Form()] = "",
    detail: Annotated[str, Form()] = "",
    confirmed: Annotated[str, Form()] = "",
) -> Response:
    try:
        why = ManualClaimReason(reason)
    except ValueError:
        return _encounter_page(request, services, encounter_id, error="请选择转手工报销的原因")
    if why is not ManualClaimReason.UPSTREAM_UNAVAILABLE and not detail.strip():
        error = f"{why.label}须说明具体情况"
        return _encounter_page(request, services, encounter_id, error=error)
    if confirmed != "1":
        confirm = Confirm(
            title="确认转参保地手工报销？",
            upstream=(
                f"原因：{why.label}。转出后本次就诊不能再直接结算，不向上级系统上传出院结算信息；"
                "请打印费用清单交工伤职工，由参保地经办机构手工报销（杜绝重复报销）。"
            ),
            article="N§38、B§27",
            action=f"/web/billing/{encounter_id}/manual-claim",
            button="确认转手工报销",
            back=f"/web/billing/{encounter_id}",
            fields={"reason": why.value, "detail": detail.strip()},
        )
        return _encounter_page(request, services, encounter_id, confirm=confirm)
    try:
        claim = services.manual_claims.create(
            encounter_id, why, detail.strip(), actor=session.user.name
        )
    except RevocationNotAcknowledged as exc:
        return _encounter_page(
            request, services, encounter_id, revocation=exc.revocation, **problem_of(exc)
        )
    except AdapterError as exc:
        return _encounter_page(request, services, encounter_id, **problem_of(exc))
    return _encounter_page(request, services, encounter_id, claim=claim, done=DONE["claim"])


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
    citizen_id = citizen_id.strip()
    with services.context.uow() as uow:
        record = _stay_of_citizen(uow, citizen_id)
    if record is None:
        who = mask_citizen_id(citizen_id) if _CITIZEN_ID.match(citizen_id) else "无效"
        error = f"未找到该职工（社会保障号码 {who}）在本机构的就诊，请按住院号查找"
        return _find_page(request, services, status=404, error=error)
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


@router.post("/{encounter_id}/hand-over", dependencies=[Csrf])
def hand_over(
    request: Request,
    encounter_id: str,
    services: ServicesDep,
    session: BillingDesk,
    claim_id: Annotated[str, Form()] = "",
    discharged_at: Annotated[str, Form()] = "",
) -> Response:
    """A manual-claim case's fee list printed and handed over: it stays a manual claim."""

    def hand() -> None:
        when = local_time(discharged_at, web_config(request).zone, now(request))
        services.manual_claims.hand_over(claim_id, actor=session.user.name, discharged_at=when)

    return _act(request, services, encounter_id, hand, "handed")


@router.post("/{encounter_id}/switch-to-direct", dependencies=[Csrf])
def switch_to_direct(
    request: Request,
    encounter_id: str,
    services: ServicesDep,
    session: BillingDesk,
    claim_id: Annotated[str, Form()] = "",
    card: Annotated[str, Form()] = "",
    card_kind: Annotated[str, Form()] = "auto",
) -> Response:
    """Upstream answers again before the list was handed over: check and register (WI2401)."""

    def switch() -> None:
        services.manual_claims.switch_to_direct(
            claim_id, read_card(card, card_kind), actor=session.user.name
        )

    return _act(request, services, encounter_id, switch, "switched")
