"""Encounters: admit, look, fees (and mapping unknown items), rehab plan, presettle, settle,
cancel — ``/api/v1/encounters…`` of interfaces.md §1.

Admit, fees, settle and cancel go through the front door HL7 uses too (``services.commands``,
:mod:`adapter.domain.commands`): the same rules, replays and warnings on both faces. Fee
mapping, the rehab plan, presettle and the reads have no HL7 message and call their use cases.

Roles: admit and cancel — admission, his; fees, rehab plan and settle — billing, his;
presettle and fee mapping — billing; reading (the encounter, a page of its fee lines) — any
role. A rehab-plan override at settlement is the settlement supervisor's (结算主管) decision, so
it needs the supervisor role besides billing or his (N§33 "原则上").
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response, status

from adapter.api.deps import SettingsDep
from adapter.api.duplicate_keys import ParsedOnce
from adapter.api.routes.common import (
    MAX_OFFSET,
    MAX_PAGE,
    Admission,
    AnyRole,
    Billing,
    BillingOrHis,
    FindingOut,
    Out,
    ServicesDep,
    UploadOut,
    answer,
)
from adapter.api.routes.encounter_bodies import (
    AdmitIn,
    CancelIn,
    FeesIn,
    FeesRecordedOut,
    MappingIn,
    PresettleIn,
    RehabPlanIn,
    SettleIn,
    StayFeesOut,
    StayFeesPageOut,
    diagnoses,
)
from adapter.api.routes.outcomes import encounter_of, settlement_of
from adapter.api.routes.views import (
    AdmissionOut,
    BillOut,
    EncounterDetailOut,
    EncounterOut,
    PresettleOut,
    RehabPlanOut,
    SettlementOut,
)
from adapter.domain.commands import Admit, CancelAdmission, Discharge, RecordFees
from adapter.domain.encounters import EncounterKind
from adapter.domain.errors import InvalidMessage
from adapter.store.tokens import SUPERVISOR

router = APIRouter(prefix="/api/v1/encounters", tags=["encounters"], route_class=ParsedOnce)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=AdmissionOut,
    summary="Admit (入院登记): verify card and filing, register, queue WI2401",
    responses={200: {"description": "the same his_visit_id again: the existing encounter"}},
)
def admit(
    body: AdmitIn, services: ServicesDep, principal: Admission, response: Response
) -> AdmissionOut:
    outcome = services.commands.admit(
        Admit(
            card=body.card.to_domain(),
            his_visit_id=body.his_visit_id.strip(),
            kind=EncounterKind(body.kind),
            admitted_at=body.admitted_at,
            diagnoses=diagnoses(body.diagnoses),
            injury_parts=tuple(p.strip() for p in body.injury_parts if p.strip()),
            department=body.department.strip(),
            manual_claim_if_upstream_down=body.manual_claim_if_upstream_down,
        ),
        actor=principal.name,
    )
    if outcome.replayed:
        response.status_code = status.HTTP_200_OK
    return AdmissionOut(
        **EncounterOut.of(encounter_of(outcome)).model_dump(),
        replayed=outcome.replayed,
        warnings=[FindingOut.of(w) for w in outcome.warnings],
        upload=UploadOut.of(outcome.upload) if outcome.upload else None,
        manual_claim_id=outcome.manual_claim_id,
    )


class WaitingStayOut(Out):
    encounter_id: str
    his_visit_id: str
    kind: str
    discharged_at: datetime
    since: datetime
    requested_by: str
    checked_at: datetime | None
    ready_to_settle: bool
    refusal: str
    message: str


@router.get(
    "/waiting-for-upstream",
    response_model=list[WaitingStayOut],
    summary="Stays whose discharge met an upstream outage (N§38): re-checked, ready to settle?",
)
def waiting_for_upstream(services: ServicesDep, _: AnyRole) -> list[WaitingStayOut]:
    out = []
    for stay in services.discharge_waits.waiting():
        if stay.ready_at is not None:
            message = "上级系统已恢复，身份和备案重新核验通过，可以办理出院结算"
        elif stay.refusal:
            message = f"上级系统已恢复，但重新核验未通过：{stay.refusal}"
        else:
            message = "等待上级系统恢复，恢复后自动重新核验（N§38）"
        out.append(
            WaitingStayOut(
                encounter_id=stay.encounter_id,
                his_visit_id=stay.his_visit_id,
                kind=stay.kind,
                discharged_at=stay.discharged_at,
                since=stay.since,
                requested_by=stay.requested_by,
                checked_at=stay.checked_at,
                ready_to_settle=stay.ready_at is not None,
                refusal=stay.refusal,
                message=message,
            )
        )
    return out


@router.get(
    "/{encounter_id}",
    response_model=EncounterDetailOut,
    summary="The encounter: fees priced now, rehab plan, settlement, uploads",
)
def get_encounter(encounter_id: str, services: ServicesDep, _: AnyRole) -> EncounterDetailOut:
    return EncounterDetailOut.view(services.encounter(encounter_id), services.context.zone)


@router.get(
    "/{encounter_id}/fees",
    response_model=StayFeesPageOut,
    summary="A page of the stay's fee lines, priced (who pays and why), and its totals",
)
def fee_lines(
    encounter_id: str,
    services: ServicesDep,
    _: AnyRole,
    settings: SettingsDep,
    offset: Annotated[
        int,
        Query(
            ge=0,
            le=MAX_OFFSET,
            description="从第几条明细开始（从 0 起，按录入顺序） / the first line's position "
            "(0-based, arrival order)",
        ),
    ] = 0,
    limit: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_PAGE,
            description="本页最多条数（1–1000，默认 [api] answer_lines） / at most this many "
            "lines (1–1000; default [api] answer_lines)",
        ),
    ] = None,
) -> Response:
    size = limit or settings.api.answer_lines
    fees = services.stay_fee_page(encounter_id, offset=offset, limit=size)
    # a page of lines, serialised once
    return answer(StayFeesPageOut.page(encounter_id, fees, offset=offset, limit=size))


@router.post(
    "/{encounter_id}/fees",
    response_model=FeesRecordedOut,
    summary="Record fee lines (费用明细); repeats ignored, negative quantities reverse",
)
def record_fees(
    encounter_id: str, body: FeesIn, services: ServicesDep, principal: BillingOrHis
) -> FeesRecordedOut:
    lines = tuple(line.to_domain() for line in body.lines)
    outcome = services.commands.record_fees(
        RecordFees("", lines, encounter_id=encounter_id), actor=principal.name
    )
    return FeesRecordedOut(
        encounter_id=encounter_id,
        added=list(outcome.added_line_ids),
        ignored=list(outcome.ignored_line_ids),
        unmapped=list(outcome.unmapped_line_ids),
        reversals=dict(outcome.reversals),
        # The batch's lines and the stay's totals, not the whole stay (GET …/fees pages it).
        fees=StayFeesOut.stay(
            encounter_id, services.stay_fees(encounter_id, [line.line_id for line in lines])
        ),
        warnings=[FindingOut.of(w) for w in outcome.warnings],
        replayed=outcome.replayed,
    )


@router.put(
    "/{encounter_id}/fees/{line_id}/mapping",
    response_model=StayFeesOut,
    summary="Map an unknown item to a catalogue item, or confirm it out of catalogue",
)
def map_fee_line(
    encounter_id: str, line_id: str, body: MappingIn, services: ServicesDep, principal: Billing
) -> StayFeesOut:
    code = (body.catalogue_code or "").strip()
    if bool(code) == body.out_of_catalogue:
        raise InvalidMessage(
            "须填写目录编码（catalogue_code），"
            "或确认为目录外项目（out_of_catalogue: true），二选一",
            field="catalogue_code",
        )
    services.fees.map_line(encounter_id, line_id, code or None, actor=principal.name)
    # The line and its reversals, priced again, and the stay's totals.
    return StayFeesOut.stay(
        encounter_id, services.stay_fees(encounter_id, [line_id], with_reversals=True)
    )


@router.put(
    "/{encounter_id}/rehab-plan",
    response_model=RehabPlanOut,
    summary="Store the rehab plan (康复方案) and queue WI2501, due before discharge",
)
def put_rehab_plan(
    encounter_id: str, body: RehabPlanIn, services: ServicesDep, principal: BillingOrHis
) -> RehabPlanOut:
    saved = services.rehab.save(encounter_id, body.model_dump(), actor=principal.name)
    plan = saved.plan
    return RehabPlanOut(
        revision=plan.revision,
        plan=dict(plan.plan),
        msgid=plan.msgid,
        saved_at=plan.saved_at,
        saved_by=plan.saved_by,
        acknowledged=saved.replayed and services.rehab.acknowledged(plan),
        upload=UploadOut.of(saved.upload),
    )


@router.post(
    "/{encounter_id}/presettle",
    response_model=PresettleOut,
    summary="The settlement as it would be now; nothing is written",
)
def presettle(
    encounter_id: str, services: ServicesDep, _: Billing, body: PresettleIn | None = None
) -> Response:
    preview = services.settlements.presettle(encounter_id, body.discharged_at if body else None)
    ctx = services.context
    out = PresettleOut(
        **BillOut.bill(
            preview.bill,
            settles_on=ctx.local_date(ctx.now()),
            encounter_id=encounter_id,
            unmapped=list(preview.unmapped),
            can_settle=not preview.blocking,
            blocking=[FindingOut.of(finding) for finding in preview.blocking],
        )
    )
    return answer(out)  # every line of the stay: serialised once


@router.post(
    "/{encounter_id}/settle",
    status_code=status.HTTP_201_CREATED,
    response_model=SettlementOut,
    summary="Discharge settlement: check again, settle, queue WI2301 due in 30 minutes",
    responses={
        200: {"description": "the same settle request again: the first settlement (replayed)"},
        503: {"description": "upstream down (N§38): wait (listed, re-checked) or manual claim"},
    },
)
def settle(
    encounter_id: str,
    body: SettleIn,
    services: ServicesDep,
    principal: BillingOrHis,
    settings: SettingsDep,
) -> Response:
    override = body.rehab_plan_override.reason.strip() if body.rehab_plan_override else ""
    if override and SUPERVISOR not in principal.roles:
        raise HTTPException(
            403,
            "康复方案未送达上级系统时强制结算须由结算主管操作：该令牌没有“结算主管”角色。"
            "请由结算主管结算，或不带强制结算原因结算（须待康复方案送达，N§33、B§32）",
        )
    outcome = services.commands.discharge(
        Discharge(
            "",
            body.discharged_at,
            diagnoses(body.discharge_diagnoses),
            encounter_id=encounter_id,
            card=body.card.to_domain() if body.card else None,
            rehab_override_reason=override,
            show_lines=settings.api.answer_lines,
        ),
        actor=principal.name,
    )
    out = SettlementOut.settled(
        settlement_of(outcome),
        services.context.zone,
        page=settings.api.answer_lines,  # the rest: lines_next
        upload=outcome.upload and UploadOut.of(outcome.upload),
        warnings=[FindingOut.of(w) for w in outcome.warnings],
        replayed=outcome.replayed,
    )
    # a page of lines, serialised once
    return answer(out, status.HTTP_200_OK if outcome.replayed else status.HTTP_201_CREATED)


@router.post(
    "/{encounter_id}/cancel",
    response_model=EncounterOut,
    summary="Cancel an admission that has no settlement; queue WI2404",
)
def cancel(
    encounter_id: str, services: ServicesDep, principal: Admission, body: CancelIn | None = None
) -> EncounterOut:
    reason = body.reason if body else ""
    outcome = services.commands.cancel_admission(
        CancelAdmission("", reason, encounter_id=encounter_id), actor=principal.name
    )
    return EncounterOut.of(encounter_of(outcome))
