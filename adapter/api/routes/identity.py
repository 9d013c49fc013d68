"""``POST /api/v1/identity/verify`` and ``POST /api/v1/eligibility`` (admission, billing, device
desks). Eligibility changes nothing; a refused worker gets every reason with its article,
and where to file when the filing is the problem (N§18, N§46, B§28, B§47)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter
from pydantic import Field, StringConstraints

from adapter.api.duplicate_keys import ParsedOnce
from adapter.api.routes.common import (
    CardIn,
    Desk,
    FindingOut,
    Out,
    ServicesDep,
    Strict,
    examples,
    filing_channels,
)
from adapter.domain.encounters import EncounterKind
from adapter.domain.filings import Filing
from adapter.domain.people import mask_citizen_id
from adapter.domain.text import MAX_DEVICE_CODES, MAX_INJURY_PARTS
from adapter.domain.upstream import PersonRecord

router = APIRouter(prefix="/api/v1", tags=["identity and eligibility"], route_class=ParsedOnce)

CARD_EXAMPLE = {"kind": "physical", "card_no": "310100A0001"}


class VerifyIn(Strict):
    card: CardIn

    model_config = examples({"card": CARD_EXAMPLE})


class SuspensionOut(Out):
    since: date
    until: date | None
    reason: str


class PersonOut(Out):
    """The worker as upstream knows them; the citizen ID is masked."""

    psn_no: str
    name: str
    gender: str
    citizen_id: str
    birth_date: date | None
    insured_admdvs: str
    card_status: str
    suspensions: list[SuspensionOut]

    @classmethod
    def of(cls, record: PersonRecord) -> PersonOut:
        person = record.person
        return cls(
            psn_no=person.psn_no,
            name=person.name,
            gender=person.gender.label,
            citizen_id=mask_citizen_id(person.citizen_id),
            birth_date=person.birth_date,
            insured_admdvs=person.insured_admdvs,
            card_status=person.card_status.value,
            suspensions=[
                SuspensionOut(since=s.since, until=s.until, reason=s.reason)
                for s in record.suspensions
            ],
        )


@router.post(
    "/identity/verify",
    summary="Read the card: the worker as upstream knows them (WI1101/WI1102)",
    response_model=PersonOut,
)
def verify(body: VerifyIn, services: ServicesDep, principal: Desk) -> PersonOut:
    return PersonOut.of(services.identity.verify(body.card.to_domain(), actor=principal.name))


class EligibilityIn(Strict):
    card: CardIn
    kind: Literal["medical", "rehab", "device"]
    on: date = Field(description="the admission (or fitting) day")
    injury_parts: list[Annotated[str, StringConstraints(max_length=64)]] = Field(
        default_factory=list, max_length=MAX_INJURY_PARTS, examples=[["左手"]]
    )
    approval_notice_no: str = Field(
        "", max_length=64, description="device fitting: 配置费用核付通知单号"
    )
    device_codes: list[Annotated[str, StringConstraints(max_length=64)]] = Field(
        default_factory=list, max_length=MAX_DEVICE_CODES
    )

    model_config = examples(
        {"card": CARD_EXAMPLE, "kind": "medical", "on": "2026-11-24", "injury_parts": ["左手"]}
    )


class FilingOut(Out):
    filing_no: str
    purpose: str
    category: str
    person_category: str
    treatment_admdvs: str
    valid_from: date
    valid_to: date
    status: str
    injury_parts: list[str]
    approval_notice_no: str

    @classmethod
    def of(cls, filing: Filing) -> FilingOut:
        return cls(
            filing_no=filing.filing_no,
            purpose=filing.purpose.value,
            category=filing.category.value,
            person_category=filing.person_category,
            treatment_admdvs=filing.treatment_admdvs,
            valid_from=filing.valid_from,
            valid_to=filing.effective_to,
            status=filing.status.value,
            injury_parts=list(filing.injury_parts),
            approval_notice_no=filing.approval_notice_no,
        )


class EligibilityOut(Out):
    eligible: bool
    filing: FilingOut | None
    reasons: list[FindingOut]
    warnings: list[FindingOut]
    filing_channels: list[str] = Field(
        description="where an unfiled worker can file (N§18, N§46, B§47)"
    )


@router.post(
    "/eligibility",
    summary="May this worker be settled directly here? Changes nothing",
    response_model=EligibilityOut,
)
def eligibility(body: EligibilityIn, services: ServicesDep, _: Desk) -> EligibilityOut:
    answer = services.eligibility.query(
        body.card.to_domain(),
        EncounterKind(body.kind),
        body.on,
        injury_parts=body.injury_parts,
        approval_notice_no=body.approval_notice_no,
        device_codes=body.device_codes,
    )
    decision = answer.decision
    return EligibilityOut(
        eligible=decision.eligible,
        filing=FilingOut.of(decision.filing) if decision.filing else None,
        reasons=[FindingOut.of(r) for r in decision.reasons],
        warnings=[FindingOut.of(w) for w in decision.warnings],
        filing_channels=[] if decision.eligible else filing_channels(),
    )
