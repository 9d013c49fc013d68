"""The 30-character msgid: institution (12) + yyyyMMddHHmmss (14) + sequence (4)."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapter.domain.upstream import make_msgid
from connectors.upstream.clock import FixedClock
from connectors.upstream.msgids import MsgidSequence

from .helpers import SHANGHAI


def test_msgid_is_institution_then_local_time_then_sequence() -> None:
    msgid = make_msgid("H11010000001", datetime(2026, 11, 24, 9, 30, 5), 7)
    assert msgid == "H11010000001202611240930050007"
    assert len(msgid) == 30


@pytest.mark.parametrize(
    ("code", "sequence"),
    [("H1101000001", 0), ("H110100000012", 0), ("H1101000000-", 0), ("H11010000001", 10000)],
)
def test_msgid_refuses_a_bad_code_or_sequence(code: str, sequence: int) -> None:
    with pytest.raises(ValueError):
        make_msgid(code, datetime(2026, 11, 24), sequence)


@given(
    at=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(9999, 12, 31)),
    sequence=st.integers(min_value=0, max_value=9999),
)
def test_msgid_always_has_thirty_characters_and_reads_back(at: datetime, sequence: int) -> None:
    msgid = make_msgid("H11010000001", at, sequence)
    assert len(msgid) == 30
    assert datetime.strptime(msgid[12:26], "%Y%m%d%H%M%S") == at.replace(microsecond=0)
    assert int(msgid[26:]) == sequence


def test_sequence_never_repeats_even_past_ten_thousand_in_one_second() -> None:
    clock = FixedClock(datetime(2026, 11, 24, 9, 30, 5, tzinfo=SHANGHAI))
    sequence = MsgidSequence("H11010000001", clock)
    ids = [sequence.next() for _ in range(10_002)]
    assert len(set(ids)) == len(ids)
    assert ids[0] == "H11010000001202611240930050000"
    assert ids[10_000] == "H11010000001202611240930060000"
    assert ids == sorted(ids)
