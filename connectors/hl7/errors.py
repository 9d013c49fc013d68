"""Malformed or unsupported HL7: an :class:`InvalidMessage` that knows where it went wrong.

An :class:`Hl7Error` becomes an ``AR`` ACK whose ERR-2 names the location (segment id,
segment sequence, field, component) and whose ERR-3 carries the HL7 table 0357 code; our
finer ``code`` travels in ERR-5 and the Chinese explanation in ERR-8.
"""

from __future__ import annotations

from dataclasses import dataclass

from adapter.domain.errors import InvalidMessage

# HL7 table 0357 (message error condition codes) used in AR acknowledgements.
SEGMENT_SEQUENCE_ERROR = "100"
REQUIRED_FIELD_MISSING = "101"
DATA_TYPE_ERROR = "102"
TABLE_VALUE_NOT_FOUND = "103"
UNSUPPORTED_MESSAGE_TYPE = "200"
UNSUPPORTED_EVENT_CODE = "201"
UNSUPPORTED_PROCESSING_ID = "202"
UNSUPPORTED_VERSION_ID = "203"
DUPLICATE_KEY_IDENTIFIER = "205"
APPLICATION_INTERNAL_ERROR = "207"

HL7_CODE_TEXT = {
    SEGMENT_SEQUENCE_ERROR: "Segment sequence error",
    REQUIRED_FIELD_MISSING: "Required field missing",
    DATA_TYPE_ERROR: "Data type error",
    TABLE_VALUE_NOT_FOUND: "Table value not found",
    UNSUPPORTED_MESSAGE_TYPE: "Unsupported message type",
    UNSUPPORTED_EVENT_CODE: "Unsupported event code",
    UNSUPPORTED_PROCESSING_ID: "Unsupported processing id",
    UNSUPPORTED_VERSION_ID: "Unsupported version id",
    DUPLICATE_KEY_IDENTIFIER: "Duplicate key identifier",
    APPLICATION_INTERNAL_ERROR: "Application internal error",
}


@dataclass(frozen=True)
class Location:
    """Where in the message: ``PV1`` segment #1, field 19, component 1 (1-based; 0 = whole)."""

    segment: str
    sequence: int = 1
    field: int = 0
    component: int = 0

    def __str__(self) -> str:
        text = self.segment
        if self.field:
            text += f"-{self.field}"
            if self.component:
                text += f".{self.component}"
        if self.sequence > 1:
            text += f" (#{self.sequence})"
        return text


class Hl7Error(InvalidMessage):
    """The message cannot be understood, or is not one we support: answer AR."""

    def __init__(
        self,
        message: str,
        location: Location | None = None,
        *,
        hl7_code: str = DATA_TYPE_ERROR,
        code: str = "HL7_INVALID",
        article: str = "",
    ) -> None:
        super().__init__(message, field=str(location) if location else "", code=code)
        self.location = location
        self.hl7_code = hl7_code
        if article:  # a message the regulations put out of scope, not a malformed one
            self.article = article
