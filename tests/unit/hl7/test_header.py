"""The MSH header read from raw bytes: a GBK / GB 18030 character whose second byte is an HL7
separator (``|`` ``^`` ``~`` ``\\``) is one character, not a separator. (``&``, 0x26, is below
the second byte's range, 0x40–0xFE, and a four-byte character's second and fourth are digits.)"""

from __future__ import annotations

import pytest

from connectors.hl7.header import read_header, same_message
from tests.unit.hl7 import messages as m

# one character per separator its second GBK byte equals
SEPARATOR_IN_SECOND_BYTE = {"|": "東", "^": "區", "~": "紐", "\\": "淺"}


def test_the_characters_really_carry_the_separator_byte() -> None:
    for separator, char in SEPARATOR_IN_SECOND_BYTE.items():
        assert char.encode("gb18030")[1:] == separator.encode(), char


@pytest.mark.parametrize("label", ["GB 18030-2000", "GBK", "GB2312"])
@pytest.mark.parametrize("separator", list(SEPARATOR_IN_SECOND_BYTE))
def test_a_gbk_name_with_a_separator_byte_is_read_whole(separator: str, label: str) -> None:
    char = SEPARATOR_IN_SECOND_BYTE[separator]
    text = m.admit("K1", charset=label).replace("|HIS|H1|", f"|{char}軟HIS|北京{char}城醫院|", 1)
    header = read_header(text.encode("gb18030"))
    assert (header.sending_application, header.sending_facility) == (
        f"{char}軟HIS",
        f"北京{char}城醫院",
    )
    assert (header.message_type, header.control_id, header.version) == ("ADT^A01", "K1", "2.5")
    assert (header.charset_label, header.codec, header.control_field) == (label, "gb18030", 0)


@pytest.mark.parametrize("charset", ["UNICODE UTF-8", ""])
def test_a_utf8_name_is_read_as_utf8(charset: str) -> None:
    text = m.admit("K2", charset=charset).replace("|HIS|H1|", "|東軟HIS|北京市東城區醫院|", 1)
    header = read_header(text.encode("utf-8"))
    assert (header.sending_application, header.sending_facility) == ("東軟HIS", "北京市東城區醫院")
    assert (header.control_id, header.codec) == ("K2", "utf-8")


def test_a_resend_of_a_gbk_named_message_is_the_same_message() -> None:
    first = m.admit("K3", charset="GB 18030-2000").replace("|HIS|H1|", "|東軟HIS|東城區醫院|", 1)
    resent = first.replace("20260301120000+0800", "20260301121500+0800").replace("\r", "\r\n")
    other = first.replace("~P0001^", "~P0002^")
    assert same_message(first.encode("gb18030"), resent.encode("gb18030"))
    assert not same_message(first.encode("gb18030"), other.encode("gb18030"))
