"""Encounters: admit, look, fees (and mapping unknown items), rehab plan, presettle, settle,
cancel — ``/api/v1/encounters…`` of interfaces.md §1.

Roles: admit and cancel — admission, his; fees, rehab plan and settle — billing, his;
presettle and fee mapping — billing; reading — any role. A rehab-plan override at settlement
is a billing supervisor's decision, so it needs the billing role even when the HIS settles.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, HTTPException, Response, status
from pydantic import AwareDatetime, BaseModel, Field

from adapter.api.routes.common import (
    Admission,
    AnyRole,
    Billing,
    BillingOrHis,
    CardIn,
    FindingOut,
    MoneyIn,
    QuantityIn,
    ServicesDep,
    Strict,
    UploadOut,
    examples,
)
from adapter.api.routes.views import (
    AdmissionOut,
    BillOut,
    EncounterDetailOut,
    EncounterOut,
    FeesOut,
    PresettleOut,
    RehabPlanOut,
    SettlementOut,
)
from adapter.domain.commands import Admit, Diagnosis
from adapter.domain.encounters import EncounterKind
from adapter.domain.errors import InvalidMessage
from adapter.domain.fees import FeeCategory, FeeLine
from adapter.services.settlement import SettleRequest

router = APIRouter(prefix="/api/v1/encounters", tags=["encounters"])


class DiagnosisIn(Strict):
    code: str = Field(min_length=1, max_length=32, examples=["S62.301"])
    name: str = Field("", max_length=200, examples=["左手第三掌骨骨折"])


class AdmitIn(Strict):
    card: CardIn
    his_visit_id: str = Field(min_length=1, max_length=64)
    kind: Literal["medical", "rehab"]
    admitted_at: AwareDatetime
    department: str = Field("", max_length=100)
    diagnoses: list[DiagnosisIn] = Field(default_factory=list)
    injury_parts: list[str] = Field(default_factory=list)

    model_config = examples(
        {
            "card": {"kind": "physical", "card_no": "310100A0001"},
            "his_visit_id": "ZY20261124001",
            "kind": "medical",
            "admitted_at": "2026-11-20T09:00:00+08:00",
            "department": "骨科",
            "diagnoses": [{"code": "S62.301", "name": "左手第三掌骨骨折"}],
            "injury_parts": ["左手"],
        }
    )


def _diagnoses(items: list[DiagnosisIn]) -> tuple[Diagnosis, ...]:
    return tuple(Diagnosis(d.code.strip(), d.name.strip()) for d in items)


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
    result = services.admissions.admit(
        Admit(
            card=body.card.to_domain(),
            his_visit_id=body.his_visit_id.strip(),
            kind=EncounterKind(body.kind),
            admitted_at=body.admitted_at,
            diagnoses=_diagnoses(body.diagnoses),
            injury_parts=tuple(p.strip() for p in body.injury_parts if p.strip()),
            department=body.department.strip(),
        ),
        actor=principal.name,
    )
    if result.replayed:
        response.status_code = status.HTTP_200_OK
    return AdmissionOut(
        **EncounterOut.of(result.encounter).model_dump(),
        replayed=result.replayed,
        warnings=[FindingOut.of(w) for w in result.warnings],
        upload=UploadOut.of(result.upload) if result.upload else None,
    )


@router.get(
    "/{encounter_id}",
    response_model=EncounterDetailOut,
    summary="The encounter: fees priced now, rehab plan, settlement, uploads",
)
def get_encounter(encounter_id: str, services: ServicesDep, _: AnyRole) -> EncounterDetailOut:
    return EncounterDetailOut.view(services.encounter(encounter_id))


class FeeLineIn(Strict):
    his_line_id: str = Field(min_length=1, max_length=64)
    item_code: str = Field(min_length=1, max_length=64)
    item_name: str = Field("", max_length=300)
    category: Literal["drug", "treatment", "service", "rehab", "device", "meal", "transport"]
    quantity: QuantityIn = Field(description="negative: reverses its original")
    unit_price: QuantityIn = Field(ge=0)
    amount: MoneyIn
    occurred_at: AwareDatetime
    work_injury: bool = Field(True, description="false: non-work-injury treatment (B§29)")
    reverses: str = Field("", max_length=64, description="his_line_id of the original")
    department: str = Field("", max_length=100)
    unit: str = Field("", max_length=32)

    def to_domain(self) -> FeeLine:
        return FeeLine(
            line_id=self.his_line_id.strip(),
            item_code=self.item_code.strip(),
            item_name=self.item_name,
            category=FeeCategory(self.category),
            quantity=self.quantity,
            unit_price=self.unit_price,
            amount=self.amount,
            occurred_at=self.occurred_at,
            work_injury=self.work_injury,
            reverses=self.reverses.strip(),
            department=self.department,
            unit=self.unit,
        )


class FeesIn(Strict):
    lines: list[FeeLineIn] = Field(min_length=1, max_length=5000)

    model_config = examples(
        {
            "lines": [
                {
                    "his_line_id": "FY0001",
                    "item_code": "XN02BEB001",
                    "item_name": "布洛芬缓释胶囊",
                    "category": "drug",
                    "quantity": "2",
                    "unit_price": "18.25",
                    "amount": "36.50",
                    "occurred_at": "2026-11-21T10:00:00+08:00",
                    "work_injury": True,
                }
            ]
        }
    )


class FeesRecordedOut(BaseModel):
    encounter_id: str
    added: list[str]
    ignored: list[str] = Field(description="repeated his_line_id: already recorded")
    unmapped: list[str] = Field(description="items not in the catalogue: for the billing clerk")
    reversals: dict[str, str]
    fees: FeesOut


@router.post(
    "/{encounter_id}/fees",
    response_model=FeesRecordedOut,
    summary="Record fee lines (费用明细); repeats ignored, negative quantities reverse",
)
def record_fees(
    encounter_id: str, body: FeesIn, services: ServicesDep, principal: BillingOrHis
) -> FeesRecordedOut:
    recorded = services.fees.record(
        encounter_id, [line.to_domain() for line in body.lines], actor=principal.name
    )
    return FeesRecordedOut(
        encounter_id=encounter_id,
        added=list(recorded.added),
        ignored=list(recorded.ignored),
        unmapped=list(recorded.unmapped),
        reversals=recorded.reversals,
        fees=FeesOut.of(services.encounter(encounter_id).fees),
    )


class MappingIn(Strict):
    catalogue_code: str | None = Field(None, max_length=64, examples=["XJ01DCC061"])
    out_of_catalogue: bool = Field(False, description="confirm as 目录外: the worker pays")


@router.put(
    "/{encounter_id}/fees/{line_id}/mapping",
    response_model=FeesOut,
    summary="Map an unknown item to a catalogue item, or confirm it out of catalogue",
)
def map_fee_line(
    encounter_id: str, line_id: str, body: MappingIn, services: ServicesDep, principal: Billing
) -> FeesOut:
    code = (body.catalogue_code or "").strip()
    if bool(code) == body.out_of_catalogue:
        raise InvalidMessage(
            "须填写目录编码（catalogue_code），"
            "或确认为目录外项目（out_of_catalogue: true），二选一",
            field="catalogue_code",
        )
    services.fees.map_line(encounter_id, line_id, code or None, actor=principal.name)
    return FeesOut.of(services.encounter(encounter_id).fees)


class RehabItemIn(Strict):
    item_code: str = Field(min_length=1, max_length=64)
    item_name: str = Field("", max_length=200)
    frequency: str = Field("", max_length=64)
    sessions: int | None = Field(None, ge=0)


class RehabPlanIn(Strict):
    goals: str = Field(min_length=1, max_length=2000)
    items: list[RehabItemIn] = Field(min_length=1)
    frequency: str = Field("", max_length=64)
    expected_days: int = Field(ge=1, le=3650)

    model_config = examples(
        {
            "goals": "恢复右上肢肌力，生活自理",
            "items": [{"item_code": "340200001", "item_name": "运动疗法", "frequency": "每日1次"}],
            "frequency": "每日",
            "expected_days": 30,
        }
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
        acknowledged=False,
        upload=UploadOut.of(saved.upload),
    )


class PresettleIn(Strict):
    discharged_at: AwareDatetime | None = None


@router.post(
    "/{encounter_id}/presettle",
    response_model=PresettleOut,
    summary="The settlement as it would be now; nothing is written",
)
def presettle(
    encounter_id: str, services: ServicesDep, _: Billing, body: PresettleIn | None = None
) -> PresettleOut:
    preview = services.settlements.presettle(encounter_id, body.discharged_at if body else None)
    return PresettleOut(
        **BillOut.bill(
            preview.bill,
            encounter_id=encounter_id,
            unmapped=list(preview.unmapped),
            can_settle=not preview.unmapped,
        )
    )


class OverrideIn(Strict):
    reason: str = Field(min_length=2, max_length=500)


class SettleIn(Strict):
    discharged_at: AwareDatetime
    discharge_diagnoses: list[DiagnosisIn] = Field(default_factory=list)
    card: CardIn | None = Field(None, description="the card shown again at discharge, if read")
    rehab_plan_override: OverrideIn | None = Field(
        None, description="billing supervisor: settle before the plan is acknowledged (N§33)"
    )

    model_config = examples(
        {
            "discharged_at": "2026-11-24T10:00:00+08:00",
            "discharge_diagnoses": [{"code": "S62.301", "name": "左手第三掌骨骨折"}],
        }
    )


@router.post(
    "/{encounter_id}/settle",
    status_code=status.HTTP_201_CREATED,
    response_model=SettlementOut,
    summary="Discharge settlement: check again, settle, queue WI2301 due in 30 minutes",
)
def settle(
    encounter_id: str, body: SettleIn, services: ServicesDep, principal: BillingOrHis
) -> SettlementOut:
    override = body.rehab_plan_override.reason.strip() if body.rehab_plan_override else ""
    if override and "billing" not in principal.roles:
        raise HTTPException(403, "康复方案强制结算须由结算主管（结算收费角色）操作")
    settled = services.settlements.settle(
        SettleRequest(
            encounter_id,
            body.discharged_at,
            _diagnoses(body.discharge_diagnoses),
            card=body.card.to_domain() if body.card else None,
            rehab_override_reason=override,
        ),
        actor=principal.name,
    )
    return SettlementOut.of(
        settled.settlement,
        upload=UploadOut.of(settled.upload),
        warnings=[FindingOut.of(w) for w in settled.warnings],
    )


class CancelIn(Strict):
    reason: str = Field("", max_length=500)


@router.post(
    "/{encounter_id}/cancel",
    response_model=EncounterOut,
    summary="Cancel an admission that has no settlement; queue WI2404",
)
def cancel(
    encounter_id: str, services: ServicesDep, principal: Admission, body: CancelIn | None = None
) -> EncounterOut:
    reason = body.reason if body else ""
    return EncounterOut.of(
        services.admissions.cancel(encounter_id, reason=reason, actor=principal.name)
    )
