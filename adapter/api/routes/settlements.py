"""``GET /api/v1/settlements/{id}`` (any role) and ``POST …/revoke`` (billing): the revocation
(WI2305) is queued behind the upload it revokes. A revoke sent again answers the revocation
already made (``replayed``), as HL7's ``ADT^A13`` does: both go through the same command. The
slip (``…/slip``) is a later issue."""

from __future__ import annotations

from typing import ClassVar

from fastapi import APIRouter
from pydantic import Field

from adapter.api.routes.common import AnyRole, Billing, ServicesDep, Strict, UploadOut, examples
from adapter.api.routes.outcomes import settlement_of
from adapter.api.routes.views import SettlementOut
from adapter.domain.commands import CancelDischarge

router = APIRouter(prefix="/api/v1/settlements", tags=["settlements"])


@router.get("/{settlement_id}", response_model=SettlementOut, summary="A settlement and its lines")
def get_settlement(settlement_id: str, services: ServicesDep, _: AnyRole) -> SettlementOut:
    settlement = services.settlements.get(settlement_id)
    upload = services.settlements.upload_of(settlement)
    return SettlementOut.settled(
        settlement, services.context.zone, upload=upload and UploadOut.of(upload)
    )


class RevokeIn(Strict):
    reason: str = Field(min_length=1, max_length=500)

    free_text: ClassVar[frozenset[str]] = frozenset({"reason"})

    model_config = examples({"reason": "费用明细录入有误，撤销后重新结算"})


@router.post(
    "/{settlement_id}/revoke",
    response_model=SettlementOut,
    summary="Revoke a settlement; queue WI2305 after the original upload",
)
def revoke(
    settlement_id: str, body: RevokeIn, services: ServicesDep, principal: Billing
) -> SettlementOut:
    outcome = services.commands.cancel_discharge(
        CancelDischarge("", body.reason, settlement_id=settlement_id), actor=principal.name
    )
    return SettlementOut.settled(
        settlement_of(outcome),
        services.context.zone,
        upload=outcome.upload and UploadOut.of(outcome.upload),
        replayed=outcome.replayed,
    )
