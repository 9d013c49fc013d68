"""``POST /api/v1/device-fittings`` (device counter): check the card, the device filing and the
payment approval notice (B§34), price against the insured place's catalogue and limits
(N§34, B§35), settle, queue WI2701 due in 30 minutes (N§34)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from pydantic import AwareDatetime, Field

from adapter.api.routes.common import (
    CardIn,
    Device,
    FindingOut,
    MoneyIn,
    ServicesDep,
    Strict,
    UploadOut,
    examples,
)
from adapter.api.routes.views import SettlementOut
from adapter.domain.devices import DeviceItem
from adapter.services.devices import FitDevices

router = APIRouter(prefix="/api/v1/device-fittings", tags=["device fittings"])


class DeviceItemIn(Strict):
    device_code: str = Field(min_length=1, max_length=64)
    device_name: str = Field("", max_length=200)
    actual_cost: MoneyIn = Field(gt=0)


class FittingIn(Strict):
    card: CardIn
    approval_notice_no: str = Field(min_length=1, max_length=64)
    items: list[DeviceItemIn] = Field(min_length=1, max_length=50)
    fitted_at: AwareDatetime

    model_config = examples(
        {
            "card": {"kind": "physical", "card_no": "310100L0011"},
            "approval_notice_no": "沪工伤辅核〔2026〕第0421号",
            "items": [
                {"device_code": "SH-FZ-0101", "device_name": "前臂假肢", "actual_cost": "30000.00"}
            ],
            "fitted_at": "2026-11-24T10:00:00+08:00",
        }
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=SettlementOut,
    summary="Fit and settle assistive devices",
    responses={200: {"description": "the same fitting again: its settlement"}},
)
def fit(
    body: FittingIn, services: ServicesDep, principal: Device, response: Response
) -> SettlementOut:
    fitted = services.devices.fit(
        FitDevices(
            card=body.card.to_domain(),
            approval_notice_no=body.approval_notice_no.strip(),
            items=tuple(
                DeviceItem(i.device_code.strip(), i.device_name, i.actual_cost) for i in body.items
            ),
            fitted_at=body.fitted_at,
        ),
        actor=principal.name,
    )
    if fitted.replayed:
        response.status_code = status.HTTP_200_OK
    return SettlementOut.settled(
        fitted.settlement,
        services.context.zone,
        upload=UploadOut.of(fitted.upload) if fitted.upload else None,
        warnings=[FindingOut.of(w) for w in fitted.warnings],
        replayed=fitted.replayed,
    )
