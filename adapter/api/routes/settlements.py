"""``GET /api/v1/settlements/{id}`` (any role) and ``POST …/revoke`` (billing): the revocation
(WI2305) is queued behind the upload it revokes. The slip (``…/slip``) is a later issue."""

from __future__ import annotations

from typing import ClassVar

from fastapi import APIRouter
from pydantic import Field

from adapter.api.routes.common import AnyRole, Billing, ServicesDep, Strict, UploadOut, examples
from adapter.api.routes.views import SettlementOut

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
    revoked, upload = services.settlements.revoke(
        settlement_id, reason=body.reason, actor=principal.name
    )
    return SettlementOut.settled(revoked, services.context.zone, upload=UploadOut.of(upload))
