"""Reading the MSH header straight from the raw bytes, before anything is decoded.

The character set of an HL7 v2 message is named *inside* it (MSH-18), so the header has to be
read from bytes first. MSH-1..MSH-18 are ASCII in practice (application and facility codes,
type, control id, version, charset label); we read the first segment with latin-1, which
maps every byte to one character, so positions stay exact whatever the body's encoding.

:func:`read_header` never raises on a readable MSH: a header that cannot be read at all
(no ``MSH`` at the start, no field separator) raises :class:`HeaderUnreadable`, and the
caller answers AR without a control id (or closes, for an oversize frame).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_CHARSET_LABEL = "UNICODE UTF-8"

# HL7 table 0211 labels we accept, and the Python codec for each. An empty MSH-18 means
# the default (UTF-8 here, which is also plain ASCII's superset).
CHARSETS: dict[str, str] = {
    "": "utf-8",
    "UNICODE UTF-8": "utf-8",
    "GB 18030-2000": "gb18030",
    "ASCII": "ascii",
    "8859/1": "latin-1",
}

SUPPORTED_VERSIONS = ("2.3", "2.3.1", "2.4", "2.5", "2.5.1")

_SEGMENT_END = re.compile(rb"\r|\n")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # C0 and DEL (adapter.domain.text): none in MSH


class HeaderUnreadable(ValueError):
    """The bytes do not start with a usable MSH segment."""


@dataclass(frozen=True)
class RawHeader:
    """The MSH fields the adapter needs before (and regardless of) decoding the message."""

    field_sep: str
    component_sep: str
    sending_application: str  # MSH-3.1
    sending_facility: str  # MSH-4.1
    receiving_application: str  # MSH-5.1
    receiving_facility: str  # MSH-6.1
    message_code: str  # MSH-9.1 (ADT, DFT)
    trigger_event: str  # MSH-9.2 (A01, P03)
    control_id: str  # MSH-10
    processing_id: str  # MSH-11.1
    version: str  # MSH-12.1
    charset_label: str  # MSH-18, first repetition, as sent
    # The first MSH field (its number) that carried a control character, 0 if none. Such a
    # field is read without its control characters (MSH-10: not at all), so the message can
    # still be logged and answered AR naming the field (:mod:`adapter.domain.text`).
    control_field: int = 0
    control_char: str = ""

    @property
    def sender(self) -> str:
        """The sender as the duplicate check knows it: ``MSH-3^MSH-4``."""
        return f"{self.sending_application}^{self.sending_facility}"

    @property
    def message_type(self) -> str:
        return (
            f"{self.message_code}^{self.trigger_event}"
            if self.trigger_event
            else (self.message_code)
        )

    @property
    def codec(self) -> str | None:
        """The Python codec for MSH-18, or ``None`` if the label is not one we accept."""
        return CHARSETS.get(self.charset_label.strip().upper())

    @property
    def version_supported(self) -> bool:
        return self.version in SUPPORTED_VERSIONS


def read_header(raw: bytes) -> RawHeader:
    """Read MSH from the start of ``raw`` (leading whitespace tolerated)."""
    data = raw.lstrip(b" \t\r\n")
    if not data.startswith(b"MSH") or len(data) < 8:
        raise HeaderUnreadable("message does not start with an MSH segment")
    match = _SEGMENT_END.search(data)
    line = (data[: match.start()] if match else data).decode("latin-1")
    if len(line) < 5:
        raise HeaderUnreadable("MSH segment is truncated")
    field_sep = line[3]
    if field_sep.isalnum() or field_sep.isspace() or _CONTROL.match(field_sep):
        raise HeaderUnreadable("MSH-1 field separator is missing")
    fields = line.split(field_sep)
    # fields[0] = "MSH", fields[1] = MSH-2 (encoding characters); MSH-n is fields[n-1].
    encoding = fields[1] if len(fields) > 1 else ""
    if _CONTROL.search(encoding[:4]):
        raise HeaderUnreadable("MSH-2 encoding characters are control characters")
    found = next(
        ((index + 1, m.group()) for index, text in enumerate(fields) if index
         for m in [_CONTROL.search(text)] if m),
        (0, ""),
    )  # fmt: skip
    control_field, control_char = found
    component_sep = encoding[0] if encoding else "^"
    repetition_sep = encoding[1] if len(encoding) > 1 else "~"

    def get_raw(number: int) -> str:
        return fields[number - 1] if number - 1 < len(fields) else ""

    def get(number: int, component: int = 1) -> str:
        index = number - 1
        if index >= len(fields):
            return ""
        value = fields[index].split(repetition_sep)[0]
        parts = value.split(component_sep)
        part = parts[component - 1] if component <= len(parts) else ""
        return _CONTROL.sub("", part).strip()

    return RawHeader(
        field_sep=field_sep,
        component_sep=component_sep,
        sending_application=get(3),
        sending_facility=get(4),
        receiving_application=get(5),
        receiving_facility=get(6),
        message_code=get(9, 1).upper(),
        trigger_event=get(9, 2).upper(),
        control_id="" if control_field == 10 or _CONTROL.search(get_raw(10)) else get(10),
        processing_id=get(11) or "P",
        version=get(12),
        charset_label=get(18),
        control_field=control_field,
        control_char=control_char,
    )


def same_message(first: bytes, again: bytes) -> bool:
    """Whether ``again`` is a resend of ``first``: the same segments, byte for byte, but for
    MSH-7 (the time, which some interface engines stamp anew on each send) and how the
    segments are ended (``\\r``, ``\\n`` or both)."""
    return _content(first) == _content(again)


def _content(raw: bytes) -> list[bytes]:
    segments = [s for s in _SEGMENT_END.split(raw.strip(b" \t\r\n")) if s.strip()]
    if segments and segments[0].startswith(b"MSH") and len(segments[0]) > 3:
        fields = segments[0].split(segments[0][3:4])
        if len(fields) > 6:
            fields[6] = b""  # MSH-7 (fields[0] is "MSH", fields[1] MSH-2)
        segments[0] = segments[0][3:4].join(fields)
    return segments
