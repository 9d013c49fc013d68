"""Eligibility: may this worker be settled directly here, for this encounter, now?

Checked at admission (N§33, B§28) and again at discharge (N§33, B§30), and for a device
fitting (N§34, B§34). The decision lists every rule it checked — passed, warned or refused —
each with its code, article and a Chinese sentence the clerk can read to the worker.

This module checks the card, the worker and the institution, and chooses the filing; the
checks of the filing itself (and how a change or cancellation during the stay is read) are
:mod:`adapter.domain.filing_checks`; the question is
:class:`adapter.domain.eligibility_request.EligibilityRequest`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from adapter.domain.eligibility_request import EligibilityRequest
from adapter.domain.filing_checks import filing_findings, is_admitted_filing
from adapter.domain.filings import Filing, FilingPurpose, current_filings
from adapter.domain.institutions import DirectSettlementStatus
from adapter.domain.people import CardStatus, Person, identity_key
from adapter.domain.rules import FILING_CHANNELS_TEXT, Finding, Rule, Severity

CARD_UNKNOWN = Rule(
    "EL_CARD_UNKNOWN",
    "N§18, N§45, B§28",
    "未查询到该社会保障卡对应的参保人员，请核对卡号或身份证号",
)
CARD_VALID = Rule(
    "EL_CARD_VALID",
    "N§18, N§45, B§28",
    "社会保障卡状态为“{status}”，须持有效社会保障卡（含电子社保卡）实名就医",
)
IDENTITY_MATCH = Rule(
    "EL_IDENTITY_MATCH",
    "N§18, N§45, B§28, B§50",
    "社会保障卡与参保人员信息不一致（{what}），请核实实名身份",
)
NOT_SUSPENDED = Rule(
    "EL_NOT_SUSPENDED",
    "N§49, B§52",
    "该工伤职工自{since}起因{reason}被暂停跨省异地就医直接结算，请联系参保地经办机构",
)
INSTITUTION_ENABLED = Rule(
    "EL_INSTITUTION_ENABLED",
    "N§16, N§17, B§23, B§26",
    "本机构当前状态为“{status}”，不能提供跨省异地就医直接结算",
)
INSTITUTION_KIND = Rule(
    "EL_INSTITUTION_KIND", "N§16, B§23, B§26", "本机构未开通{kind}的跨省异地直接结算"
)
FILING_EXISTS = Rule(
    "EL_FILING_EXISTS",
    "N§16, N§18, B§26, B§28",
    "未查询到该工伤职工的跨省异地{purpose}备案，不能直接结算。" + FILING_CHANNELS_TEXT,
)
FILING_CATEGORY = Rule(
    "EL_FILING_CATEGORY",
    "N§4, N§10, 附表1, 附表2",
    "该工伤职工的备案人员类别为“{filed}”，与本次{kind}不符。" + FILING_CHANNELS_TEXT,
)
ADMITTED_FILING_KEPT = Rule(
    "EL_ADMITTED_FILING_KEPT",
    "N§13, N§15",
    "上级系统本次未返回入院时的备案{filing_no}（可能已变更或到期后重新备案）；本次住院于备案"
    "有效期内入院，按入院时核对的备案{filing_no}正常直接结算，之后就医以新的备案为准",
)


@dataclass(frozen=True)
class EligibilityDecision:
    filing: Filing | None
    findings: tuple[Finding, ...] = field(default=())

    @property
    def eligible(self) -> bool:
        return not self.reasons

    @property
    def reasons(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is Severity.REFUSAL)

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is Severity.WARNING)

    def codes(self, severity: Severity = Severity.REFUSAL) -> set[str]:
        return {f.code for f in self.findings if f.severity is severity}


def _person_findings(request: EligibilityRequest, person: Person) -> list[Finding]:
    card = request.card
    findings: list[Finding] = []
    status = card.status if card.status is not CardStatus.NORMAL else person.card_status
    if status is CardStatus.NORMAL:
        findings.append(CARD_VALID.passed(status=status.label))
    else:
        findings.append(CARD_VALID.refused("card", status=status.label))
    mismatched = [
        label
        for label, given, known in (
            ("姓名", identity_key(card.name), identity_key(person.name)),
            ("公民身份号码", identity_key(card.citizen_id), identity_key(person.citizen_id)),
        )
        if given and known and given != known
    ]
    if mismatched:
        findings.append(IDENTITY_MATCH.refused("card", what="、".join(mismatched)))
    else:
        findings.append(IDENTITY_MATCH.passed(what=""))
    suspension = next(
        (
            s
            for s in request.suspensions
            if s.psn_no == person.psn_no and s.in_force(request.settles_on_or_after)
        ),
        None,
    )
    if suspension:
        findings.append(NOT_SUSPENDED.refused(since=suspension.since, reason=suspension.reason))
    else:
        findings.append(NOT_SUSPENDED.passed(since="", reason=""))
    return findings


def _institution_findings(request: EligibilityRequest) -> list[Finding]:
    institution = request.institution
    status = institution.status
    findings = [
        INSTITUTION_ENABLED.passed(status=status.label)
        if status is DirectSettlementStatus.ENABLED
        else INSTITUTION_ENABLED.refused(status=status.label)
    ]
    if request.kind.value in institution.kinds:
        findings.append(INSTITUTION_KIND.passed(kind=request.kind.label))
    else:
        findings.append(INSTITUTION_KIND.refused("kind", kind=request.kind.label))
    return findings


def _refusals(findings: Sequence[Finding]) -> int:
    return sum(1 for f in findings if f.refuses)


def check_eligibility(request: EligibilityRequest) -> EligibilityDecision:
    """Decide eligibility; every rule checked is in ``findings``, refusals in ``reasons``."""
    if request.person is None:
        return EligibilityDecision(None, (CARD_UNKNOWN.refused("card"),))
    findings = _person_findings(request, request.person) + _institution_findings(request)
    purpose = FilingPurpose(request.kind.value)
    # N§15: the filings in force on the admission day (a change after it governs later stays).
    on_admission = current_filings(request.filings, on=request.admitted_on)
    filings = [f for f in on_admission if f.psn_no == request.person.psn_no]
    candidates = [f for f in filings if f.purpose is purpose]
    admitted_with = [
        f
        for f in request.filings
        if f.psn_no == request.person.psn_no
        and f.purpose is purpose
        and is_admitted_filing(request, f)
    ]
    kept = request.admitted_filing
    if (
        not admitted_with
        and kept is not None
        and kept.psn_no == request.person.psn_no
        and kept.purpose is purpose
        and is_admitted_filing(request, kept)
    ):
        # N§13: upstream no longer lists the filing the stay was admitted on (it answers with
        # the one in force now); the stay settles on it as checked at admission.
        admitted_with = [kept]
        findings.append(ADMITTED_FILING_KEPT.warned(filing_no=kept.filing_no))
    if admitted_with:
        # N§13: at discharge the filing the stay was admitted on decides, not a successor
        # filed during the stay (which would fail "filed before admission", N§16).
        candidates = admitted_with[:1]
    if not candidates:
        if filings:
            categories = "、".join(sorted({f.person_category for f in filings}))
            findings.append(
                FILING_CATEGORY.refused("kind", filed=categories, kind=request.kind.label)
            )
        else:
            findings.append(FILING_EXISTS.refused(purpose=purpose.label))
        return EligibilityDecision(None, tuple(findings))
    findings.append(FILING_EXISTS.passed(purpose=purpose.label))
    # The filing that fits best: fewest refusals, then the most recent.
    evaluated = [(f, filing_findings(request, f)) for f in candidates]
    filing, its_findings = min(
        evaluated, key=lambda pair: (_refusals(pair[1]), -pair[0].valid_from.toordinal())
    )
    return EligibilityDecision(filing, tuple(findings + its_findings))
