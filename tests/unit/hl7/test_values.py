"""HL7 primitive values and field reads: the fast ways give what the general ways give."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from connectors.hl7.errors import Hl7Error, Location
from connectors.hl7.reader import Hl7Message
from connectors.hl7.values import parse_decimal, parse_ts

SHANGHAI = ZoneInfo("Asia/Shanghai")
HERE = Location("FT1", 1, 4)


def offset(minutes: int) -> timezone:
    return timezone(timedelta(minutes=minutes))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20260301083000+0800", datetime(2026, 3, 1, 8, 30, tzinfo=offset(480))),
        (" 20260301083000-0530 ", datetime(2026, 3, 1, 8, 30, tzinfo=offset(-330))),
        ("20260301083000+0000", datetime(2026, 3, 1, 8, 30, tzinfo=UTC)),
        ("20260301083000.25+0800", datetime(2026, 3, 1, 8, 30, 0, 250000, tzinfo=offset(480))),
        ("20260301083000", datetime(2026, 3, 1, 8, 30, tzinfo=SHANGHAI)),
        ("202603010830", datetime(2026, 3, 1, 8, 30, tzinfo=SHANGHAI)),
        ("20260301", datetime(2026, 3, 1, tzinfo=SHANGHAI)),
        # Unicode decimal digits are digits to the pattern, so to the fast way too.
        ("２０２６０３０１０８３０００+０８００", datetime(2026, 3, 1, 8, 30, tzinfo=offset(480))),
    ],
)
def test_timestamps_are_read_with_their_offset_or_the_site_zone(
    text: str, expected: datetime
) -> None:
    parsed = parse_ts(text, SHANGHAI, HERE)
    assert parsed == expected
    assert parsed.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("20260301083000+1500", "时区偏移无效"),
        ("20260301083000+0860", "时区偏移无效"),
        ("20260230083000+0800", "时间无效"),
        ("20260301253000+0800", "时间无效"),
        ("2026030108300X+0800", "时间格式无效"),
        ("20260301083000+08a0", "时间格式无效"),
        ("2026-03-01 08:30", "时间格式无效"),
        ("", "时间格式无效"),
    ],
)
def test_a_timestamp_that_cannot_be_read_exactly_is_refused(text: str, why: str) -> None:
    with pytest.raises(Hl7Error, match=why) as refused:
        parse_ts(text, SHANGHAI, HERE)
    assert refused.value.code == "HL7_BAD_TIME"
    assert refused.value.location == HERE


@pytest.mark.parametrize(
    "field",
    [
        "",
        "X1",
        " X1 ^ 名称 ^99DRUG ",
        "X1^名称",
        "X1^^99DRUG",
        "X1&sub^名&称^S1&S2",
        "A\\S\\B^名\\T\\称\\E\\^\\F\\",
        "~X2^第二",
        "X1^一~X2^二",
        "~",
        "^^^^",
        "X1^名称^99DRUG^extra^more",
    ],
)
def test_components_of_a_field_are_what_get_reads_one_by_one(field: str) -> None:
    segment = Hl7Message(f"MSH|^~\\&|HIS\rFT1|1|L1||||CG|{field}").segments[1]
    assert segment.components_of(7, 4) == [segment.get(7, n) for n in range(1, 5)]
    assert segment.components_of(9, 2) == ["", ""]  # a field not sent


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2", "2"), (" 18.50 ", "18.50"), ("-1", "-1"), ("+.5", "0.5"), ("3.", "3"), ("０.５", "0.5")],
)
def test_numbers_are_read_exactly_every_time(text: str, expected: str) -> None:
    first = parse_decimal(text, HERE)
    assert first == Decimal(expected) and str(first) == str(Decimal(text.strip()))
    assert parse_decimal(text, Location("FT1", 2, 10)) == first  # read again elsewhere


@pytest.mark.parametrize(
    ("text", "why"),
    [("1e3", "数值无效"), ("NaN", "数值无效"), ("1,000", "数值无效"), (".", "数值无效"),
     ("", "数值无效"), ("1000000000000", "数值超出范围"), ("-999999999999.999", "")],
)  # fmt: skip
def test_a_number_that_is_not_one_is_refused_where_it_was_sent(text: str, why: str) -> None:
    if not why:
        assert parse_decimal(text, HERE) == Decimal(text)
        return
    for location in (HERE, Location("FT1", 3, 11)):  # the same text refused again, named anew
        with pytest.raises(Hl7Error, match=why) as refused:
            parse_decimal(text, location)
        assert refused.value.code == "HL7_BAD_NUMBER"
        assert refused.value.location == location
        assert str(location) in refused.value.message
