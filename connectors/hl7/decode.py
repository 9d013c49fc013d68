"""Raw bytes → a parsed :class:`~connectors.hl7.reader.Hl7Message`, or the error rejecting it.

The MSH header (:mod:`connectors.hl7.header`) is read from the raw bytes first; MSH-18 says
which charset decodes the rest. A message that cannot be decoded is still stored (the log
keeps every frame), so :func:`decode` returns the error instead of raising it, and
:func:`checked` decides, once the message is to be processed, which error answers it: an
unknown charset first, then an unsupported version (MSH-12), a missing control id (MSH-10),
a processing id (MSH-11) other than the site's (a training system's ``T`` is not applied to
real stays), and only then what the parser found.
"""

from __future__ import annotations

from dataclasses import dataclass

from adapter.domain.text import control_character
from connectors.hl7.controls import control_error, control_location
from connectors.hl7.errors import (
    DATA_TYPE_ERROR,
    REQUIRED_FIELD_MISSING,
    TABLE_VALUE_NOT_FOUND,
    UNSUPPORTED_PROCESSING_ID,
    UNSUPPORTED_VERSION_ID,
    Hl7Error,
    Location,
)
from connectors.hl7.header import RawHeader
from connectors.hl7.mapping import visit_number
from connectors.hl7.reader import Hl7Message

_PROCESSING = {"P": "生产", "T": "培训", "D": "调试"}  # HL7 table 0103


@dataclass(frozen=True)
class Decoded:
    """The parsed message, or why it could not be parsed (exactly one is set)."""

    message: Hl7Message | None
    error: Hl7Error | None


def decode(raw: bytes, header: RawHeader) -> Decoded:
    """Decode ``raw`` with the charset its MSH-18 names and parse it."""
    codec = header.codec
    if codec is None:
        return Decoded(
            None,
            Hl7Error(
                f"不支持的字符集（MSH-18）：{header.charset_label}",
                Location("MSH", 1, 18),
                hl7_code=TABLE_VALUE_NOT_FOUND,
                code="HL7_UNKNOWN_CHARSET",
            ),
        )
    try:
        text = raw.decode(codec)
    except UnicodeDecodeError:
        return Decoded(
            None,
            Hl7Error(
                f"报文内容与字符集{header.charset_label or 'UNICODE UTF-8'}（MSH-18）不符",
                Location("MSH", 1, 18),
                hl7_code=DATA_TYPE_ERROR,
                code="HL7_BAD_ENCODING",
            ),
        )
    try:
        return Decoded(Hl7Message(text, codec), None)
    except Hl7Error as error:
        return Decoded(None, error)


def checked(header: RawHeader, decoded: Decoded, processing_id: str = "P") -> Hl7Message:
    """The decoded message, once the header says it is one we can take."""
    if decoded.error is not None and decoded.error.code in ("HL7_UNKNOWN_CHARSET",):
        raise decoded.error
    if not header.version_supported:
        raise Hl7Error(
            f"不支持的HL7版本（MSH-12）：{header.version or '（空）'}",
            Location("MSH", 1, 12),
            hl7_code=UNSUPPORTED_VERSION_ID,
            code="HL7_UNSUPPORTED_VERSION",
        )
    if not header.control_id:
        raise Hl7Error(
            "缺少消息控制号（MSH-10）",
            Location("MSH", 1, 10),
            hl7_code=REQUIRED_FIELD_MISSING,
            code="HL7_REQUIRED",
        )
    sent, taken = header.processing_id.upper(), processing_id.upper()
    if sent != taken:
        raise Hl7Error(
            f"处理标识（MSH-11）为{sent}（{_PROCESSING.get(sent, '未知')}），"
            f"本适配器只处理{taken}（{_PROCESSING.get(taken, '')}）消息，未处理",
            Location("MSH", 1, 11),
            hl7_code=UNSUPPORTED_PROCESSING_ID,
            code="HL7_PROCESSING_ID",
        )
    if decoded.error is not None:
        raise decoded.error
    assert decoded.message is not None
    error = control_location(decoded.message)
    if error is not None:
        raise error
    return decoded.message


def control_in_header(header: RawHeader) -> Hl7Error:
    """The AR's error for the control character the header carried."""
    return control_error(Location("MSH", 1, header.control_field), header.control_char)


def visit_or_none(message: Hl7Message | None) -> str | None:
    """The visit number to log the message under, if it can be read."""
    if message is None:
        return None
    try:
        visit = visit_number(message)
    except Hl7Error:
        return None
    # Only what the log's column can hold: a control character or an overlong number is
    # refused when the message is processed (AR), and must not stop it being logged.
    return visit if len(visit) <= 64 and control_character(visit) is None else None
