"""Original-mode acknowledgements, built with hl7apy in the inbound message's version and charset.

* ``AA`` accepted. Warnings from the use case travel as ERR segments with severity ``W``.
* ``AE`` refused by a business rule: one ERR per reason; ERR-2 = where the refused value
  travelled when the reason names a field the message carries (``FT1^3^12`` for the unit
  price of the third FT1, :mod:`connectors.hl7.locations`), else empty; ERR-3 = our reason
  code (``code^^99WIA``), ERR-7 = the article it enforces, ERR-8 = the Chinese message.
* ``AR`` malformed or unsupported: ERR-2 = the location (segment^sequence^field^…^component),
  ERR-3 = the HL7 table 0357 code, ERR-5 = our finer code, ERR-7 = the field's name,
  ERR-8 = the Chinese message.

MSA-2 echoes MSH-10; MSA-3 repeats the first message for senders that only show MSA-3.
Versions 2.3–2.4 have no ERR-2…ERR-8: there each error is one repetition of ERR-1
(``segment^sequence^field^code&text&system``) and the text is in MSA-3.
The ACK is encoded with the inbound MSH-18 charset (UTF-8 when that label was not understood).

**Speed.** Building an ACK with hl7apy costs about 10 ms (every field set is parsed and
validated against its structure), more than the rest of an ADT^A08's processing. Only three
fields differ between the ACKs a sender gets for the same kind of message: MSH-7 (our time),
MSH-10 (our control id) and MSA-2 (theirs). So hl7apy builds each distinct ACK *shape* once
(version, charset, sender, event, code, errors — everything else) with stand-ins for those
three, and each ACK is that ER7 with the three fields put in place; the result is the same
text hl7apy builds with those values (``tests/unit/hl7/test_ack.py`` proves it per version).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from hl7apy.core import Message

from adapter.domain.charsets import DEFAULT_CHARSET_LABEL
from connectors.hl7.errors import HL7_CODE_TEXT, Location
from connectors.hl7.header import RawHeader
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
    ack_control_id: str | None = None,
) -> bytes:
    """The ACK bytes (no MLLP framing) for ``header`` (``None``: the MSH was unreadable).

    ``ack_control_id`` is our MSH-10 (a fresh unique id when not given).
    """
    shape = _shape(header, code, errors, identity)
    template = _template(shape)
    text = template.render(
        _timestamp(now),
        ack_control_id or uuid.uuid4().hex[:20],
        escape(header.control_id) if header and header.control_id else "",
    )
    return text.encode(shape.codec, errors="replace")


def build_ack_with_hl7apy(
    header: RawHeader | None,
    code: str,
    errors: Sequence[AckError],
    *,
    identity: AckIdentity,
    now: datetime,
    ack_control_id: str,
) -> bytes:
    """The same ACK built field by field with hl7apy, uncached (the reference the tests use)."""
    shape = _shape(header, code, errors, identity)
    control_id = escape(header.control_id) if header and header.control_id else ""
    text = _hl7apy_er7(shape, _timestamp(now), ack_control_id, control_id)
    return text.encode(shape.codec, errors="replace")


@dataclass(frozen=True)
class _Shape:
    """Everything an ACK's text depends on but MSH-7, MSH-10 and MSA-2."""

    version: str
    codec: str
    label: str
    identity: AckIdentity
    sending_application: str
    sending_facility: str
    trigger_event: str
    processing_id: str
    code: str
    errors: tuple[AckError, ...]
    echoes_control_id: bool  # MSA-2 is set


def _shape(
    header: RawHeader | None, code: str, errors: Sequence[AckError], identity: AckIdentity
) -> _Shape:
    version = header.version if header and header.version_supported else DEFAULT_VERSION
    codec = header.codec if header else None
    label = header.charset_label if header and codec else DEFAULT_CHARSET_LABEL
    return _Shape(
        version=version,
        codec=codec or "utf-8",
        label=label,
        identity=identity,
        sending_application=header.sending_application if header else "",
        sending_facility=header.sending_facility if header else "",
        trigger_event=header.trigger_event if header else "",
        processing_id=header.processing_id if header else "",
        code=code,
        errors=tuple(errors),
        echoes_control_id=bool(header and header.control_id),
    )


def _timestamp(now: datetime) -> str:
    return now.strftime("%Y%m%d%H%M%S") + (now.strftime("%z") if now.tzinfo else "")


# Stand-ins while hl7apy builds a shape: plain values, so no field is split or escaped.
_STAND_IN_TIME = "19700101000000"
_STAND_IN_ID = "0"


@dataclass(frozen=True)
class _Template:
    """An ACK's ER7 split into segments and fields, with the three per-message slots."""

    segments: tuple[tuple[str, ...], ...]
    msh: int  # index of MSH among segments
    msa: int  # index of MSA among segments
    field_sep: str
    echoes_control_id: bool

    def render(self, timestamp: str, ack_control_id: str, control_id: str) -> str:
        lines = [self.field_sep.join(fields) for fields in self.segments]
        msh = list(self.segments[self.msh])
        msh[6], msh[9] = timestamp, ack_control_id  # MSH-7, MSH-10 (MSH-1 is the separator)
        lines[self.msh] = self.field_sep.join(msh)
        if self.echoes_control_id:
            msa = list(self.segments[self.msa])
            msa[2] = control_id  # MSA-2
            lines[self.msa] = self.field_sep.join(msa)
        return "\r".join(lines)


@lru_cache(maxsize=512)
def _template(shape: _Shape) -> _Template:
    control_id = _STAND_IN_ID if shape.echoes_control_id else ""
    text = _hl7apy_er7(shape, _STAND_IN_TIME, _STAND_IN_ID, control_id)
    field_sep = text[3]
    segments = tuple(tuple(line.split(field_sep)) for line in text.split("\r"))
    names = [fields[0] for fields in segments]
    template = _Template(segments, names.index("MSH"), names.index("MSA"), field_sep,
                         shape.echoes_control_id)  # fmt: skip
    msh, msa = segments[template.msh], segments[template.msa]
    if (
        msh[6] != _STAND_IN_TIME
        or msh[9] != _STAND_IN_ID
        or (shape.echoes_control_id and msa[2] != _STAND_IN_ID)
    ):
        raise AssertionError(f"unexpected ACK layout from hl7apy: {text!r}")
    return template


def _hl7apy_er7(shape: _Shape, timestamp: str, ack_control_id: str, control_id: str) -> str:
    """The ACK's ER7, built with hl7apy's message model."""
    version = shape.version
    errors = shape.errors
    message = Message("ACK", version=version)
    msh = message.msh
    msh.msh_3 = escape(shape.identity.application)
    if shape.identity.facility:
        msh.msh_4 = escape(shape.identity.facility)
    if shape.sending_application:
        msh.msh_5 = escape(shape.sending_application)
    if shape.sending_facility:
        msh.msh_6 = escape(shape.sending_facility)
    msh.msh_7 = timestamp
    event = escape(shape.trigger_event) if shape.trigger_event else ""
    kind = "ACK^" + event if event else "ACK"
    msh.msh_9 = kind + ("^ACK" if event and version != "2.3" else "")
    msh.msh_10 = ack_control_id
    msh.msh_11 = escape(shape.processing_id) if shape.processing_id else "P"
    msh.msh_12 = version
    if shape.label:
        msh.msh_18 = escape(shape.label)
    message.msa.msa_1 = shape.code
    if control_id:
        message.msa.msa_2 = control_id
    if errors:
        message.msa.msa_3 = escape(errors[0].message)
    if version in ("2.5", "2.5.1"):
        for error in errors:
            _err_v25(message, error)
    elif errors:
        err = message.add_segment("ERR")
        for error in errors:  # ERR-1 repeats, one repetition per error
            err.add_field("ERR_1").value = _eld(error)
    return str(message.to_er7())


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
