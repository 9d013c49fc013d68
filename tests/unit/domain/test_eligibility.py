"""Eligibility rules of docs/domain.md, one test (or table row) per rule and boundary."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from adapter.domain.eligibility import EligibilityDecision, check_eligibility
from adapter.domain.eligibility_request import EligibilityRequest, Stage
from adapter.domain.encounters import EncounterKind
from adapter.domain.filing_checks import EXPIRY_WARNING_DAYS
from adapter.domain.filings import FilingCategory, FilingPurpose, FilingStatus
from adapter.domain.institutions import DirectSettlementStatus
from adapter.domain.people import CardKind, CardStatus, Suspension
from adapter.domain.rules import FILING_CHANNELS, Severity
from tests.unit.domain.builders import (
    card,
    device_filing,
    filing,
    institution,
    person,
    request,
)


def refused(decision: EligibilityDecision) -> set[str]:
    return decision.codes(Severity.REFUSAL)


def test_a_valid_long_term_residence_filing_is_eligible_and_every_rule_is_listed() -> None:
    decision = check_eligibility(request())
    assert decision.eligible
    assert decision.filing is not None and decision.filing.filing_no == "F001"
    checked = decision.codes(Severity.PASSED)
    assert {
        "EL_CARD_VALID",
        "EL_IDENTITY_MATCH",
        "EL_NOT_SUSPENDED",
        "EL_INSTITUTION_ENABLED",
        "EL_FILING_EXISTS",
        "EL_TREATMENT_PLACE",
        "EL_FILED_BEFORE_ADMISSION",
        "EL_VALID_ON_ADMISSION",
        "EL_NO_THIRD_PARTY",
    } <= checked
    for finding in decision.findings:
        assert finding.article, finding
        assert finding.message, finding


# -- identity: N§18, N§45, B§28 ----------------------------------------------------------


def test_EL_CARD_UNKNOWN_B28_a_card_upstream_does_not_know_is_refused() -> None:
    decision = check_eligibility(request(person=None))
    assert refused(decision) == {"EL_CARD_UNKNOWN"}
    assert decision.reasons[0].article == "N§18, N§45, B§28"


@pytest.mark.parametrize("status", [CardStatus.LOST, CardStatus.FROZEN, CardStatus.CANCELLED])
def test_EL_CARD_VALID_N45_B28_a_lost_or_frozen_card_is_refused(status: CardStatus) -> None:
    decision = check_eligibility(request(card=card(status=status)))
    assert "EL_CARD_VALID" in refused(decision)
    assert status.label in decision.reasons[0].message


def test_EL_CARD_VALID_B28_a_card_lost_upstream_is_refused_though_the_reader_says_normal() -> None:
    decision = check_eligibility(request(person=person(card_status=CardStatus.LOST)))
    assert "EL_CARD_VALID" in refused(decision)


def test_EL_IDENTITY_MATCH_B28_real_name_a_card_of_someone_else_is_refused() -> None:
    decision = check_eligibility(request(card=card(name="李四", citizen_id="110101198505050011")))
    reason = next(r for r in decision.reasons if r.code == "EL_IDENTITY_MATCH")
    assert "姓名" in reason.message and "公民身份号码" in reason.message


@pytest.mark.parametrize(
    ("given", "known"),
    [
        ({"citizen_id": "34010219871012137x"}, {"citizen_id": "34010219871012137X"}),
        ({"citizen_id": "34010219871012137X"}, {"citizen_id": "34010219871012137x"}),
        (
            {"citizen_id": "３４０１０２１９８７１０１２１３７Ｘ"},
            {"citizen_id": "34010219871012137X"},
        ),
        ({"name": "阿依古丽•买买提"}, {"name": "阿依古丽·买买提"}),
        ({"name": "阿依古丽．买买提"}, {"name": "阿依古丽·买买提"}),
        ({"name": "阿依古丽・买买提"}, {"name": "阿依古丽·买买提"}),
        ({"name": "张 三"}, {"name": "张三"}),
    ],
)
def test_EL_IDENTITY_MATCH_B28_the_same_id_and_name_written_otherwise_match(
    given: dict[str, str], known: dict[str, str]
) -> None:
    """The check digit typed ``x`` (GB 11643 writes ``X``), full-width digits, the dot of a
    minority name as another keyboard types it (·•・．), a space: the same worker, as a clerk
    reads the card (B§28 实名). Before, the worker was refused as someone else's card."""
    decision = check_eligibility(request(card=card(**given), person=person(**known)))
    assert decision.eligible, [r.message for r in decision.reasons]


def test_EL_IDENTITY_MATCH_one_digit_or_one_character_apart_is_still_another_worker() -> None:
    other_id = check_eligibility(request(card=card(citizen_id="310101199001011238")))
    other_name = check_eligibility(request(card=card(name="张山")))
    assert refused(other_id) == refused(other_name) == {"EL_IDENTITY_MATCH"}


def test_EL_IDENTITY_MATCH_an_electronic_card_without_a_name_is_matched_on_what_it_carries() -> (
    None
):
    decision = check_eligibility(request(card=card(kind=CardKind.ECARD, name="")))
    assert decision.eligible


# -- suspension: N§49, B§52 --------------------------------------------------------------


def test_EL_NOT_SUSPENDED_N49_B52_a_suspended_worker_is_refused() -> None:
    suspension = Suspension("P001", since=date(2026, 6, 1), reason="严重违规")
    decision = check_eligibility(request(suspensions=(suspension,)))
    assert refused(decision) == {"EL_NOT_SUSPENDED"}
    assert "2026-06-01" in decision.reasons[0].message
    assert decision.reasons[0].article == "N§49, B§52"


def test_EL_NOT_SUSPENDED_a_suspension_starting_after_the_check_date_does_not_refuse() -> None:
    suspension = Suspension("P001", since=date(2026, 11, 25), reason="严重违规")
    assert check_eligibility(request(suspensions=(suspension,))).eligible


def test_EL_NOT_SUSPENDED_another_workers_suspension_does_not_refuse() -> None:
    suspension = Suspension("P009", since=date(2026, 1, 1), reason="严重违规")
    assert check_eligibility(request(suspensions=(suspension,))).eligible


def test_EL_NOT_SUSPENDED_N49_a_suspension_in_force_at_discharge_refuses_settlement() -> None:
    suspension = Suspension("P001", since=date(2026, 12, 1), reason="严重违规")
    decision = check_eligibility(
        request(suspensions=(suspension,), checked_on=date(2026, 12, 3), stage=Stage.DISCHARGE)
    )
    assert "EL_NOT_SUSPENDED" in refused(decision)


# -- the institution: N§16, N§17, B§23 ----------------------------------------------------


@pytest.mark.parametrize(
    "status",
    [
        DirectSettlementStatus.SUSPENDED,
        DirectSettlementStatus.TERMINATED,
        DirectSettlementStatus.CLOSED,
    ],
)
def test_EL_INSTITUTION_ENABLED_N16_N17_B23_an_institution_no_longer_enabled_refuses(
    status: DirectSettlementStatus,
) -> None:
    decision = check_eligibility(request(institution=institution(status=status)))
    assert refused(decision) == {"EL_INSTITUTION_ENABLED"}
    assert status.label in decision.reasons[0].message


def test_EL_INSTITUTION_KIND_a_hospital_not_enabled_for_devices_refuses_a_fitting() -> None:
    decision = check_eligibility(
        request(
            institution=institution(kinds=frozenset({"medical"})),
            kind=EncounterKind.DEVICE,
            filings=(device_filing(),),
            approval_notice_no="沪工伤辅核〔2026〕0123号",
        )
    )
    assert refused(decision) == {"EL_INSTITUTION_KIND"}


# -- the filing exists, before admission: N§16, B§26 ----------------------------------------


def test_EL_FILING_EXISTS_N16_N18_an_unfiled_worker_is_refused_and_shown_the_channels() -> None:
    decision = check_eligibility(request(filings=()))
    assert refused(decision) == {"EL_FILING_EXISTS"}
    message = decision.reasons[0].message
    for channel in FILING_CHANNELS:
        assert channel in message
    assert "N§18" in message and "N§46" in message


def test_EL_FILING_EXISTS_another_workers_filing_does_not_count() -> None:
    decision = check_eligibility(request(filings=(filing(psn_no="P002"),)))
    assert refused(decision) == {"EL_FILING_EXISTS"}


def test_EL_FILED_BEFORE_ADMISSION_N16_B26_a_filing_made_after_admission_is_refused() -> None:
    late = filing(filed_on=date(2026, 11, 26), valid_from=date(2026, 11, 26))
    decision = check_eligibility(request(filings=(late,), checked_on=date(2026, 11, 30)))
    assert refused(decision) == {"EL_FILED_BEFORE_ADMISSION"}
    assert "2026-11-26" in decision.reasons[0].message


def test_EL_FILED_BEFORE_ADMISSION_N16_B26_a_filing_made_on_the_admission_day_is_accepted() -> None:
    same_day = filing(filed_on=date(2026, 11, 24), valid_from=date(2026, 11, 24))
    assert check_eligibility(request(filings=(same_day,))).eligible


# -- the treatment place: N§12 --------------------------------------------------------------


def test_EL_TREATMENT_PLACE_N12_a_filing_for_another_city_is_refused() -> None:
    tianjin = filing(treatment_admdvs="120100")
    decision = check_eligibility(request(filings=(tianjin,)))
    assert refused(decision) == {"EL_TREATMENT_PLACE"}
    assert "120100" in decision.reasons[0].message


def test_EL_TREATMENT_PLACE_N12_a_filing_to_the_municipality_as_a_whole_fits_any_district() -> None:
    whole_city = filing(treatment_admdvs="110000")
    district = institution(admdvs="110105")
    assert check_eligibility(request(filings=(whole_city,), institution=district)).eligible


def test_EL_TREATMENT_PLACE_N12_two_cities_of_one_province_are_different_places() -> None:
    shijiazhuang = filing(treatment_admdvs="130100")
    tangshan = institution(admdvs="130200")
    decision = check_eligibility(request(filings=(shijiazhuang,), institution=tangshan))
    assert "EL_TREATMENT_PLACE" in refused(decision)


@pytest.mark.parametrize(
    ("filed", "here"),
    [("429004", "429006"), ("469001", "469002"), ("659001", "659002"), ("419001", "419002")],
)
def test_EL_TREATMENT_PLACE_N12_two_county_level_cities_under_the_province_are_different_places(
    filed: str, here: str
) -> None:
    """A county-level city administered by the province (省直辖县级行政区划, code PP90xx: 仙桃
    429004, 天门 429006, 五指山 469001, 石河子 659001, 济源 419001) is its own treatment place
    (N§12): before, every one of them matched every other on the "city" PP90, so a worker filed
    to 仙桃 was settled directly by an institution in 天门."""
    decision = check_eligibility(
        request(filings=(filing(treatment_admdvs=filed),), institution=institution(admdvs=here))
    )
    assert "EL_TREATMENT_PLACE" in refused(decision)
    same = request(filings=(filing(treatment_admdvs=filed),), institution=institution(admdvs=filed))
    assert check_eligibility(same).eligible


# -- category fits the encounter: 附表1, 附表2 -------------------------------------------


def test_EL_FILING_CATEGORY_a_medical_filing_does_not_cover_a_rehab_stay() -> None:
    decision = check_eligibility(request(kind=EncounterKind.REHAB))
    assert refused(decision) == {"EL_FILING_CATEGORY"}
    assert "异地长期居住就医人员" in decision.reasons[0].message


def test_EL_FILING_CATEGORY_a_rehab_filing_covers_a_rehab_stay() -> None:
    rehab = filing(filing_no="F002", purpose=FilingPurpose.REHAB, category=FilingCategory.REFERRAL)
    decision = check_eligibility(request(kind=EncounterKind.REHAB, filings=(filing(), rehab)))
    assert decision.eligible
    assert decision.filing is not None and decision.filing.filing_no == "F002"
    assert decision.filing.person_category == "异地转诊转院康复人员"


# -- validity on the admission date: N§11, N§13; boundaries ----------------------------------


@pytest.mark.parametrize(
    ("admitted", "eligible"),
    [
        (date(2026, 1, 9), False),  # the day before validity starts
        (date(2026, 1, 10), True),  # the first valid day
        (date(2027, 1, 9), True),  # the last valid day
        (date(2027, 1, 10), False),  # the first expired day
    ],
)
def test_EL_VALID_ON_ADMISSION_N11_N13_boundary_days(admitted: date, eligible: bool) -> None:
    early = filing(filed_on=date(2026, 1, 5))
    decision = check_eligibility(
        request(filings=(early,), admitted_on=admitted, checked_on=admitted)
    )
    assert decision.eligible is eligible
    if not eligible:
        assert refused(decision) == {"EL_VALID_ON_ADMISSION"}
        assert decision.reasons[0].article == "N§11, N§13"


def test_EL_ADMITTED_INSIDE_VALIDITY_N13_discharge_after_expiry_settles_normally() -> None:
    decision = check_eligibility(
        request(
            admitted_on=date(2027, 1, 9),  # the last valid day
            checked_on=date(2027, 2, 20),
            stage=Stage.DISCHARGE,
        )
    )
    assert decision.eligible
    warning = next(w for w in decision.warnings if w.code == "EL_ADMITTED_INSIDE_VALIDITY")
    assert warning.article == "N§13"


def test_EL_ADMITTED_INSIDE_VALIDITY_N13_admitted_the_first_expired_day_is_refused() -> None:
    decision = check_eligibility(
        request(admitted_on=date(2027, 1, 10), checked_on=date(2027, 2, 20), stage=Stage.DISCHARGE)
    )
    assert refused(decision) == {"EL_VALID_ON_ADMISSION"}


def test_EL_EXPIRES_SOON_a_referral_near_expiry_is_admitted_with_a_warning() -> None:
    referral = filing(
        category=FilingCategory.REFERRAL, valid_from=date(2026, 6, 1), valid_to=date(2026, 11, 30)
    )
    decision = check_eligibility(request(filings=(referral,)))
    assert decision.eligible
    warning = next(w for w in decision.warnings if w.code == "EL_EXPIRES_SOON")
    assert "2026-11-30" in warning.message and "6天" in warning.message


def test_EL_EXPIRES_SOON_no_warning_one_day_outside_the_window() -> None:
    valid_to = date(2026, 11, 24).toordinal() + EXPIRY_WARNING_DAYS + 1
    referral = filing(valid_to=date.fromordinal(valid_to))
    assert "EL_EXPIRES_SOON" not in check_eligibility(request(filings=(referral,))).codes(
        Severity.WARNING
    )


# -- termination by loss of eligibility: N§11, N§15 ------------------------------------------


def test_EL_NOT_TERMINATED_N11_N15_a_filing_terminated_before_admission_is_refused() -> None:
    ended = filing(status=FilingStatus.TERMINATED, terminated_on=date(2026, 10, 1))
    decision = check_eligibility(request(filings=(ended,)))
    assert refused(decision) == {"EL_NOT_TERMINATED"}
    assert decision.reasons[0].article == "N§11, N§15"


def test_EL_NOT_TERMINATED_N11_N15_loss_of_eligibility_during_the_stay_refuses_at_discharge() -> (
    None
):
    ended = filing(status=FilingStatus.TERMINATED, terminated_on=date(2026, 12, 1))
    admitted = check_eligibility(request(filings=(ended,)))
    discharged = check_eligibility(
        request(filings=(ended,), checked_on=date(2026, 12, 5), stage=Stage.DISCHARGE)
    )
    assert admitted.eligible
    assert refused(discharged) == {"EL_NOT_TERMINATED"}


def test_N15_termination_ends_validity_the_day_before() -> None:
    ended = filing(status=FilingStatus.TERMINATED, terminated_on=date(2026, 12, 1))
    assert ended.effective_to == date(2026, 11, 30)
    assert ended.valid_on(date(2026, 11, 30)) and not ended.valid_on(date(2026, 12, 1))


# -- cancelled or changed filings: N§15 --------------------------------------------------------


def test_EL_NOT_CANCELLED_N15_a_cancelled_filing_is_refused() -> None:
    cancelled = filing(status=FilingStatus.CANCELLED, terminated_on=date(2026, 9, 1))
    decision = check_eligibility(request(filings=(cancelled,)))
    assert refused(decision) == {"EL_NOT_CANCELLED"}


def test_EL_NOT_CANCELLED_N13_cancelled_after_admission_the_stay_still_settles() -> None:
    cancelled = filing(status=FilingStatus.CANCELLED, terminated_on=date(2026, 12, 1))
    decision = check_eligibility(
        request(filings=(cancelled,), checked_on=date(2026, 12, 10), stage=Stage.DISCHARGE)
    )
    assert decision.eligible
    assert "EL_ADMITTED_INSIDE_VALIDITY" in decision.codes(Severity.WARNING)


def test_EL_NOT_CHANGED_N15_a_changed_filing_is_replaced_by_its_successor() -> None:
    old = filing(status=FilingStatus.CHANGED, successor_no="F009", treatment_admdvs="120100")
    new = filing(filing_no="F009", filing_type="change", valid_from=date(2026, 3, 1))
    decision = check_eligibility(request(filings=(old, new)))
    assert decision.eligible
    assert decision.filing is not None and decision.filing.filing_no == "F009"


def test_EL_NOT_CHANGED_a_changed_filing_whose_successor_is_unknown_is_refused() -> None:
    old = filing(status=FilingStatus.CHANGED, successor_no="F009")
    decision = check_eligibility(request(filings=(old,)))
    assert refused(decision) == {"EL_NOT_CHANGED"}
    assert "F009" in decision.reasons[0].message


def test_the_best_fitting_filing_is_chosen_among_several() -> None:
    expired = filing(filing_no="F000", valid_from=date(2025, 1, 1), valid_to=date(2025, 12, 31))
    other_city = filing(filing_no="F005", treatment_admdvs="120100")
    decision = check_eligibility(request(filings=(expired, other_city, filing())))
    assert decision.eligible
    assert decision.filing is not None and decision.filing.filing_no == "F001"


# -- injury parts: N§16, 附表1 ---------------------------------------------------------------


def test_EL_INJURY_PARTS_FILED_N16_several_filed_parts_may_be_treated_in_one_stay() -> None:
    assert check_eligibility(request(injury_parts=("左手", "左前臂"))).eligible


def test_EL_INJURY_PARTS_FILED_N16_an_injury_part_not_filed_is_refused() -> None:
    decision = check_eligibility(request(injury_parts=("左手", "右膝")))
    assert refused(decision) == {"EL_INJURY_PARTS_FILED"}
    reason = decision.reasons[0]
    assert "右膝" in reason.message and reason.field == "injury_parts"


@pytest.mark.parametrize("named", [(), ("",), ("  ", "")])
def test_EL_INJURY_PARTS_NAMED_N16_an_admission_naming_no_injured_part_is_refused(
    named: tuple[str, ...],
) -> None:
    """Before, "no parts, no check": the stay registered for direct settlement with no injured
    part at all, and the fund paid whatever it treated. The admission names what it treats."""
    decision = check_eligibility(request(injury_parts=named, parts_required=True))
    assert refused(decision) == {"EL_INJURY_PARTS_NAMED"}
    reason = decision.reasons[0]
    assert reason.field == "injury_parts" and "N§16" in reason.article
    assert "左手、左前臂" in reason.message and "受伤部位" in reason.message


def test_EL_INJURY_PARTS_NAMED_the_desks_question_before_the_form_needs_no_part() -> None:
    """The clerk asks "may this worker be settled here?" before ticking parts (and a device
    fitting treats none): that question is not refused for the parts it does not name."""
    assert check_eligibility(request(injury_parts=())).eligible


def test_EL_INJURY_PARTS_UNCHECKED_N16_a_filing_without_parts_does_not_refuse_the_treated() -> None:
    """Upstream's filing lists no injured part: before, the HIS's parts (HL7 ZWI-4, REST) were
    refused as "not filed (无)" while the desk, with no box to tick, admitted the same worker."""
    bare = filing(injury_parts=())
    decision = check_eligibility(
        request(filings=(bare,), injury_parts=("左手",), parts_required=True)
    )
    assert decision.eligible, [r.message for r in decision.reasons]
    note = next(w for w in decision.warnings if w.code == "EL_INJURY_PARTS_UNCHECKED")
    assert "左手" in note.message
    assert check_eligibility(request(filings=(bare,), parts_required=True)).eligible


# -- third-party liability: N§3, B§4 ---------------------------------------------------------


def test_EL_NO_THIRD_PARTY_N3_B4_third_party_liability_is_refused() -> None:
    decision = check_eligibility(request(filings=(filing(third_party_liability=True),)))
    assert refused(decision) == {"EL_NO_THIRD_PARTY"}
    assert decision.reasons[0].article == "N§3, B§4"


# -- device fitting: B§34 ---------------------------------------------------------------------


def device_request(**changes: Any) -> EligibilityRequest:
    base = request(
        kind=EncounterKind.DEVICE,
        filings=(device_filing(),),
        approval_notice_no="沪工伤辅核〔2026〕0123号",
        device_codes=("D01",),
    )
    return replace(base, **changes)


def test_EL_APPROVAL_NOTICE_B34_a_matching_notice_with_filed_items_is_eligible() -> None:
    decision = check_eligibility(device_request())
    assert decision.eligible
    assert decision.filing is not None and decision.filing.filing_no == "F100"


@pytest.mark.parametrize(
    "given",
    [
        "沪工伤辅核(2026)0123号",  # the brackets a keyboard types
        "沪工伤辅核（2026）0123号",
        "沪工伤辅核[2026]0123号",
        "沪工伤辅核［２０２６］０１２３号",  # full-width, as some input methods type
        "沪工伤辅核【2026】0123号",
        " 沪工伤辅核〔2026〕 0123号 ",
    ],
)
def test_EL_APPROVAL_NOTICE_B34_the_filed_notice_typed_with_other_brackets_is_eligible(
    given: str,
) -> None:
    decision = check_eligibility(device_request(approval_notice_no=given))
    assert decision.eligible, decision.reasons


@pytest.mark.parametrize(
    "given", ["", "沪工伤辅核〔2026〕0999号", "沪工伤辅核(2025)0123号", "沪工伤辅核〔2026〕01230号"]
)
def test_EL_APPROVAL_NOTICE_B34_a_missing_or_different_notice_is_refused(given: str) -> None:
    decision = check_eligibility(device_request(approval_notice_no=given))
    assert refused(decision) == {"EL_APPROVAL_NOTICE"}
    assert decision.reasons[0].field == "approval_notice_no"


def test_n34_b34_an_item_not_on_the_notice_is_a_warning_not_a_refusal() -> None:
    decision = check_eligibility(device_request(device_codes=("D01", "D77")))
    assert decision.eligible
    [warning] = [w for w in decision.warnings if w.code == "EL_DEVICES_ON_NOTICE"]
    assert "D77" in warning.message and warning.article == "N§5, N§34, B§5, B§34"


def test_EL_DEVICES_ON_NOTICE_a_code_in_another_letter_case_names_the_notices() -> None:
    """The fitting itself is refused (DEVICE_CODE_CASE); the check before it says why."""
    decision = check_eligibility(device_request(device_codes=("d01", "D77")))
    [warning] = [w for w in decision.warnings if w.code == "EL_DEVICES_ON_NOTICE"]
    assert "d01（通知单上为“D01”，仅字母大小写不同，请按通知单编码录入）" in warning.message
    assert "、D77" in warning.message and "D77（" not in warning.message


def test_every_refusal_is_reported_not_just_the_first() -> None:
    bad = filing(treatment_admdvs="120100", third_party_liability=True)
    decision = check_eligibility(
        request(
            card=card(status=CardStatus.LOST),
            filings=(bad,),
            institution=institution(status=DirectSettlementStatus.SUSPENDED),
            injury_parts=("右膝",),
        )
    )
    assert refused(decision) == {
        "EL_CARD_VALID",
        "EL_INSTITUTION_ENABLED",
        "EL_TREATMENT_PLACE",
        "EL_INJURY_PARTS_FILED",
        "EL_NO_THIRD_PARTY",
    }


def test_EL_EXPIRES_SOON_counts_days_from_today_not_from_a_back_dated_admission() -> None:
    referral = filing(valid_from=date(2026, 6, 1), valid_to=date(2026, 11, 30))
    # Admitted on 11-20 (entered late), read on 11-27: three days left, not ten.
    decision = check_eligibility(
        request(
            filings=(referral,),
            admitted_on=date(2026, 11, 20),
            checked_on=date(2026, 11, 20),
            today=date(2026, 11, 27),
        )
    )
    warning = next(w for w in decision.warnings if w.code == "EL_EXPIRES_SOON")
    assert "还有3天" in warning.message


def test_N13_a_back_dated_admission_on_a_filing_expired_since_is_told_not_counted_down() -> None:
    referral = filing(valid_from=date(2026, 6, 1), valid_to=date(2026, 11, 30))
    decision = check_eligibility(
        request(
            filings=(referral,),
            admitted_on=date(2026, 11, 28),
            checked_on=date(2026, 11, 28),
            today=date(2026, 12, 2),
        )
    )
    assert decision.eligible
    warned = decision.codes(Severity.WARNING)
    assert "EL_EXPIRES_SOON" not in warned
    assert "EL_ADMITTED_INSIDE_VALIDITY" in warned


@pytest.mark.parametrize(
    ("changes", "shown"),
    [
        ({}, "有效"),
        ({"valid_to": date(2026, 11, 20)}, "已过期"),
        ({"status": FilingStatus.CHANGED, "successor_no": "F9"}, "已变更"),
        ({"status": FilingStatus.CANCELLED, "terminated_on": date(2026, 11, 1)}, "已撤销"),
        ({"status": FilingStatus.TERMINATED, "terminated_on": date(2026, 11, 1)}, "已终止"),
        ({"status": FilingStatus.CANCELLED, "terminated_on": date(2026, 12, 1)}, "有效"),
    ],
)
def test_n11_n15_filing_status_is_the_one_for_today(changes: dict[str, Any], shown: str) -> None:
    assert filing(**changes).status_on(date(2026, 11, 24)) == shown


def test_EL_NOT_TERMINATED_N11_N15_a_stay_registered_after_eligibility_was_lost_is_refused() -> (
    None
):
    """Back-dated admission (registered late) on a day the filing was in force, registered
    after the worker lost eligibility: the discharge can only come later still, and a
    discharge on or after the termination is refused (N§11, N§15), so the registration is
    refused now, not told it will "settle normally" and refused at discharge."""
    ended = filing(status=FilingStatus.TERMINATED, terminated_on=date(2026, 11, 26))
    late = check_eligibility(
        request(
            filings=(ended,),
            admitted_on=date(2026, 11, 24),
            checked_on=date(2026, 11, 24),
            today=date(2026, 11, 28),
        )
    )
    assert refused(late) == {"EL_NOT_TERMINATED"}
    # registered before the termination date: admitted as before
    in_time = check_eligibility(
        request(filings=(ended,), admitted_on=date(2026, 11, 24), today=date(2026, 11, 25))
    )
    assert in_time.eligible


def test_EL_NOT_SUSPENDED_N49_a_stay_registered_while_suspended_is_refused() -> None:
    """Admission back-dated to before a suspension, registered while it is in force (N§49:
    direct settlement is suspended; the discharge would be refused)."""
    suspended = Suspension("P001", date(2026, 11, 26), "严重违规")
    late = check_eligibility(
        request(suspensions=(suspended,), admitted_on=date(2026, 11, 24), today=date(2026, 11, 28))
    )
    assert refused(late) == {"EL_NOT_SUSPENDED"}
