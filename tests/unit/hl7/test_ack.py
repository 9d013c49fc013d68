"""Acknowledgements: AA/AE/AR in the inbound version and charset, parseable by hl7apy."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hl7apy.parser import parse_message

from connectors.hl7.ack import (
    HL7_CODES,
    AckError,
    AckIdentity,
    build_ack,
    build_ack_with_hl7apy,
)
from connectors.hl7.errors import Location
from connectors.hl7.header import SUPPORTED_VERSIONS, read_header
from connectors.hl7.reader import Hl7Message
from tests.unit.hl7 import messages as m

NOW = datetime(2026, 3, 1, 12, 0, 5, tzinfo=ZoneInfo("Asia/Shanghai"))
IDENTITY = AckIdentity("WIADAPTER", "H11010000001")
REASONS = [
    AckError("ELIG_NO_FILING", "未查询到有效备案|请先备案", diagnostic="N§16, B§26"),
    AckError("ELIG_INJURY_PART", "治疗部位^不在备案范围内", diagnostic="N§16"),
]


def ack_for(text: str, code: str, errors: list[AckError], charset: str = "UNICODE UTF-8"):
    header = read_header(m.encode(text, charset))
    raw = build_ack(header, code, errors, identity=IDENTITY, now=NOW)
    return header, raw


@pytest.mark.parametrize("charset", ["UNICODE UTF-8", "GB 18030-2000"])
def test_ae_has_one_err_per_reason_with_code_and_chinese_message(charset: str) -> None:
    header, raw = ack_for(m.admit(charset=charset), "AE", REASONS, charset)
    text = raw.decode("gb18030" if charset.startswith("GB") else "utf-8")
    ack = Hl7Message(text)
    assert ack.msh.get(18) == charset
    assert ack.msh.get(12) == "2.5"
    assert ack.msh.get(9, 1) == "ACK" and ack.msh.get(9, 2) == "A01"
    assert ack.msh.get(5) == "HIS" and ack.msh.get(3) == "WIADAPTER"
    msa = ack.require("MSA")
    assert msa.get(1) == "AE" and msa.get(2) == header.control_id
    errs = ack.all("ERR")
    assert [e.get(3) for e in errs] == ["ELIG_NO_FILING", "ELIG_INJURY_PART"]
    assert [e.get(8) for e in errs] == ["未查询到有效备案|请先备案", "治疗部位^不在备案范围内"]
    assert [e.get(7) for e in errs] == ["N§16, B§26", "N§16"]
    assert all(e.get(4) == "E" for e in errs)
    parsed = parse_message(text.replace("\r", "\r"))
    assert parsed.msa.msa_1.value == "AE"


def test_ar_names_segment_and_field_in_err_2() -> None:
    error = AckError(
        "101",
        "缺少就诊号（PV1-19）",
        coding_system=HL7_CODES,
        location=Location("PV1", 1, 19),
        application_code="HL7_REQUIRED",
        diagnostic="PV1-19 VISIT_NUMBER",
    )
    _, raw = ack_for(m.admit(), "AR", [error])
    err = Hl7Message(raw.decode()).require("ERR")
    assert (err.get(2, 1), err.get(2, 2), err.get(2, 3)) == ("PV1", "1", "19")
    assert (err.get(3, 1), err.get(3, 3)) == ("101", "HL70357")
    assert err.get(5) == "HL7_REQUIRED"


@pytest.mark.parametrize("version", ["2.3", "2.3.1", "2.4"])
def test_older_versions_carry_errors_in_err_1_and_msa_3(version: str) -> None:
    _, raw = ack_for(m.admit(version=version), "AE", REASONS)
    ack = Hl7Message(raw.decode())
    assert ack.msh.get(12) == version
    err = ack.require("ERR")
    assert [err.get(1, 4, rep) for rep in (1, 2)] == ["ELIG_NO_FILING", "ELIG_INJURY_PART"]
    assert ack.require("MSA").get(3) == "未查询到有效备案|请先备案"
    parse_message(raw.decode())


@pytest.mark.parametrize("version", SUPPORTED_VERSIONS)
def test_aa_echoes_control_id_in_every_version(version: str) -> None:
    _header, raw = ack_for(m.admit("CTRL-77", version=version), "AA", [])
    ack = Hl7Message(raw.decode())
    assert ack.require("MSA").get(1) == "AA"
    assert ack.require("MSA").get(2) == "CTRL-77"
    assert ack.first("ERR") is None
    assert ack.msh.get(7).startswith("20260301120005")


def test_ack_without_a_readable_header_is_utf8_25_with_no_control_id() -> None:
    raw = build_ack(
        None,
        "AR",
        [AckError("100", "报文缺少MSH段", coding_system=HL7_CODES)],
        identity=IDENTITY,
        now=NOW,
    )
    ack = Hl7Message(raw.decode("utf-8"))
    assert ack.msh.get(12) == "2.5" and ack.msh.get(18) == "UNICODE UTF-8"
    assert ack.require("MSA").get(1) == "AR" and ack.require("MSA").get(2) == ""


def test_unknown_charset_label_is_answered_in_utf8() -> None:
    text = m.admit().replace("UNICODE UTF-8", "BIG5")
    header = read_header(text.encode())
    raw = build_ack(
        header,
        "AR",
        [AckError("103", "不支持的字符集", coding_system=HL7_CODES)],
        identity=IDENTITY,
        now=NOW,
    )
    assert Hl7Message(raw.decode("utf-8")).msh.get(18) == "UNICODE UTF-8"


AR_ERROR = AckError(
    "102",
    "数据类型错误：金额\\格式",
    coding_system=HL7_CODES,
    location=Location("FT1", 3, 11, 1),
    application_code="HL7_BAD_AMOUNT",
    diagnostic="FT1-11 TRANSACTION_AMOUNT_EXTENDED",
)
WARNING = AckError("FEE_UNMAPPED", "费用明细L1的项目未对照", severity="W", diagnostic="N§32")
LOCATED = AckError(
    "FEE_REVERSAL_PRICE_MISMATCH",
    "冲销明细R2的单价100.00元与原明细L2的单价36.50元不符",
    location=Location("FT1", 3, 12),
    diagnostic="N§32, N§33, N§47",
)


def test_ae_names_where_the_refused_value_travelled_in_err_2() -> None:
    _, raw = ack_for(m.admit(), "AE", [REASONS[0], LOCATED])
    unlocated, located = Hl7Message(raw.decode()).all("ERR")
    assert unlocated.raw(2) == ""
    assert located.raw(2) == "FT1^3^12"
    assert (located.get(3, 1), located.get(3, 3)) == ("FEE_REVERSAL_PRICE_MISMATCH", "99WIA")
    assert located.get(7) == "N§32, N§33, N§47"


@pytest.mark.parametrize("version", ["2.3", "2.3.1", "2.4"])
def test_older_versions_name_the_location_of_an_ae_in_err_1(version: str) -> None:
    _, raw = ack_for(m.admit(version=version), "AE", [REASONS[0], LOCATED])
    err = Hl7Message(raw.decode()).require("ERR")
    assert [err.get(1, c, 1) for c in (1, 2, 3, 4)] == ["", "", "", "ELIG_NO_FILING"]
    assert [err.get(1, c, 2) for c in (1, 2, 3, 4)] == [
        "FT1", "3", "12", "FEE_REVERSAL_PRICE_MISMATCH",
    ]  # fmt: skip


@pytest.mark.parametrize("version", SUPPORTED_VERSIONS)
@pytest.mark.parametrize(
    ("code", "errors"),
    [
        ("AA", []),
        ("AA", [WARNING]),
        ("AE", REASONS),
        ("AE", [*REASONS, LOCATED]),
        ("AR", [AR_ERROR]),
    ],
    ids=["AA", "AA-warning", "AE", "AE-located", "AR"],
)
@pytest.mark.parametrize("charset", ["UNICODE UTF-8", "GB 18030-2000", "BIG5"])
def test_each_ack_is_exactly_what_hl7apy_builds_for_the_same_values(
    version: str, code: str, errors: list[AckError], charset: str
) -> None:
    # Several messages of one shape: the second and third reuse what hl7apy built for the first.
    for control_id in ("C-1", "控制号\\S\\2", "C-3"):  # escaped, as senders send it
        text = m.admit(control_id, version=version, charset=charset)
        if charset == "BIG5":  # a label we do not know: answered in UTF-8
            header = read_header(text.encode("utf-8"))
        else:
            header = read_header(m.encode(text, charset))
        fast = build_ack(header, code, errors, identity=IDENTITY, now=NOW, ack_control_id="A9")
        reference = build_ack_with_hl7apy(
            header, code, errors, identity=IDENTITY, now=NOW, ack_control_id="A9"
        )
        assert fast == reference


def test_an_ack_without_a_header_is_exactly_what_hl7apy_builds() -> None:
    errors = [AckError("100", "报文缺少MSH段", coding_system=HL7_CODES)]
    for now in (NOW, NOW.replace(tzinfo=None)):
        fast = build_ack(None, "AR", errors, identity=IDENTITY, now=now, ack_control_id="Z")
        reference = build_ack_with_hl7apy(
            None, "AR", errors, identity=IDENTITY, now=now, ack_control_id="Z"
        )
        assert fast == reference


def test_every_ack_gets_its_own_control_id() -> None:
    header = read_header(m.encode(m.admit("C-1"), "UNICODE UTF-8"))
    ids = {
        Hl7Message(build_ack(header, "AA", [], identity=IDENTITY, now=NOW).decode()).msh.get(10)
        for _ in range(5)
    }
    assert len(ids) == 5
