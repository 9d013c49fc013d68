"""The device counter (辅助器具配置, N§34, B§34, B§35): the card and the insured place's payment
approval notice, the filed device items with their limits and minimum years, the actual
costs, settle, print. Above an item's limit the fund pays the limit and the worker the rest.

The limit shown is the one pricing applies (the lower of the filing's and the insured place's
catalogue's, N§34, B§35), labelled with which one binds: the clerk quotes the worker that figure."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from adapter.domain.devices import DeviceItem
from adapter.domain.encounters import EncounterKind
from adapter.domain.errors import AdapterError
from adapter.services.devices import FitDevices
from adapter.web.auth import Csrf
from adapter.web.forms import FormError, amount, card_text, read_card
from adapter.web.forms import problem as problem_of
from adapter.web.forms import refusal as refusal_of
from adapter.web.pages.common import DeviceDesk, ServicesDep, now
from adapter.web.render import page

router = APIRouter(prefix="/web/device", include_in_schema=False)


def _desk(request: Request, **context: object) -> Response:
    status = 422 if context.get("refusal") or context.get("error") else 200
    return page(request, "device.html", status_code=status, **context)


@router.get("", response_class=HTMLResponse)
def device_desk(request: Request, _: DeviceDesk) -> Response:
    return _desk(request)


@router.post("/check", response_class=HTMLResponse, dependencies=[Csrf])
def check(
    request: Request,
    services: ServicesDep,
    _: DeviceDesk,
    card: Annotated[str, Form()] = "",
    notice: Annotated[str, Form()] = "",
) -> Response:
    """The device filing and the notice, as upstream says now; changes nothing."""
    try:
        card_data = read_card(card)
        if not notice.strip():
            raise FormError("请输入配置费用核付通知单号")
        answer = services.eligibility.query(
            card_data,
            EncounterKind.DEVICE,
            now(request).date(),
            approval_notice_no=notice.strip(),
        )
    except FormError as exc:
        return _desk(request, error=str(exc), notice=notice)
    except AdapterError as exc:
        return _desk(request, notice=notice, **problem_of(exc))
    decision = answer.decision
    context: dict[str, object] = {
        "card_value": card_text(card_data),
        "notice": notice.strip(),
        "facts": answer.facts,
        "decision": decision,
    }
    if not decision.eligible:
        context["refusal"] = refusal_of(decision.reasons)
    elif decision.filing is not None and answer.facts is not None:
        context["limits"] = services.devices.limits(
            decision.filing, answer.facts.person.insured_admdvs, now(request)
        )
    return _desk(request, **context)


@router.post("/fit", response_class=HTMLResponse, dependencies=[Csrf])
def fit(
    request: Request,
    services: ServicesDep,
    session: DeviceDesk,
    card: Annotated[str, Form()] = "",
    notice: Annotated[str, Form()] = "",
    code: Annotated[list[str] | None, Form()] = None,
    name: Annotated[list[str] | None, Form()] = None,
    cost: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """Settle the items given an actual cost (the others are not fitted this time)."""
    try:
        items = tuple(
            DeviceItem(c, n, amount(v, f"{n}的实际费用"))
            for c, n, v in zip(code or [], name or [], cost or [], strict=True)
            if v.strip()
        )
        if not items:
            raise FormError("请至少填写一件辅助器具的实际费用")
        fitted = services.devices.fit(
            FitDevices(read_card(card), notice.strip(), items, now(request)),
            actor=session.user.name,
        )
    except FormError as exc:
        return _desk(request, error=str(exc), notice=notice)
    except AdapterError as exc:
        return _desk(request, notice=notice, **problem_of(exc))
    return _desk(request, fitted=fitted)
