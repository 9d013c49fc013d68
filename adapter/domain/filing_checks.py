"""The checks of one filing against one encounter: is it in force for this stay (status and
validity, N§11, N§13, N§15, N§16), for this place (N§12), for these injuries (N§16), free of
third-party liability (N§3), and for a fitting, on the approval notice (N§34)?

:func:`adapter.domain.eligibility.check_eligibility` runs them on every filing that could
fit and keeps the one with the fewest refusals.

Two readings of the sources worth stating:

- Admitted inside the validity ⇒ the stay settles normally even if the filing has expired by
  discharge (N§13). The same holds when the worker cancels *or changes* the filing
  during the stay: the change concerns later treatment (N§15). At discharge the filing the
  stay was admitted on (``admitted_filing_no``) is checked, never a successor filed during
  the stay (which would fail "filed before admission", N§16). The same holds for a stay that
  reaches upstream only after the change — registered late, or a manual-claim case switched
  to direct settlement: the filing in force on the admission day decides (N§15: the
  successor governs encounters that start after the change), with the same warning as at
  discharge; a cancellation after the admission is read alike.
- A filing ended by loss of eligibility (丧失待遇享受资格) ends its validity at that date
  (N§11, N§15: validity is the insured province's, and a filing whose grounds end is ended);
  the worker is no longer entitled, so a discharge on or after that date is refused and the
  costs go to manual reimbursement at the insured place (N§38, B§27). A stay registered late
  — admitted on a day the filing was in force, registered after the loss — can only be
  discharged after it, so its registration is refused too (read on
  ``EligibilityRequest.settles_on_or_after``; a suspension, N§49, likewise).
- Injured parts (N§16, 附表1): the admission itself names the part(s) it treats, one or more of
  the filed ones, whether typed at the desk, sent in HL7 ZWI-4 or over REST; naming none is
  refused (``parts_required``), as "no parts, no check" let the fund pay for any treatment. The
  desk's question before the form and a device fitting name none and are not refused for it;
  nor is a discharge, so a stay admitted before this rule still settles. A filing that lists no
  part leaves nothing to check against: a warning, not a refusal for upstream's gap.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from adapter.domain.eligibility_request import EligibilityRequest, Stage
from adapter.domain.encounters import EncounterKind
from adapter.domain.filings import (
    Filing,
    FilingStatus,
    changed_on,
    listed_parts,
    same_notice,
    unfiled_parts,
)
from adapter.domain.institutions import same_treatment_place
from adapter.domain.rules import FILING_CHANNELS_TEXT, Finding, Rule

FILED_BEFORE_ADMISSION = Rule(
    "EL_FILED_BEFORE_ADMISSION",
    "N§16, B§26",
    "备案于{filed_on}办理，晚于入院日期{admitted_on}；须在入院前完成备案方可直接结算",
)
TREATMENT_PLACE = Rule(
    "EL_TREATMENT_PLACE",
    "N§12",
    "备案的就医地（{filed}）不是本机构所在地（{here}），不能在本机构直接结算。"
    + FILING_CHANNELS_TEXT,
)
VALID_ON_ADMISSION = Rule(
    "EL_VALID_ON_ADMISSION",
    "N§11, N§13",
    "备案有效期为{valid_from}至{valid_to}，入院日期{admitted_on}不在有效期内，需重新办理备案。"
    + FILING_CHANNELS_TEXT,
)
ADMITTED_INSIDE_VALIDITY = Rule(
    "EL_ADMITTED_INSIDE_VALIDITY",
    "N§13",
    "入院时备案在有效期内（至{valid_to}），出院时虽已超出有效期，仍可正常直接结算",
)
EXPIRES_SOON = Rule(
    "EL_EXPIRES_SOON",
    "N§11",
    "备案将于{valid_to}到期（还有{days}天）；本次入院不受影响，之后就医需重新备案",
)
NOT_TERMINATED = Rule(
    "EL_NOT_TERMINATED",
    "N§11, N§15",
    "备案已因丧失待遇享受资格于{on}终止，不能直接结算，相关费用回参保地按规定处理",
)
NOT_CANCELLED = Rule(
    "EL_NOT_CANCELLED", "N§15", "备案已于{on}取消，不能直接结算。" + FILING_CHANNELS_TEXT
)
NOT_CHANGED = Rule(
    "EL_NOT_CHANGED",
    "N§15",
    "备案{filing_no}已变更，请以变更后的备案（{successor}）为准，重新查询备案信息",
)
CHANGED_DURING_STAY = Rule(
    "EL_CHANGED_DURING_STAY",
    "N§13, N§15",
    "入院时备案{filing_no}在有效期内，住院期间备案{what}；本次住院按入院时的备案正常直接结算，"
    "之后就医以{successor}为准",
)
INJURY_PARTS_FILED = Rule(
    "EL_INJURY_PARTS_FILED",
    "N§16, 附表1",
    "本次治疗的受伤部位（{parts}）不在备案的受伤部位（{filed}）内",
)
INJURY_PARTS_NAMED = Rule(
    "EL_INJURY_PARTS_NAMED",
    "N§16, N§33, 附表1",
    "{what}未填写本次治疗的受伤部位；须填写备案的受伤部位（{filed}）中本次治疗的一个或多个，"
    "方可{then}",
)
# A filing that lists no injured part leaves nothing to match the treated parts against: the
# clerk is told, the stay is not refused for upstream's gap (the filing itself is approved).
INJURY_PARTS_UNCHECKED = Rule(
    "EL_INJURY_PARTS_UNCHECKED",
    "N§16, 附表1",
    "备案未登记受伤部位，无法核对本次治疗的受伤部位（{parts}），请核对工伤认定决定书",
)
# A stay's filing gone from the local store (a partial restore, a hand-made repair) leaves an
# update's parts unchecked: the ward is told so, as for a filing listing no parts, rather than
# refused for the adapter's own gap.
INJURY_PARTS_FILING_ABSENT = Rule(
    "EL_INJURY_PARTS_FILING_ABSENT",
    "N§16, 附表1",
    "本次就诊的备案（{filing_no}）在本机没有记录，无法核对本次治疗的受伤部位（{parts}），"
    "请核对工伤认定决定书，并请信息科核查备案数据",
)
NO_THIRD_PARTY = Rule(
    "EL_NO_THIRD_PARTY", "N§3, B§4", "涉及第三方责任的费用不纳入跨省异地就医直接结算"
)
APPROVAL_NOTICE = Rule(
    "EL_APPROVAL_NOTICE",
    "N§34, B§34",
    "配置费用核付通知单号（{given}）与备案的核付通知单（{filed}）不符，请核对参保地出具的通知单",
)
# An item off the notice is the worker's to pay (N§34), not a refusal of the fitting: a warning.
DEVICES_ON_NOTICE = Rule(
    "EL_DEVICES_ON_NOTICE",
    "N§5, N§34, B§5, B§34",
    "辅助器具（{items}）未列入已备案的配置费用核付通知单，基金不予支付，可由个人自费配置",
)

# A warning is raised this many days before the filing runs out (referrals last 6 months).
EXPIRY_WARNING_DAYS = 15


def is_admitted_filing(request: EligibilityRequest, filing: Filing) -> bool:
    """Is ``filing`` the one this stay was admitted on, checked again at discharge?"""
    return request.stage is Stage.DISCHARGE and filing.filing_no == request.admitted_filing_no


def _status_findings(request: EligibilityRequest, filing: Filing) -> list[Finding]:
    admitted, ended = request.admitted_on, filing.terminated_on
    if filing.status is FilingStatus.TERMINATED and (
        ended is None or ended <= request.settles_on_or_after
    ):
        # N§11, N§15: loss of eligibility ends the filing; N§13's protection covers expiry only.
        # A stay registered late after the loss can only be discharged after it: refused now.
        return [NOT_TERMINATED.refused(on=ended or "此前")]
    if filing.status in (FilingStatus.CHANGED, FilingStatus.CANCELLED) and (
        is_admitted_filing(request, filing) or _ended_after_admission(request, filing)
    ):
        # N§13: admitted inside a valid filing, the stay settles normally although the filing
        # was changed or cancelled during it; the change governs later encounters (N§15).
        # At discharge the admission itself proves the filing was in force then; a stay
        # registered late (or a manual-claim case switched to direct) is checked on the
        # filing in force on its admission day, whenever it is registered.
        if not is_admitted_filing(request, filing) and not _ended_by(request, filing):
            return []  # a change or cancellation dated after today: nothing to tell yet
        what = "已变更" if filing.status is FilingStatus.CHANGED else "已取消"
        if ended is not None:
            what = f"于{ended}{what[1:]}"
        successor = (
            f"变更后的备案{filing.successor_no}" if filing.successor_no else "重新办理的备案"
        )
        return [
            CHANGED_DURING_STAY.warned(filing_no=filing.filing_no, what=what, successor=successor)
        ]
    if filing.status is FilingStatus.CHANGED:
        return [
            NOT_CHANGED.refused(filing_no=filing.filing_no, successor=filing.successor_no or "未知")
        ]
    if filing.status is FilingStatus.CANCELLED and (ended is None or ended <= admitted):
        return [NOT_CANCELLED.refused(on=ended or "此前")]
    return []


def _end_of(request: EligibilityRequest, filing: Filing) -> date | None:
    """The day a changed or cancelled filing stopped governing new encounters (N§15)."""
    if filing.status is FilingStatus.CHANGED:
        return changed_on(filing, request.filings)
    return filing.terminated_on


def _ended_after_admission(request: EligibilityRequest, filing: Filing) -> bool:
    ended = _end_of(request, filing)
    return ended is not None and ended > request.admitted_on


def _ended_by(request: EligibilityRequest, filing: Filing) -> bool:
    """Had the change or cancellation happened by the day the clerk reads the findings?"""
    ended, checked = _end_of(request, filing), request.checked_on
    return ended is not None and ended <= max(request.today or checked, checked)


def _validity_findings(request: EligibilityRequest, filing: Filing) -> list[Finding]:
    admitted, checked = request.admitted_on, request.checked_on
    if filing.filed_on > admitted:
        return [FILED_BEFORE_ADMISSION.refused(filed_on=filing.filed_on, admitted_on=admitted)]
    findings = [FILED_BEFORE_ADMISSION.passed(filed_on=filing.filed_on, admitted_on=admitted)]
    details: dict[str, object] = {
        "valid_from": filing.valid_from,
        "valid_to": filing.effective_to,
        "admitted_on": admitted,
    }
    if not filing.valid_on(admitted):
        findings.append(VALID_ON_ADMISSION.refused("admitted_at", **details))
        return findings
    findings.append(VALID_ON_ADMISSION.passed(**details))
    if checked > filing.effective_to:
        # N§13: admitted inside the validity, so the stay settles normally.
        findings.append(ADMITTED_INSIDE_VALIDITY.warned(valid_to=filing.effective_to))
    elif request.stage is Stage.ADMISSION:
        days = (filing.effective_to - (request.today or checked)).days
        if days < 0:
            # A back-dated admission inside the validity of a filing expired since (N§13).
            findings.append(ADMITTED_INSIDE_VALIDITY.warned(valid_to=filing.effective_to))
        elif days <= EXPIRY_WARNING_DAYS:
            findings.append(EXPIRES_SOON.warned(valid_to=filing.effective_to, days=days))
    return findings


def filing_findings(request: EligibilityRequest, filing: Filing) -> list[Finding]:
    findings = _status_findings(request, filing)
    if any(f.refuses for f in findings):
        return findings
    here = request.institution.admdvs
    if same_treatment_place(filing.treatment_admdvs, here):
        findings.append(TREATMENT_PLACE.passed(filed=filing.treatment_admdvs, here=here))
    else:
        findings.append(TREATMENT_PLACE.refused(filed=filing.treatment_admdvs, here=here))
    findings += _validity_findings(request, filing)
    findings += _injury_findings(request, filing)
    if filing.third_party_liability:
        findings.append(NO_THIRD_PARTY.refused())
    else:
        findings.append(NO_THIRD_PARTY.passed())
    if request.kind is EncounterKind.DEVICE:
        findings += _device_findings(request, filing)
    return findings


def _injury_findings(request: EligibilityRequest, filing: Filing) -> list[Finding]:
    return injury_findings(request.injury_parts, filing, required=request.parts_required)


def injury_findings(
    parts: Sequence[str], filing: Filing, *, required: bool = True, update: bool = False
) -> list[Finding]:
    """The treated ``parts`` against the filed ones (N§16, 附表1), matched as a clerk would —
    at admission, and again whenever a stay's parts change (HL7 A08, ``update``: the refusal
    then names the update, the admission having named its parts) or a manual-claim case is
    switched to direct settlement, against the filing the stay is admitted on."""
    treated = listed_parts(parts)
    filed = "、".join(filing.injury_parts)
    if not filing.injury_parts:
        if treated:
            return [INJURY_PARTS_UNCHECKED.warned("injury_parts", parts="、".join(treated))]
        return []
    if not treated:
        if required:
            what, then = ("本次就诊信息修改", "修改") if update else ("入院登记", "登记为直接结算")
            return [INJURY_PARTS_NAMED.refused("injury_parts", filed=filed, what=what, then=then)]
        return []
    unfiled = unfiled_parts(treated, filing.injury_parts)
    if unfiled:
        return [INJURY_PARTS_FILED.refused("injury_parts", parts="、".join(unfiled), filed=filed)]
    return [INJURY_PARTS_FILED.passed(parts="、".join(treated), filed=filed)]


def _device_findings(request: EligibilityRequest, filing: Filing) -> list[Finding]:
    given, filed = request.approval_notice_no.strip(), filing.approval_notice_no
    findings: list[Finding] = []
    if not same_notice(given, filed):  # however typed: 〔2026〕 = (2026) = ［2026］
        findings.append(
            APPROVAL_NOTICE.refused(
                "approval_notice_no", given=given or "未提供", filed=filed or "无"
            )
        )
    else:
        findings.append(APPROVAL_NOTICE.passed(given=given, filed=filed))
    missing = [
        _off_notice(code, filing) for code in request.device_codes if not filing.device(code)
    ]
    if missing:
        findings.append(DEVICES_ON_NOTICE.warned("items", items="、".join(missing)))
    elif request.device_codes:
        findings.append(DEVICES_ON_NOTICE.passed(items=""))
    return findings


def _off_notice(code: str, filing: Filing) -> str:
    """``code`` as the warning names it; one the notice lists in another letter case says so,
    for the fitting itself will be refused until the notice's code is entered (DEVICE_CODE_CASE)."""
    same = [d.device_code for d in filing.devices if d.device_code.casefold() == code.casefold()]
    if not same:
        return code
    return f"{code}（通知单上为“{'”或“'.join(same)}”，仅字母大小写不同，请按通知单编码录入）"
