"""The device counter (辅助器具配置, N§34, B§34, B§35): the card and the insured place's payment
approval notice, the filed device items with their limits and minimum years, the actual
costs, settle, print. Above an item's limit the fund pays the limit and the worker the rest;
the lines of one item share one limit.

The limit shown is the one pricing applies (the lower of the filing's and the insured place's
catalogue's, N§34, B§35), labelled with which one binds: the clerk quotes the worker that
figure. The insured place's catalogue is fetched when it is not loaded (N§32); when none
exists the check says which.

Where the decision is made, the counter is warned before anything is settled: a filed item
replaced inside its minimum years shows the earlier fitting (date, item, where) and whether
a new notice approves it (附表2); the rows for items *not* on the notice say the worker pays
them (N§34). A fitting with warnings is first priced (presettle) and shown with its warnings;
the counter settles it by confirming (确认配置结算) — a replacement the worker pays is never
settled without that confirmation.

Upstream down at the counter (N§38, B§27): the page says so and names the two ways on — wait
and fit later, or record the fitting as a manual-claim case from the start (按手工报销登记):
the items and actual costs typed in, the fee list marked 手工报销. Until that list is handed
over (printed) the case may switch to direct settlement with the card once upstream answers;
once handed over it stays a manual claim."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from adapter.domain.device_totals import device_totals
from adapter.domain.devices import DeviceItem
from adapter.domain.encounters import EncounterKind
from adapter.domain.errors import AdapterError, ConfirmationRequired, UpstreamUnavailable
from adapter.services.container import Services
from adapter.services.device_outage import DEVICE_OUTAGE_MESSAGE
from adapter.services.devices import FitDevices, Fitted
from adapter.services.manual_claim_records import ManualClaim
from adapter.services.worklists import LABELS, Queue, device_list
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


DEVICE_QUEUES = ("", Queue.FIT_OPEN, Queue.FITTED)


@router.get("", response_class=HTMLResponse)
def device_desk(request: Request, services: ServicesDep, _: DeviceDesk) -> Response:
    """The card field; below, today's fittings and the months whose device funds await the
    counter's confirmation of receipt (B§40)."""
    from adapter.web.pages.reconciliation import monthly_of  # the monthly services it holds

    shown = request.query_params.get("f", "")
    typed = request.query_params.get("w", "").strip()
    rows = [
        r
        for r in device_list(services.context)
        if (not shown or r.queue == shown) and typed in r.his_visit_id
    ]
    funds = monthly_of(request).device_funds
    pending = [m for m in funds.months() if m.status != "confirmed" and m.awaits_funds]
    return _desk(
        request,
        rows=rows,
        labels=LABELS,
        queues=DEVICE_QUEUES,
        shown=shown if shown in DEVICE_QUEUES else "",
        typed_filter=typed,
        funds_pending=pending,
    )


@router.post("/check", response_class=HTMLResponse, dependencies=[Csrf])
def check(
    request: Request,
    services: ServicesDep,
    session: DeviceDesk,
    card: Annotated[str, Form()] = "",
    notice: Annotated[str, Form()] = "",
) -> Response:
    """The device filing and the notice, as upstream says now; settles nothing."""
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
        decision = answer.decision
        context: dict[str, object] = {
            "typed_card": card.strip(),
            "card_value": card_text(card_data),
            "notice": notice.strip(),
            "facts": answer.facts,
            "decision": decision,
        }
        if not decision.eligible:
            context["refusal"] = refusal_of(decision.reasons)
        elif decision.filing is not None and answer.facts is not None:
            person = answer.facts.person
            context["view"] = services.devices.counter_view(
                decision.filing,
                person.insured_admdvs,
                person.psn_no,
                now(request),
                actor=session.user.name,
            )
    except FormError as exc:
        return _desk(request, error=str(exc), notice=notice, typed_card=card.strip())
    except UpstreamUnavailable:
        return _outage(request, card, notice)
    except AdapterError as exc:
        return _desk(request, notice=notice, typed_card=card.strip(), **problem_of(exc))
    return _desk(request, **context)


def _outage(
    request: Request,
    card: str,
    notice: str,
    items: tuple[DeviceItem, ...] = (),
    at: datetime | None = None,
) -> Response:
    """N§38, B§27: fit later, or record the fitting as a manual-claim case now — at the time
    the fitting was offered (``at``), which the form sends back: recorded twice (a double
    click), it is the same case, not two fee lists for the insured place (N§38 杜绝重复报销)."""
    return _desk(
        request,
        upstream_down=True,
        error=DEVICE_OUTAGE_MESSAGE,
        card_value=card,
        typed_card=card.strip(),
        notice=notice.strip(),
        items=items,
        fitted_at=(at or now(request)).isoformat(),
    )


def _items(
    code: list[str] | None, name: list[str] | None, cost: list[str] | None
) -> tuple[DeviceItem, ...]:
    """The rows given an actual cost; a row for an item off the notice needs its code."""
    code, name, cost = code or [], name or [], cost or []
    if not len(code) == len(name) == len(cost):
        raise FormError("表单内容不完整，请重新核验并读取备案器具")
    items = []
    for c, n, v in zip(code, name, cost, strict=True):
        if not v.strip():
            continue
        if not c.strip():
            raise FormError(f"请填写{n.strip() or '其他器具'}的器具编码")
        label = n.strip() or c.strip()
        items.append(DeviceItem(c.strip(), label, amount(v, f"{label}的实际费用")))
    if not items:
        raise FormError("请至少填写一件辅助器具的实际费用")
    return tuple(items)


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
    confirmed: Annotated[str, Form()] = "",
    fitted_at: Annotated[str, Form()] = "",
) -> Response:
    """Settle the items given an actual cost (the others are not fitted this time). With any
    warning, the fitting is first priced and shown with its warnings; ``confirmed`` settles it
    at the time it was previewed (``fitted_at``): the confirmation sent twice — a double click,
    the page sent again — is the same fitting, answered with its settlement, not a second one
    read as the notice used again (N§34, B§35)."""
    try:
        items = _items(code, name, cost)
        at = _form_time(fitted_at) if confirmed and fitted_at else now(request)
        request_ = FitDevices(
            read_card(card), notice.strip(), items, at, replacement_confirmed=bool(confirmed)
        )
        if not confirmed:
            preview = services.devices.presettle(request_, actor=session.user.name)
            if preview.warnings:
                return _desk(
                    request,
                    preview=preview,
                    preview_devices=device_totals(preview.bill.lines),
                    card_value=card,
                    notice=notice.strip(),
                    items=items,
                    fitted_at=at.isoformat(),
                )
        fitted = services.devices.fit(request_, actor=session.user.name)
    except FormError as exc:
        return _desk(request, error=str(exc), notice=notice)
    except UpstreamUnavailable:
        return _outage(request, card, notice, items, at)
    except AdapterError as exc:
        return _desk(request, notice=notice, **problem_of(exc))
    totals = device_totals(fitted.settlement.bill.lines)
    return _desk(request, fitted=fitted, fitted_devices=totals)


def _form_time(text: str) -> datetime:
    """The fitting time a form was shown with (a preview's, an outage's), as sent back."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise FormError("表单内容不完整，请重新核验并读取备案器具") from exc
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise FormError("表单内容不完整，请重新核验并读取备案器具")
    return moment


@router.post("/manual-claim", response_class=HTMLResponse, dependencies=[Csrf])
def manual_claim(
    request: Request,
    services: ServicesDep,
    session: DeviceDesk,
    card: Annotated[str, Form()] = "",
    notice: Annotated[str, Form()] = "",
    code: Annotated[list[str] | None, Form()] = None,
    name: Annotated[list[str] | None, Form()] = None,
    cost: Annotated[list[str] | None, Form()] = None,
    fitted_at: Annotated[str, Form()] = "",
    confirmed: Annotated[str, Form()] = "",
) -> Response:
    """Upstream down: the fitting recorded as a manual-claim case from the start (N§38, B§27);
    upstream back meanwhile: fitted and settled as usual. At the time the outage page offered
    it (``fitted_at``): the same form sent twice is the same case. An item an earlier fitting
    or case already claims (the same notice again, inside the minimum years) is shown with
    that fitting, and recorded — the worker's — once the counter confirms (N§34, N§38)."""
    try:
        items = _items(code, name, cost)
        if not notice.strip():
            raise FormError("请输入配置费用核付通知单号")
        at = _form_time(fitted_at) if fitted_at else now(request)
        request_ = FitDevices(
            read_card(card), notice.strip(), items, at, replacement_confirmed=bool(confirmed)
        )
        result = services.device_claims.fit_or_claim(request_, actor=session.user.name)
    except ConfirmationRequired as exc:
        return _desk(
            request,
            upstream_down=True,
            case_repeats=exc.reasons,
            card_value=card,
            notice=notice.strip(),
            items=items,
            fitted_at=at.isoformat(),
        )
    except FormError as exc:
        return _desk(
            request,
            error=str(exc),
            notice=notice,
            upstream_down=True,
            card_value=card,
            fitted_at=fitted_at,
        )
    except AdapterError as exc:
        return _desk(request, notice=notice, **problem_of(exc))
    if isinstance(result, Fitted):
        totals = device_totals(result.settlement.bill.lines)
        return _desk(request, fitted=result, fitted_devices=totals)
    return _desk(request, case=result)


@router.post("/manual-claim/{claim_id}/hand-over", response_class=HTMLResponse, dependencies=[Csrf])
def hand_over(
    request: Request, claim_id: str, services: ServicesDep, session: DeviceDesk
) -> Response:
    """The fee list printed and handed to the worker: it stays a manual claim (N§38, B§27)."""
    try:
        handed = services.manual_claims.hand_over(claim_id, actor=session.user.name)
    except AdapterError as exc:
        return _desk(request, **problem_of(exc))
    return _desk(request, handed=handed)


@router.post("/manual-claim/{claim_id}/switch", response_class=HTMLResponse, dependencies=[Csrf])
def switch_to_direct(
    request: Request,
    claim_id: str,
    services: ServicesDep,
    session: DeviceDesk,
    card: Annotated[str, Form()] = "",
    confirmed: Annotated[str, Form()] = "",
) -> Response:
    """Upstream answers again before the list was handed over: identity, filing and notice
    checked with the card, the fitting settled directly (WI2701)."""
    try:
        fitted = services.device_claims.switch_to_direct(
            claim_id,
            read_card(card),
            actor=session.user.name,
            replacement_confirmed=bool(confirmed),
        )
    except FormError as exc:
        return _desk(request, error=str(exc), case=_open_case(services, claim_id))
    except AdapterError as exc:
        return _desk(request, case=_open_case(services, claim_id), **problem_of(exc))
    totals = device_totals(fitted.settlement.bill.lines)
    return _desk(request, fitted=fitted, fitted_devices=totals)


def _open_case(services: Services, claim_id: str) -> ManualClaim | None:
    """The case shown again after a refusal, while it is still open."""
    try:
        claim = services.manual_claims.get(claim_id)
    except AdapterError:
        return None
    return claim if claim.open_case else None
