"""``POST /api/v1/manual-claims`` (billing) and ``GET …/{id}``: a stay that cannot be settled
directly goes to the insured place with its itemised fee list, and can never be settled
directly afterwards (N§38, B§27)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

from fastapi import APIRouter, status
from pydantic import AwareDatetime, Field

from adapter.api.duplicate_keys import ParsedOnce
from adapter.api.routes.common import (
    Billing,
    CardIn,
    Desk,
    Out,
    ServicesDep,
    Strict,
    examples,
)
from adapter.api.routes.encounter_bodies import InjuryPart
from adapter.api.routes.views import EncounterOut
from adapter.domain.text import MAX_INJURY_PARTS
from adapter.services.manual_claim_records import ManualClaim, ManualClaimReason

router = APIRouter(prefix="/api/v1/manual-claims", tags=["manual claims"], route_class=ParsedOnce)


class ManualClaimIn(Strict):
    encounter_id: str = Field(min_length=1, max_length=64)
    reason: Literal["upstream_unavailable", "card_failure", "system_failure"]
    detail: str = Field("", max_length=1000)

    free_text: ClassVar[frozenset[str]] = frozenset({"detail"})

    model_config = examples(
        {"encounter_id": "E0123456789ABCDEF01234567", "reason": "card_failure",
         "detail": "社保卡芯片损坏，无法读卡"}
    )  # fmt: skip


class ManualClaimOut(Out):
    id: str
    encounter_id: str
    reason: str
    reason_label: str
    detail: str
    created_at: datetime
    created_by: str
    from_start: bool = Field(False, description="recorded at admission: upstream was down")
    handed_over_at: datetime | None = Field(None, description="fee list handed to the worker")
    fee_list: dict[str, Any] = Field(description="the itemised list for the insured place")

    @classmethod
    def of(cls, claim: ManualClaim) -> ManualClaimOut:
        return cls(
            id=claim.id,
            encounter_id=claim.encounter_id,
            reason=claim.reason.value,
            reason_label=claim.reason.label,
            detail=claim.detail,
            created_at=claim.created_at,
            created_by=claim.created_by,
            from_start=claim.from_start,
            handed_over_at=claim.handed_over_at,
            fee_list=claim.fee_list,
        )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ManualClaimOut,
    summary="Send a stay to manual reimbursement; blocks its direct settlement for good",
)
def create(body: ManualClaimIn, services: ServicesDep, principal: Billing) -> ManualClaimOut:
    claim = services.manual_claims.create(
        body.encounter_id, ManualClaimReason(body.reason), body.detail.strip(), actor=principal.name
    )
    return ManualClaimOut.of(claim)


@router.get("/{claim_id}", response_model=ManualClaimOut, summary="A manual claim and its list")
def get(claim_id: str, services: ServicesDep, _: Billing) -> ManualClaimOut:
    return ManualClaimOut.of(services.manual_claims.get(claim_id))


class HandOverIn(Strict):
    discharged_at: AwareDatetime | None = None


@router.post(
    "/{claim_id}/hand-over",
    response_model=ManualClaimOut,
    summary="Hand a manual-claim case's fee list to the worker: it stays a manual claim",
)
def hand_over(
    claim_id: str, services: ServicesDep, principal: Billing, body: HandOverIn | None = None
) -> ManualClaimOut:
    claim = services.manual_claims.hand_over(
        claim_id, actor=principal.name, discharged_at=body.discharged_at if body else None
    )
    return ManualClaimOut.of(claim)


class SwitchIn(Strict):
    card: CardIn
    injury_parts: list[InjuryPart] | None = Field(
        None,
        max_length=MAX_INJURY_PARTS,
        description="the injured parts the stay treats, one or more of the filed ones (N§16), "
        "as at admission; left out, those sent at the case's admission. A direct stay naming "
        "none where the filing lists parts is refused (EL_INJURY_PARTS_NAMED)",
    )


@router.post(
    "/{claim_id}/switch-to-direct",
    response_model=EncounterOut,
    summary="Upstream is back before the fee list was handed over: check, register (WI2401)",
)
def switch_to_direct(
    claim_id: str, body: SwitchIn, services: ServicesDep, principal: Desk
) -> EncounterOut:
    return EncounterOut.of(
        services.manual_claims.switch_to_direct(
            claim_id,
            body.card.to_domain(),
            actor=principal.name,
            injury_parts=body.injury_parts,
        )
    )
