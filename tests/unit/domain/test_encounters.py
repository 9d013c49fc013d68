"""The encounter's state machine: admitted → settled → revoked; cancelled; manual claim."""

from __future__ import annotations

import pytest

from adapter.domain.encounters import TRANSITIONS, Encounter, EncounterKind, EncounterStatus
from adapter.domain.errors import InvalidTransition
from tests.unit.domain.builders import at

S = EncounterStatus


def encounter(status: EncounterStatus = S.ADMITTED) -> Encounter:
    return Encounter(
        id="E1",
        kind=EncounterKind.MEDICAL,
        psn_no="P001",
        filing_no="F001",
        institution_code="H11010000001",
        his_visit_id="V1",
        admitted_at=at("2026-11-24"),
        status=status,
    )


@pytest.mark.parametrize(
    "path",
    [
        [S.SETTLED, S.REVOKED, S.SETTLED],  # settle, revoke, re-settle
        [S.CANCELLED],
        [S.MANUAL_CLAIM],
        [S.SETTLED, S.REVOKED, S.MANUAL_CLAIM],
    ],
)
def test_allowed_paths(path: list[EncounterStatus]) -> None:
    current = encounter()
    for target in path:
        current = current.moved_to(target)
    assert current.status is path[-1]


@pytest.mark.parametrize(
    ("start", "target"),
    [
        (start, target)
        for start in S
        for target in S
        if target not in TRANSITIONS[start] and target is not start
    ],
)
def test_every_other_transition_is_refused_in_chinese(
    start: EncounterStatus, target: EncounterStatus
) -> None:
    with pytest.raises(InvalidTransition) as caught:
        encounter(start).moved_to(target)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in caught.value.message)


def test_N38_B27_a_manual_claim_blocks_any_later_direct_settlement() -> None:
    claimed = encounter().moved_to(S.MANUAL_CLAIM)
    with pytest.raises(InvalidTransition) as caught:
        claimed.moved_to(S.SETTLED)
    assert caught.value.article == "N§38, B§27"
    assert "重复报销" in caught.value.message


def test_settling_twice_is_refused() -> None:
    with pytest.raises(InvalidTransition, match="已结算"):
        encounter().moved_to(S.SETTLED).moved_to(S.SETTLED)


def test_moving_keeps_the_encounter_and_records_changes() -> None:
    settled = encounter().moved_to(S.SETTLED, discharged_at=at("2026-12-01"))
    assert settled.id == "E1" and settled.discharged_at == at("2026-12-01")
