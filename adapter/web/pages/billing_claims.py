"""The billing desk's manual claim (手工报销, N§38, B§27): a stay that cannot be settled
directly is handed to the insured place, its fee list handed over for good — or, while the
list is not handed over and upstream answers again, switched back to direct settlement.

Every form is a POST with the session's CSRF token; a refusal re-renders the stay's page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from adapter.domain.errors import AdapterError
from adapter.domain.filings import listed_parts
from adapter.services.manual_claim_records import ManualClaimReason
from adapter.services.unacknowledged_revocation import RevocationNotAcknowledged
from adapter.web.auth import Csrf
from adapter.web.config import web_config
from adapter.web.forms import Confirm, local_time, read_card
from adapter.web.forms import problem as problem_of
from adapter.web.pages.billing_pages import DONE, act, encounter_page
from adapter.web.pages.common import BillingDesk, ServicesDep, now

router = APIRouter(prefix="/web/billing", include_in_schema=False)


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
        return encounter_page(request, services, encounter_id, error="请选择转手工报销的原因")
    if why is not ManualClaimReason.UPSTREAM_UNAVAILABLE and not detail.strip():
        error = f"{why.label}须说明具体情况"
        return encounter_page(request, services, encounter_id, error=error)
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
        return encounter_page(request, services, encounter_id, confirm=confirm)
    try:
        claim = services.manual_claims.create(
            encounter_id, why, detail.strip(), actor=session.user.name
        )
    except RevocationNotAcknowledged as exc:
        return encounter_page(
            request, services, encounter_id, revocation=exc.revocation, **problem_of(exc)
        )
    except AdapterError as exc:
        return encounter_page(request, services, encounter_id, **problem_of(exc))
    return encounter_page(request, services, encounter_id, claim=claim, done=DONE["claim"])


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

    return act(request, services, encounter_id, hand, "handed")


@router.post("/{encounter_id}/switch-to-direct", dependencies=[Csrf])
def switch_to_direct(
    request: Request,
    encounter_id: str,
    services: ServicesDep,
    session: BillingDesk,
    claim_id: Annotated[str, Form()] = "",
    card: Annotated[str, Form()] = "",
    card_kind: Annotated[str, Form()] = "auto",
    injury_parts: Annotated[list[str] | None, Form()] = None,
    injury_parts_text: Annotated[str, Form()] = "",
) -> Response:
    """Upstream answers again before the list was handed over: check and register (WI2401),
    with the injured parts the clerk ticked or typed (N§16). Refused, the form as filled in."""
    ticked = injury_parts or []
    typed = SwitchTyped(card.strip(), ticked, injury_parts_text)

    def switch() -> None:
        services.manual_claims.switch_to_direct(
            claim_id,
            read_card(card, card_kind),
            actor=session.user.name,
            injury_parts=[*ticked, *listed_parts((injury_parts_text,))],
        )

    return act(request, services, encounter_id, switch, "switched", switch=typed)


@dataclass(frozen=True)
class SwitchTyped:
    """The switch form as the clerk filled it in, shown again after a refusal."""

    card: str
    ticked: list[str]
    parts_text: str
