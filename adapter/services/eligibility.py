"""Eligibility as a use case: ask upstream, let the domain decide, change nothing.

:meth:`EligibilityService.decide` is what admission, discharge and device fitting call with
facts they already hold; :meth:`EligibilityService.query` is the clerk's "may this worker be
settled here?" question (``POST /eligibility``), which writes nothing — not even the cache.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from adapter.domain.eligibility import EligibilityDecision, check_eligibility
from adapter.domain.eligibility_request import EligibilityRequest, Stage
from adapter.domain.encounters import EncounterKind
from adapter.domain.errors import EligibilityRefused
from adapter.domain.filings import Filing
from adapter.domain.people import CardData
from adapter.services.identity import Identity, WorkerFacts


@dataclass(frozen=True)
class EligibilityAnswer:
    decision: EligibilityDecision
    facts: WorkerFacts | None  # None when the card itself was refused


def decide(
    facts: WorkerFacts,
    kind: EncounterKind,
    *,
    admitted_on: date,
    checked_on: date,
    stage: Stage,
    injury_parts: Sequence[str] = (),
    parts_required: bool = False,
    approval_notice_no: str = "",
    device_codes: Sequence[str] = (),
    admitted_filing_no: str = "",
    admitted_filing: Filing | None = None,
    today: date | None = None,
) -> EligibilityDecision:
    return check_eligibility(
        EligibilityRequest(
            card=facts.card,
            person=facts.person,
            filings=facts.filings,
            suspensions=facts.record.suspensions,
            institution=facts.institution,
            kind=kind,
            admitted_on=admitted_on,
            checked_on=checked_on,
            stage=stage,
            injury_parts=tuple(injury_parts),
            parts_required=parts_required,
            approval_notice_no=approval_notice_no,
            device_codes=tuple(device_codes),
            admitted_filing_no=admitted_filing_no,
            admitted_filing=admitted_filing,
            today=today,
        )
    )


class EligibilityService:
    def __init__(self, identity: Identity):
        self._identity = identity

    def query(
        self,
        card: CardData,
        kind: EncounterKind,
        on: date,
        *,
        injury_parts: Sequence[str] = (),
        approval_notice_no: str = "",
        device_codes: Sequence[str] = (),
    ) -> EligibilityAnswer:
        """Would ``kind`` be settled directly for an admission on ``on``? Writes nothing."""
        try:
            facts = self._identity.facts(card)
        except EligibilityRefused as refused:
            return EligibilityAnswer(EligibilityDecision(None, refused.reasons), None)
        decision = decide(
            facts,
            kind,
            admitted_on=on,
            checked_on=on,
            stage=Stage.ADMISSION,
            injury_parts=injury_parts,
            approval_notice_no=approval_notice_no,
            device_codes=device_codes,
        )
        return EligibilityAnswer(decision, facts)
