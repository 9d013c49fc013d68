"""``/api/v1/device-fittings`` (device counter): check the card, the device filing and the
payment approval notice (B§34), fetch the insured place's device catalogue when it is not
loaded (N§32), price against it and the limits — one limit per item per fitting (N§34, B§35)
— settle, queue WI2701 due in 30 minutes (N§34).

``POST …/presettle`` prices the same fitting and settles nothing: the warnings the counter
must know before fitting (an item off the notice is the worker's, N§34; a replacement inside
the minimum years, 附表2). A replacement the worker would pay is settled only with
``replacement_confirmed: true``; without it the fitting answers 409 naming the earlier
fitting (date, item, where).

Upstream down at the counter answers 503 ``UPSTREAM_DOWN_AT_DEVICE_COUNTER`` (N§38, B§27) with
the two ways on: fit later, or send ``manual_claim_if_upstream_down: true`` to record the
fitting as a manual-claim case from the start (202, its fee list marked 手工报销). The case's
``…/manual-claims/{id}/hand-over`` hands the list over (final); before that,
``…/manual-claims/{id}/switch-to-direct`` checks the card and settles the fitting directly."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Response, status
from pydantic import AwareDatetime, Field

from adapter.api.duplicate_keys import ParsedOnce
from adapter.api.routes.common import (
    CardIn,
    Device,
    FindingOut,
    Money,
    MoneyIn,
    Out,
    ServicesDep,
    Strict,
    UploadOut,
    examples,
)
from adapter.api.routes.manual_claims import ManualClaimOut
from adapter.api.routes.views import BillOut, SettlementOut
from adapter.domain.device_totals import DeviceTotal, device_totals
from adapter.domain.devices import DeviceItem
from adapter.services.container import Services
from adapter.services.devices import FitDevices, Fitted

router = APIRouter(
    prefix="/api/v1/device-fittings", tags=["device fittings"], route_class=ParsedOnce
)


class DeviceItemIn(Strict):
    device_code: str = Field(min_length=1, max_length=64)
    device_name: str = Field("", max_length=200)
    actual_cost: MoneyIn = Field(gt=0)


class FittingIn(Strict):
    card: CardIn
    approval_notice_no: str = Field(min_length=1, max_length=64)
    items: list[DeviceItemIn] = Field(min_length=1, max_length=50)
    fitted_at: AwareDatetime
    replacement_confirmed: bool = Field(
        False,
        description="the counter was shown the replacements inside the minimum years that the "
        "worker pays (附表2) and goes on",
    )
    manual_claim_if_upstream_down: bool = Field(
        False,
        description="upstream down: record the fitting as a manual-claim case from the start "
        "(N§38, B§27) instead of answering 503",
    )

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

    def to_domain(self) -> FitDevices:
        return FitDevices(
            card=self.card.to_domain(),
            approval_notice_no=self.approval_notice_no.strip(),
            items=tuple(
                DeviceItem(i.device_code.strip(), i.device_name, i.actual_cost) for i in self.items
            ),
            fitted_at=self.fitted_at,
            replacement_confirmed=self.replacement_confirmed,
        )


class DeviceTotalOut(Out):
    """One item of the fitting, its lines summed, and its limit once (N§34, B§35)."""

    device_code: str
    device_name: str
    lines: int
    amount: Money
    fund_pay: Money
    personal_pay: Money
    limit: Money | None
    reason: str

    @classmethod
    def of(cls, total: DeviceTotal) -> DeviceTotalOut:
        return cls(**asdict(total))


class FittingOut(SettlementOut):
    devices: list[DeviceTotalOut] = Field(default_factory=list)


class DevicePresettleOut(BillOut):
    catalogue_region: str = Field(description="the region whose device catalogue priced it")
    devices: list[DeviceTotalOut]
    warnings: list[FindingOut]
    needs_confirmation: list[FindingOut] = Field(
        description="replacements the worker pays: fit with replacement_confirmed=true"
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=FittingOut | ManualClaimOut,
    summary="Fit and settle assistive devices",
    responses={
        200: {"description": "the same fitting again: its settlement"},
        202: {"description": "upstream down: recorded as a manual-claim case (N§38, B§27)"},
    },
)
def fit(
    body: FittingIn, services: ServicesDep, principal: Device, response: Response
) -> FittingOut | ManualClaimOut:
    request = body.to_domain()
    if not body.manual_claim_if_upstream_down:
        return _fitting_out(services, services.devices.fit(request, actor=principal.name), response)
    result = services.device_claims.fit_or_claim(request, actor=principal.name)
    if isinstance(result, Fitted):
        return _fitting_out(services, result, response)
    response.status_code = status.HTTP_202_ACCEPTED
    return ManualClaimOut.of(result)


def _fitting_out(services: Services, fitted: Fitted, response: Response) -> FittingOut:
    if fitted.replayed:
        response.status_code = status.HTTP_200_OK
    totals = device_totals(fitted.settlement.bill.lines)
    out = FittingOut.settled(
        fitted.settlement,
        services.context.zone,
        upload=UploadOut.of(fitted.upload) if fitted.upload else None,
        warnings=[FindingOut.of(w) for w in fitted.warnings],
        replayed=fitted.replayed,
        devices=[DeviceTotalOut.of(t) for t in totals],
    )
    assert isinstance(out, FittingOut)
    return out


@router.post(
    "/presettle",
    response_model=DevicePresettleOut,
    summary="Price a fitting and say what the counter must know first; settles nothing",
)
def presettle(body: FittingIn, services: ServicesDep, principal: Device) -> DevicePresettleOut:
    preview = services.devices.presettle(body.to_domain(), actor=principal.name)
    context = services.context
    return DevicePresettleOut(
        **BillOut.bill(
            preview.bill,
            settles_on=context.local_date(context.now()),
            catalogue_region=preview.catalogue_region,
            devices=[DeviceTotalOut.of(t) for t in device_totals(preview.bill.lines)],
            warnings=[FindingOut.of(w) for w in preview.warnings],
            needs_confirmation=[FindingOut.of(w) for w in preview.needs_confirmation],
        )
    )


@router.get(
    "/manual-claims/{claim_id}",
    response_model=ManualClaimOut,
    summary="A fitting recorded as a manual-claim case, and its fee list",
)
def manual_claim(claim_id: str, services: ServicesDep, _: Device) -> ManualClaimOut:
    return ManualClaimOut.of(services.manual_claims.get(claim_id))


@router.post(
    "/manual-claims/{claim_id}/hand-over",
    response_model=ManualClaimOut,
    summary="Hand the fitting's fee list (手工报销) to the worker: it stays a manual claim",
)
def hand_over(claim_id: str, services: ServicesDep, principal: Device) -> ManualClaimOut:
    return ManualClaimOut.of(services.manual_claims.hand_over(claim_id, actor=principal.name))


class DeviceSwitchIn(Strict):
    card: CardIn
    replacement_confirmed: bool = Field(
        False, description="as for a fitting: replacements the worker pays shown (附表2)"
    )


@router.post(
    "/manual-claims/{claim_id}/switch-to-direct",
    response_model=FittingOut,
    summary="Upstream is back before the list was handed over: check the card, settle directly",
)
def switch_to_direct(
    claim_id: str,
    body: DeviceSwitchIn,
    services: ServicesDep,
    principal: Device,
    response: Response,
) -> FittingOut:
    fitted = services.device_claims.switch_to_direct(
        claim_id,
        body.card.to_domain(),
        actor=principal.name,
        replacement_confirmed=body.replacement_confirmed,
    )
    return _fitting_out(services, fitted, response)
