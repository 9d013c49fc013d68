"""Eligibility across a stay: the filing admitted on decides at discharge (N§13, N§15), and
injury parts matched as a clerk would (N§16, 附表1 受伤部位)."""

from __future__ import annotations

from datetime import date

import pytest

from adapter.domain.eligibility import Stage, check_eligibility
from adapter.domain.filings import FilingStatus, FilingType, normalise_part, unfiled_parts
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


def test_n13_without_the_admitted_filing_the_successor_filed_mid_stay_is_what_failed() -> None:
    """The defect this fixes: checked without the admitted filing, the successor fails N§16."""
    old, new = _changed_mid_stay()
    decision = check_eligibility(
        request(
            filings=(old, new), admitted_on=ADMITTED, checked_on=DISCHARGED, stage=Stage.DISCHARGE
        )
    )
    assert "EL_FILED_BEFORE_ADMISSION" in decision.codes()


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
