"""Eligibility across a stay: the filing admitted on decides at discharge (N§13, N§15), and
injury parts matched as a clerk would (N§16, 附表1 受伤部位)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from adapter.domain.eligibility import check_eligibility
from adapter.domain.eligibility_request import Stage
from adapter.domain.filings import (
    FilingStatus,
    FilingType,
    current_filings,
    normalise_part,
    unfiled_parts,
)
from adapter.domain.rules import Severity
from tests.unit.domain.builders import filing, request

ADMITTED = date(2026, 11, 10)
DISCHARGED = date(2026, 11, 24)


def _changed_mid_stay() -> tuple:
    """F001 admitted on, changed on 15 November to F002 (filed that day)."""
    old = filing(status=FilingStatus.CHANGED, successor_no="F002", terminated_on=date(2026, 11, 15))
    new = filing(
        filing_no="F002",
        filing_type=FilingType.CHANGE,
        filed_on=date(2026, 11, 15),
        valid_from=date(2026, 11, 15),
        injury_parts=("左手", "左前臂", "左肘"),
    )
    return old, new


def test_n13_a_filing_changed_during_the_stay_settles_at_discharge_on_the_admitted_filing() -> None:
    old, new = _changed_mid_stay()
    decision = check_eligibility(
        request(
            filings=(old, new),
            admitted_on=ADMITTED,
            checked_on=DISCHARGED,
            stage=Stage.DISCHARGE,
            admitted_filing_no="F001",
        )
    )
    assert decision.eligible, [r.message for r in decision.reasons]
    assert decision.filing is not None and decision.filing.filing_no == "F001"
    warned = decision.codes(Severity.WARNING)
    assert "EL_CHANGED_DURING_STAY" in warned
    note = next(w for w in decision.warnings if w.code == "EL_CHANGED_DURING_STAY")
    assert "N§13" in note.article and "F002" in note.message


def test_n13_without_the_admitted_filing_the_filing_in_force_at_admission_still_decides() -> None:
    """Checked without the admitted filing's number, the successor filed mid-stay would fail
    "filed before admission" (N§16); the successor governs only later stays (N§15)."""
    old, new = _changed_mid_stay()
    decision = check_eligibility(
        request(
            filings=(old, new), admitted_on=ADMITTED, checked_on=DISCHARGED, stage=Stage.DISCHARGE
        )
    )
    assert decision.eligible, [r.message for r in decision.reasons]
    assert decision.filing is not None and decision.filing.filing_no == "F001"
    assert "EL_CHANGED_DURING_STAY" in decision.codes(Severity.WARNING)


# -- a stay registered after its filing changed (late registration, manual-claim switch) -----

REGISTERED = date(2026, 11, 20)  # five days after the change, ten after the admission


def test_n13_n15_a_stay_admitted_before_the_change_registers_late_on_the_filing_in_force() -> None:
    old, new = _changed_mid_stay()
    decision = check_eligibility(
        request(filings=(old, new), admitted_on=ADMITTED, checked_on=ADMITTED, today=REGISTERED)
    )
    assert decision.eligible, [r.message for r in decision.reasons]
    assert decision.filing is not None and decision.filing.filing_no == "F001"
    assert "EL_FILED_BEFORE_ADMISSION" not in decision.codes()
    note = next(w for w in decision.warnings if w.code == "EL_CHANGED_DURING_STAY")
    assert "F001" in note.message and "于2026-11-15变更" in note.message
    assert "之后就医以变更后的备案F002为准" in note.message


def test_n15_a_stay_admitted_before_the_change_is_not_checked_on_the_successor() -> None:
    """The successor files 左肘 too, but governs only stays that start after the change: a
    stay admitted before it is refused for 左肘 on the filing then in force, not accepted on
    the successor nor refused as "filed after admission"."""
    old, new = _changed_mid_stay()
    decision = check_eligibility(
        request(
            filings=(old, new),
            admitted_on=ADMITTED,
            checked_on=ADMITTED,
            today=REGISTERED,
            injury_parts=("左肘",),
        )
    )
    assert decision.codes() == {"EL_INJURY_PARTS_FILED"}
    assert decision.filing is not None and decision.filing.filing_no == "F001"


def test_n13_n15_changed_or_cancelled_after_admission_late_registrations_are_alike() -> None:
    old, new = _changed_mid_stay()
    cancelled = filing(status=FilingStatus.CANCELLED, terminated_on=date(2026, 11, 15))
    decisions = [
        check_eligibility(
            request(filings=filings, admitted_on=ADMITTED, checked_on=ADMITTED, today=REGISTERED)
        )
        for filings in ((old, new), (cancelled,))
    ]
    assert [d.eligible for d in decisions] == [True, True]
    assert [d.filing.filing_no for d in decisions if d.filing] == ["F001", "F001"]
    assert all("EL_CHANGED_DURING_STAY" in d.codes(Severity.WARNING) for d in decisions)


def test_n15_a_change_known_only_by_its_successor_dates_from_the_successors_validity() -> None:
    """Upstream may leave the changed filing's end date empty: the successor's first day of
    validity is then the change (before it the successor could not govern anything)."""
    old, new = _changed_mid_stay()
    undated = replace(old, terminated_on=None)
    before = check_eligibility(
        request(filings=(undated, new), admitted_on=ADMITTED, checked_on=ADMITTED, today=REGISTERED)
    )
    after = check_eligibility(
        request(filings=(undated, new), admitted_on=REGISTERED, checked_on=REGISTERED)
    )
    assert before.eligible and before.filing is not None and before.filing.filing_no == "F001"
    assert after.eligible and after.filing is not None and after.filing.filing_no == "F002"


def test_n15_a_filing_changed_before_admission_whose_successor_is_unknown_is_refused() -> None:
    old, _ = _changed_mid_stay()
    decision = check_eligibility(
        request(filings=(old,), admitted_on=REGISTERED, checked_on=REGISTERED)
    )
    assert decision.codes() == {"EL_NOT_CHANGED"}


def test_n15_a_chain_of_changes_keeps_the_one_in_force_on_the_day() -> None:
    first = filing(
        filing_no="F0", status=FilingStatus.CHANGED, successor_no="F1",
        terminated_on=date(2026, 6, 1),
    )  # fmt: skip
    second = filing(
        filing_no="F1", status=FilingStatus.CHANGED, successor_no="F2",
        valid_from=date(2026, 6, 1), filed_on=date(2026, 6, 1), terminated_on=date(2026, 11, 15),
    )  # fmt: skip
    third = filing(filing_no="F2", valid_from=date(2026, 11, 15), filed_on=date(2026, 11, 15))
    chain = (first, second, third)
    in_force = {
        day: [f.filing_no for f in current_filings(chain, on=day)]
        for day in (date(2026, 3, 1), ADMITTED, REGISTERED)
    }
    assert in_force == {date(2026, 3, 1): ["F0"], ADMITTED: ["F1"], REGISTERED: ["F2"]}
    assert [f.filing_no for f in current_filings(chain)] == ["F2"]


def test_n13_a_filing_cancelled_during_the_stay_without_a_date_still_settles() -> None:
    cancelled = filing(status=FilingStatus.CANCELLED)
    decision = check_eligibility(
        request(
            filings=(cancelled,),
            admitted_on=ADMITTED,
            checked_on=DISCHARGED,
            stage=Stage.DISCHARGE,
            admitted_filing_no="F001",
        )
    )
    assert decision.eligible and "EL_CHANGED_DURING_STAY" in decision.codes(Severity.WARNING)


def test_n15_an_admission_after_the_change_uses_the_successor() -> None:
    old, new = _changed_mid_stay()
    decision = check_eligibility(
        request(filings=(old, new), admitted_on=date(2026, 11, 20), checked_on=date(2026, 11, 20))
    )
    assert decision.eligible and decision.filing is not None
    assert decision.filing.filing_no == "F002"


def test_n15_loss_of_eligibility_during_the_stay_still_refuses_at_discharge() -> None:
    ended = filing(status=FilingStatus.TERMINATED, terminated_on=date(2026, 11, 15))
    decision = check_eligibility(
        request(
            filings=(ended,),
            admitted_on=ADMITTED,
            checked_on=DISCHARGED,
            stage=Stage.DISCHARGE,
            admitted_filing_no="F001",
        )
    )
    assert decision.codes() == {"EL_NOT_TERMINATED"}


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("左手部", "左手"),
        ("左手", "左手"),
        (" 左 手 ", "左手"),
        ("左侧手部", "左手"),
        ("腰部", "腰"),
        ("颈椎", "颈椎"),
        ("左手部位", "左手"),
        ("部", "部"),
    ],
)
def test_n16_injury_parts_are_read_as_a_clerk_reads_them(written: str, read: str) -> None:
    assert normalise_part(written) == read


def test_n16_injury_parts_match_the_filed_parts_as_a_clerk_would() -> None:
    filed = ("左手", "双膝", "腰部")
    assert unfiled_parts(("左手部", "右膝", "腰", "左 膝"), filed) == []
    assert unfiled_parts(("右手", "左手"), filed) == ["右手"]
    decision = check_eligibility(request(injury_parts=("左手部", "左前臂")))
    assert decision.eligible
    refused = check_eligibility(request(injury_parts=("左手部", "右膝")))
    assert [r.code for r in refused.reasons] == ["EL_INJURY_PARTS_FILED"]
    assert "右膝" in refused.reasons[0].message and "左手部" not in refused.reasons[0].message


@pytest.mark.parametrize(
    ("treated", "filed"),
    [
        (("左手",), ("手部",)),  # the filing names the part, not the side
        (("右膝", "左膝"), ("膝",)),
        (("双手",), ("左手", "右手")),  # both hands filed one by one, treated as 双手
        (("两侧膝部",), ("左膝", "右膝")),
    ],
)
def test_EL_INJURY_PARTS_FILED_N16_a_side_the_filing_leaves_open_or_both_sides_filed_are_filed(
    treated: tuple[str, ...], filed: tuple[str, ...]
) -> None:
    """A clerk reading a filing of 手部 admits the left hand's treatment; one reading 左手 and
    右手 admits 双手. Before, both stays were refused as "not filed"."""
    assert unfiled_parts(treated, filed) == []
    decision = check_eligibility(
        request(filings=(filing(injury_parts=filed),), injury_parts=treated)
    )
    assert decision.eligible, [r.message for r in decision.reasons]


def test_EL_INJURY_PARTS_FILED_N16_one_side_filed_does_not_cover_the_other_or_both() -> None:
    assert unfiled_parts(("右手", "双手", "手"), ("左手",)) == ["右手", "双手", "手"]
    assert unfiled_parts(("双膝",), ("左膝",)) == ["双膝"]


@pytest.mark.parametrize("typed", ["左手、左前臂", "左手，左前臂", "左手,左前臂", "左手；左前臂"])
def test_EL_INJURY_PARTS_FILED_N16_several_parts_typed_in_one_entry_are_each_checked(
    typed: str,
) -> None:
    """The HIS (ZWI-4, REST) sends "左手、左前臂" as one entry, as the desk's typed field takes
    them; each part is checked, and one unfiled among them still refuses."""
    assert check_eligibility(request(injury_parts=(typed,), parts_required=True)).eligible
    refused = check_eligibility(request(injury_parts=("左手、右膝",), parts_required=True))
    assert [r.code for r in refused.reasons] == ["EL_INJURY_PARTS_FILED"]
    assert "右膝" in refused.reasons[0].message and "左手、右膝" not in refused.reasons[0].message
