"""Identity and filing checked **again** at discharge (N§33, B§30), with the discharge-stage
rules: admitted inside the filing's validity settles even after it expired (N§13).

Settling (:mod:`.settlement`) and re-checking the stays that waited out an upstream outage
(:mod:`.discharge_waits`) ask the same questions, so they ask them here.
"""

from __future__ import annotations

from datetime import datetime

from adapter.domain.eligibility import IDENTITY_MATCH, EligibilityDecision
from adapter.domain.eligibility_request import Stage
from adapter.domain.encounters import Encounter
from adapter.domain.errors import DomainError, EligibilityRefused
from adapter.domain.people import CardData, Person
from adapter.services.context import ServiceContext
from adapter.services.eligibility import decide
from adapter.services.identity import Identity, WorkerFacts


def facts_at_discharge(
    identity: Identity, encounter: Encounter, person: Person | None, card: CardData | None
) -> WorkerFacts:
    """Identity and filing as upstream says now; called with no unit of work open."""
    if card is not None:
        facts = identity.facts(card, context=encounter.id)
        if facts.person.psn_no != encounter.psn_no:
            raise EligibilityRefused(
                [IDENTITY_MATCH.refused("card", what="出院持卡人与入院登记人员")]
            )
        return facts
    if person is None:
        raise DomainError(
            "未找到该工伤职工的人员信息，请读取社会保障卡后再结算", code="PERSON_UNKNOWN"
        )
    return identity.facts_again(person, context=encounter.id)


def decide_at_discharge(
    ctx: ServiceContext, facts: WorkerFacts, encounter: Encounter, discharged_at: datetime
) -> EligibilityDecision:
    """Called with no unit of work open (it reads the admitted filing as last seen)."""
    admitted_filing = None
    if encounter.filing_no and all(f.filing_no != encounter.filing_no for f in facts.filings):
        # Upstream answers with the filing in force now only (a successor, a renewal): the
        # stay settles on the one it was admitted on, as checked then (N§13, N§15).
        with ctx.uow() as uow:
            admitted_filing = uow.filings.get(encounter.filing_no)
    return decide(
        facts,
        encounter.kind,
        admitted_on=ctx.local_date(encounter.admitted_at),
        checked_on=ctx.local_date(discharged_at),
        stage=Stage.DISCHARGE,
        injury_parts=encounter.injury_parts,
        admitted_filing_no=encounter.filing_no,
        admitted_filing=admitted_filing,
    )
