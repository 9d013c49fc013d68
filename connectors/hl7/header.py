"""Reading the MSH header straight from the raw bytes, before anything is decoded.

The character set of an HL7 v2 message is named *inside* it (MSH-18), so the header has to be
read from bytes first. The separators and the charset label are ASCII, but MSH-3 to MSH-6 often
are not (东软HIS, 北京市东城区医院), and in GBK and GB 18030 a character's second byte may be an
ASCII byte: 東 is ``96 7C``, 區 ``85 5E``, 淺 ``9C 5C`` — a ``|``, ``^`` or ``\\`` that is no
separator. Read byte by byte, such a name splits its field and shifts every field after it
(MSH-18 among them). So the segment is split only once decoded: first as GB 18030, kept when
its MSH-18 then names GB 18030 (or GBK, GB 2312); otherwise as single bytes (UTF-8, ASCII and
ISO 8859-1 never use an ASCII byte inside a character), decoded with the charset MSH-18 names.

:func:`read_header` never raises on a readable MSH: a header that cannot be read at all
(no ``MSH`` at the start, no field separator) raises :class:`HeaderUnreadable`, and the
caller answers AR without a control id (or closes, for an oversize frame).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from adapter.domain.charsets import codec_for, label_key

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
        return codec_for(self.charset_label)

    @property
    def version_supported(self) -> bool:
        return self.version in SUPPORTED_VERSIONS


def same_message(first: bytes, second: bytes) -> bool:
    """Is ``second`` ``first`` sent again? An interface engine's resend may restamp MSH-7 and
    end its segments otherwise; any other difference makes it another message."""
    return _content(first) == _content(second)


def _content(raw: bytes) -> list[str]:
    # surrogateescape keeps bytes the charset does not know apart (two frames do not compare
    # equal because each had a different invalid byte)
    text = raw.decode(_codec_of(raw), errors="surrogateescape")
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    if lines and lines[0].startswith("MSH") and len(lines[0]) > 3:
        fields = lines[0].split(lines[0][3])
        if len(fields) > 6:
            fields[6] = ""  # MSH-7 (fields[1] is MSH-2)
        lines[0] = lines[0][3].join(fields)
    return lines


def read_header(raw: bytes) -> RawHeader:
    """Read MSH from the start of ``raw`` (leading whitespace tolerated)."""
    data = raw.lstrip(b" \t\r\n")
    if not data.startswith(b"MSH") or len(data) < 8:
        raise HeaderUnreadable("message does not start with an MSH segment")
    segment = _first_segment(data)
    line = segment.decode("latin-1")  # one character a byte: MSH-1 and MSH-2 are ASCII
    if len(line) < 5:
        raise HeaderUnreadable("MSH segment is truncated")
    field_sep = line[3]
    if field_sep.isalnum() or field_sep.isspace() or _CONTROL.match(field_sep):
        raise HeaderUnreadable("MSH-1 field separator is missing")
    # fields[0] = "MSH", fields[1] = MSH-2 (encoding characters); MSH-n is fields[n-1].
    encoding = _encoding(line, field_sep)
    if _CONTROL.search(encoding[:4]):
        raise HeaderUnreadable("MSH-2 encoding characters are control characters")
    fields = _msh_fields(segment, field_sep, encoding)[0]
    # one search of the whole segment first: a control character is rare, and looking for it
    # field by field cost a regular expression a field (twice a message: the metrics read it)
    controlled = _CONTROL.search(field_sep.join(fields)) is not None
    found = next(
        ((index + 1, m.group()) for index, text in enumerate(fields) if index
         for m in [_CONTROL.search(text)] if m),
        (0, ""),
    ) if controlled else (0, "")  # fmt: skip
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
        return (_CONTROL.sub("", part) if controlled else part).strip()

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


def _codec_of(raw: bytes) -> str:
    """The codec MSH-18 names, read as :func:`read_header` reads it (``latin-1``: none)."""
    data = raw.lstrip(b" \t\r\n")
    if not data.startswith(b"MSH") or len(data) < 5:
        return "latin-1"
    segment = _first_segment(data)
    field_sep = chr(segment[3])
    return _msh_fields(segment, field_sep, _encoding(segment.decode("latin-1"), field_sep))[1]


def _first_segment(data: bytes) -> bytes:
    match = _SEGMENT_END.search(data)  # \r and \n are inside no character of any charset
    return data[: match.start()] if match else data


def _encoding(line: str, field_sep: str) -> str:
    """MSH-2, the encoding characters (ASCII: the latin-1 reading is exact)."""
    return line[4:].split(field_sep, 1)[0]


def _msh_fields(segment: bytes, field_sep: str, encoding: str) -> tuple[list[str], str]:
    """MSH's fields, decoded in the charset its MSH-18 names, and that codec (``latin-1``
    when the label is not one we accept: the message is refused, its header still read)."""
    if segment.isascii():  # the usual header: every charset we accept reads it alike
        fields = segment.decode("ascii").split(field_sep)
        codec = codec_for(_label(fields, encoding))
        return fields, "latin-1" if codec is None or codec == "latin-1" else codec
    try:
        fields = segment.decode("gb18030").split(field_sep)
    except UnicodeDecodeError:
        pass
    else:
        if codec_for(_label(fields, encoding)) == "gb18030":
            return fields, "gb18030"
    fields = segment.decode("latin-1").split(field_sep)
    codec = codec_for(_label(fields, encoding))
    if codec is None or codec == "latin-1":
        return fields, "latin-1"
    return segment.decode(codec, errors="replace").split(field_sep), codec


def _label(fields: list[str], encoding: str) -> str:
    """MSH-18's first repetition's first component, as :attr:`RawHeader.codec` looks it up."""
    value = fields[17] if len(fields) > 17 else ""
    repetition_sep = encoding[1] if len(encoding) > 1 else "~"
    component_sep = encoding[0] if encoding else "^"
    value = value.split(repetition_sep)[0].split(component_sep)[0]
    return label_key(_CONTROL.sub("", value))
