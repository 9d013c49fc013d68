"""Original-mode acknowledgements, built with hl7apy in the inbound message's version and charset.

* ``AA`` accepted. Warnings from the use case travel as ERR segments with severity ``W``.
* ``AE`` refused by a business rule: one ERR per reason; ERR-3 = our reason code
  (``code^^99WIA``), ERR-7 = the article it enforces, ERR-8 = the Chinese message.
* ``AR`` malformed or unsupported: ERR-2 = the location (segment^sequence^field^…^component),
  ERR-3 = the HL7 table 0357 code, ERR-5 = our finer code, ERR-7 = the field's name,
  ERR-8 = the Chinese message.

MSA-2 echoes MSH-10; MSA-3 repeats the first message for senders that only show MSA-3.
Versions 2.3–2.4 have no ERR-2…ERR-8: there each error is one repetition of ERR-1
(``segment^sequence^field^code&text&system``) and the text is in MSA-3.
The ACK is encoded with the inbound MSH-18 charset (UTF-8 when that label was not understood).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from hl7apy.core import Message

from connectors.hl7.errors import HL7_CODE_TEXT, Location
from connectors.hl7.header import DEFAULT_CHARSET_LABEL, RawHeader
from connectors.hl7.reader import escape

LOCAL_CODES = "99WIA"  # our reason codes, as a local HL7 coding system
HL7_CODES = "HL70357"
DEFAULT_VERSION = "2.5"


@dataclass(frozen=True)
class AckError:
    code: str  # ERR-3.1: our reason code (AE) or an HL7 0357 code (AR)
    message: str  # ERR-8, Chinese, readable to people
    coding_system: str = LOCAL_CODES
    severity: str = "E"  # E error, W warning
    location: Location | None = None
    application_code: str = ""  # ERR-5.1
    diagnostic: str = ""  # ERR-7: the article enforced, or the field's name


@dataclass(frozen=True)
class AckIdentity:
    """MSH-3/MSH-4 of our acknowledgements."""

    application: str = "WIADAPTER"
    facility: str = ""


def build_ack(
    header: RawHeader | None,
    code: str,
    errors: Sequence[AckError],
    *,
    identity: AckIdentity,
    now: datetime,
) -> bytes:
    """The ACK bytes (no MLLP framing) for ``header`` (``None``: the MSH was unreadable)."""
    version = header.version if header and header.version_supported else DEFAULT_VERSION
    codec = header.codec if header else None
    label = header.charset_label if header and codec else DEFAULT_CHARSET_LABEL
    codec = codec or "utf-8"
    message = Message("ACK", version=version)
    msh = message.msh
    msh.msh_3 = escape(identity.application)
    if identity.facility:
        msh.msh_4 = escape(identity.facility)
    if header:
        if header.sending_application:
            msh.msh_5 = escape(header.sending_application)
        if header.sending_facility:
            msh.msh_6 = escape(header.sending_facility)
    msh.msh_7 = now.strftime("%Y%m%d%H%M%S") + (now.strftime("%z") if now.tzinfo else "")
    event = escape(header.trigger_event) if header and header.trigger_event else ""
    kind = "ACK^" + event if event else "ACK"
    msh.msh_9 = kind + ("^ACK" if event and version != "2.3" else "")
    msh.msh_10 = uuid.uuid4().hex[:20]
    msh.msh_11 = escape(header.processing_id) if header and header.processing_id else "P"
    msh.msh_12 = version
    if label:
        msh.msh_18 = escape(label)
    message.msa.msa_1 = code
    if header and header.control_id:
        message.msa.msa_2 = escape(header.control_id)
    if errors:
        message.msa.msa_3 = escape(errors[0].message)
    if version in ("2.5", "2.5.1"):
        for error in errors:
            _err_v25(message, error)
    elif errors:
        err = message.add_segment("ERR")
        for error in errors:  # ERR-1 repeats, one repetition per error
            err.add_field("ERR_1").value = _eld(error)
    text = message.to_er7()
    return text.encode(codec, errors="replace")


def _err_v25(message: Message, error: AckError) -> None:
    err = message.add_segment("ERR")
    if error.location is not None:
        err.err_2 = _location(error.location)
    err.err_3 = "^".join(
        (escape(error.code), escape(_code_text(error)), escape(error.coding_system))
    )
    err.err_4 = error.severity
    if error.application_code:
        err.err_5 = escape(error.application_code)
    if error.diagnostic:
        err.err_7 = escape(error.diagnostic)
    err.err_8 = escape(error.message)


def _location(location: Location) -> str:
    parts = [escape(location.segment), str(location.sequence)]
    if location.field:
        parts.append(str(location.field))
        if location.component:
            parts += ["1", str(location.component)]
    return "^".join(parts)


def _eld(error: AckError) -> str:
    """v2.3/2.4 ERR-1 (ELD): segment^sequence^field^code&text&system."""
    location = error.location
    code = "&".join(
        (
            escape(error.code),
            escape(error.message if error.coding_system == LOCAL_CODES else _code_text(error)),
            escape(error.coding_system),
        )
    )
    if location is None:
        return f"^^^{code}"
    field = str(location.field) if location.field else ""
    return f"{escape(location.segment)}^{location.sequence}^{field}^{code}"


def _code_text(error: AckError) -> str:
    if error.coding_system == HL7_CODES:
        return HL7_CODE_TEXT.get(error.code, "")
    return ""
