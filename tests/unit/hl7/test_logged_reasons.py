"""The ``hl7.message`` log line names why a message was refused, not only that it was: IT
reading the log file saw ``ack_code=AE`` and had to open the message log to learn it was
``EL_INJURY_PARTS_NAMED`` or ``HL7_NOT_AN_ADMISSION``."""

from __future__ import annotations

import logging

import pytest

from connectors.hl7 import metrics
from connectors.hl7.ack import HL7_CODES, AckError, build_ack
from connectors.hl7.errors import Location
from connectors.hl7.header import read_header
from tests.unit.hl7 import messages as m
from tests.unit.hl7.test_ack import IDENTITY, NOW

PARTS = AckError("EL_INJURY_PARTS_NAMED", "入院登记未填写本次治疗的受伤部位", diagnostic="N§16")
FILING = AckError("EL_FILING_ACTIVE", "未查询到有效备案", diagnostic="N§16")
MISSING = AckError(
    "101",
    "缺少就诊号（PV1-19）",
    coding_system=HL7_CODES,
    location=Location("PV1", 1, 19),
    application_code="HL7_REQUIRED_FIELD",
)


def _ack(text: str, code: str, errors: list[AckError], charset: str = "UNICODE UTF-8") -> bytes:
    return build_ack(read_header(m.encode(text, charset)), code, errors, identity=IDENTITY, now=NOW)


@pytest.mark.parametrize("version", ["2.5", "2.3", "2.4"])
@pytest.mark.parametrize("charset", ["UNICODE UTF-8", "GB 18030-2000"])
def test_each_reason_of_an_ae_is_read_back_in_order(version: str, charset: str) -> None:
    ack = _ack(m.admit(version=version, charset=charset), "AE", [PARTS, FILING, PARTS], charset)
    assert metrics.error_codes(ack) == ["EL_INJURY_PARTS_NAMED", "EL_FILING_ACTIVE"]


def test_an_ar_names_the_adapters_finer_code_over_the_hl7_table_code() -> None:
    ack = _ack(m.admit(), "AR", [MISSING])
    assert metrics.error_codes(ack) == ["HL7_REQUIRED_FIELD"]


def test_an_accepted_message_without_warnings_names_none() -> None:
    assert metrics.error_codes(_ack(m.admit(), "AA", [])) == []
    assert metrics.error_codes(b"") == []


def test_the_log_line_carries_the_codes(caplog: pytest.LogCaptureFixture) -> None:
    message = m.encode(m.admit(control_id="LOGR1"), "UNICODE UTF-8")
    ack = _ack(m.admit(control_id="LOGR1"), "AE", [PARTS, FILING])
    with caplog.at_level(logging.INFO, logger="connectors.hl7"):
        metrics.observe(message, ack, 0.004, "10.0.0.7")
    (line,) = [r for r in caplog.records if r.getMessage() == "hl7.message"]
    assert line.__dict__["control_id"] == "LOGR1" and line.__dict__["ack_code"] == "AE"
    assert line.__dict__["error_codes"] == "EL_INJURY_PARTS_NAMED,EL_FILING_ACTIVE"
