"""A fast, read-only view of a decoded HL7 v2 message: segments, fields, repetitions.

hl7apy stays the message *model* (see :mod:`connectors.hl7.fieldmap` and
:mod:`connectors.hl7.ack`), but its ``parse_message`` builds and validates a full object tree
(about 3 ms a segment), far too slow for a DFT^P03 carrying a day's fees. The adapter reads
only a handful of fields, so this module splits the text once, lazily, with the message's
own encoding characters, and unescapes on access. Positions are HL7's (1-based); the field
names and their existence per version come from hl7apy's structure definitions.

Tolerances (what real HIS systems send): ``\\r``, ``\\n`` or ``\\r\\n`` between segments, blank
lines, trailing separators, missing trailing fields, and HL7's null ``""``: read as no value
(an amount, a name, a department sent as ``""`` is not the two quote marks); where a null
means something else — "delete the value" in an ADT^A08 — :meth:`Segment.is_null` tells
it from a field left out (:mod:`connectors.hl7.mapping`). Strictness: every segment id must be
three characters ``[A-Z][A-Z0-9]{2}`` (a truncated or garbled segment is an error), the
message must start with MSH, and the segments that say who and which stay — MSH, EVN, PID,
PV1, ZWI — come once: a second one (two messages batched into one frame, two workers' PIDs)
is refused at it, so nothing after the first is silently dropped or merged.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from connectors.hl7.errors import SEGMENT_SEQUENCE_ERROR, Hl7Error, Location

_SEGMENT_SPLIT = re.compile(r"\r\n|\r|\n")
NULL = '""'  # HL7's explicit null
_SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{2}\Z")
# at most one of each in every message structure we take (ADT_A01 … ADT_A13, DFT_P03)
_ONCE = ("MSH", "EVN", "PID", "PV1", "ZWI")


@dataclass(frozen=True)
class Separators:
    field: str = "|"
    component: str = "^"
    repetition: str = "~"
    escape: str = "\\"
    subcomponent: str = "&"
    codec: str = "utf-8"  # the message's charset (MSH-18): what ``\\Xhh..\\`` bytes mean


class Segment:
    """One segment. ``field(n)`` is HL7's field n (MSH-n counts MSH-1 as the separator)."""

    __slots__ = ("_fields", "_seps", "name", "sequence")

    def __init__(self, name: str, fields: list[str], seps: Separators, sequence: int) -> None:
        self.name = name
        self._fields = fields  # _fields[n] is field n (index 0 = the segment id)
        self._seps = seps
        self.sequence = sequence

    @property
    def size(self) -> int:
        """One more than the number of the last field sent."""
        return len(self._fields)

    def location(self, field: int = 0, component: int = 0) -> Location:
        return _location(self.name, self.sequence, field, component)

    def raw(self, number: int) -> str:
        """Field ``number`` exactly as sent (escapes and separators kept); '' if absent."""
        return self._fields[number] if number < len(self._fields) else ""

    def is_null(self, number: int) -> bool:
        """Was field ``number`` sent as HL7's null ``""`` (not left out)?"""
        return self.raw(number).strip() == NULL

    def repetitions(self, number: int) -> list[str]:
        """The field's repetitions, still escaped; no repetition if the field is empty or
        null."""
        value = self.raw(number)
        if not value:
            return []
        return [part for part in value.split(self._seps.repetition) if part and part != NULL]

    def components(self, value: str) -> list[str]:
        """Split one (raw) repetition into its components, unescaped."""
        return [self.unescape(part) for part in value.split(self._seps.component)]

    def get(
        self, number: int, component: int = 1, repetition: int = 1, subcomponent: int = 1
    ) -> str:
        """Field ``number``, component ``component`` (its ``subcomponent``) of repetition
        ``repetition``, unescaped and stripped; '' when absent. Component 0 returns the whole
        repetition unescaped."""
        # The hot path of a DFT's 200 FT1s: split only where a separator is present.
        fields = self._fields
        value = fields[number] if number < len(fields) else ""
        if not value:
            return ""
        seps = self._seps
        if seps.repetition in value:
            reps = self.repetitions(number)
            if repetition > len(reps):
                return ""
            value = reps[repetition - 1]
        elif repetition > 1:
            return ""
        if component == 0:
            return "" if value == NULL else self.unescape(value).strip()
        if seps.component in value:
            parts = value.split(seps.component)
            if component > len(parts):
                return ""
            value = parts[component - 1]
        elif component > 1:
            return ""
        if seps.subcomponent in value:
            subs = value.split(seps.subcomponent)
            if subcomponent > len(subs):
                return ""
            value = subs[subcomponent - 1]
        elif subcomponent > 1:
            return ""
        return "" if value == NULL else self.unescape(value).strip()

    def components_of(self, number: int, count: int) -> list[str]:
        """``[get(number, 1), …, get(number, count)]``, splitting the field once (an FT1-7
        item is code, name and coding system)."""
        fields = self._fields
        value = fields[number] if number < len(fields) else ""
        if not value:
            return [""] * count
        seps = self._seps
        if seps.repetition in value:
            reps = self.repetitions(number)
            if not reps:
                return [""] * count
            value = reps[0]
        parts = value.split(seps.component)
        found = [self._first_sub(part).strip() for part in parts[:count]]
        return found + [""] * (count - len(found))

    def _first_sub(self, value: str) -> str:
        sub = self._seps.subcomponent
        if sub in value:
            value = value.split(sub, 1)[0]
        return "" if value == NULL else self.unescape(value)

    @property
    def separators(self) -> Separators:
        return self._seps

    def unescape(self, value: str) -> str:
        if self._seps.escape not in value:
            return value
        return _unescape(value, self._seps)


class Hl7Message:
    """A decoded message split into segments (MSH first)."""

    def __init__(self, text: str, codec: str = "utf-8") -> None:
        self.text = text  # as decoded: searched once for control characters
        lines = [line for line in _SEGMENT_SPLIT.split(text) if line.strip()]
        if not lines or not lines[0].startswith("MSH") or len(lines[0]) < 8:
            raise Hl7Error(
                "报文缺少MSH段", Location("MSH"), hl7_code=SEGMENT_SEQUENCE_ERROR, code="HL7_NO_MSH"
            )
        head = lines[0]
        fs = head[3]
        encoding = head[4:].split(fs, 1)[0]
        defaults = Separators()
        seps = Separators(
            field=fs,
            component=encoding[0] if len(encoding) > 0 else defaults.component,
            repetition=encoding[1] if len(encoding) > 1 else defaults.repetition,
            escape=encoding[2] if len(encoding) > 2 else defaults.escape,
            subcomponent=encoding[3] if len(encoding) > 3 else defaults.subcomponent,
            codec=codec,
        )
        self.separators = seps
        self.segments: list[Segment] = []
        counts: dict[str, int] = {}
        for line in lines:
            fields = line.split(fs)
            name = fields[0].strip()
            if not _SEGMENT_ID.match(name):
                shown = name[:10] or line[:10]
                raise Hl7Error(
                    f"段名称无效或段被截断：{shown!r}",
                    Location(shown[:3] or "?", counts.get(name, 0) + 1),
                    hl7_code=SEGMENT_SEQUENCE_ERROR,
                    code="HL7_BAD_SEGMENT",
                )
            if name == "MSH":
                # MSH-1 is the field separator itself; MSH-2 is fields[1].
                fields = ["MSH", fs, *fields[1:]]
            counts[name] = counts.get(name, 0) + 1
            if counts[name] > 1 and name in _ONCE:
                raise _repeated(name, counts[name])
            self.segments.append(Segment(name, fields, seps, counts[name]))

    @property
    def msh(self) -> Segment:
        return self.segments[0]

    def all(self, name: str) -> list[Segment]:
        return [segment for segment in self.segments if segment.name == name]

    def first(self, name: str) -> Segment | None:
        return next(self.iter(name), None)

    def iter(self, name: str) -> Iterator[Segment]:
        return (segment for segment in self.segments if segment.name == name)

    def require(self, name: str) -> Segment:
        segment = self.first(name)
        if segment is None:
            raise Hl7Error(
                f"报文缺少{name}段",
                Location(name),
                hl7_code=SEGMENT_SEQUENCE_ERROR,
                code="HL7_SEGMENT_MISSING",
            )
        return segment


def _repeated(name: str, sequence: int) -> Hl7Error:
    if name == "MSH":
        message = "一个MLLP帧中含有多条消息（第2个MSH段），请每条消息单独成帧发送"
    else:
        message = f"报文含有多个{name}段（第{sequence}个），每条消息只能有一个{name}段"
    return Hl7Error(
        message,
        Location(name, sequence),
        hl7_code=SEGMENT_SEQUENCE_ERROR,
        code="HL7_SEGMENT_REPEATED",
    )


@lru_cache(maxsize=4096)
def _location(segment: str, sequence: int, field: int, component: int) -> Location:
    """Locations are immutable and asked for on every field read (for errors): share them."""
    return Location(segment, sequence, field, component)


def _unescape(value: str, seps: Separators) -> str:
    esc = seps.escape
    out: list[str] = []
    position = 0
    while True:
        start = value.find(esc, position)
        if start < 0:
            out.append(value[position:])
            break
        end = value.find(esc, start + 1)
        if end < 0:  # a lone escape character: keep it literally
            out.append(value[position:])
            break
        out.append(value[position:start])
        code = value[start + 1 : end]
        known = _ESCAPES.get(code)
        out.append(known(seps) if known else _hex_or_drop(code, seps.codec))
        position = end + 1
    return "".join(out)


def _hex_or_drop(code: str, codec: str) -> str:
    """``\\Xhh..\\`` is characters as bytes in the message's charset (王 in a GB 18030
    message is ``\\XCDF5\\``, not its UTF-8 bytes); formatting codes (``.br``) are dropped."""
    if code[:1] == "X" and len(code) > 1 and len(code) % 2 == 1:
        try:
            return bytes.fromhex(code[1:]).decode(codec, errors="replace")
        except ValueError:
            return ""
    return ""


_ESCAPES = {
    "F": lambda s: s.field,
    "S": lambda s: s.component,
    "T": lambda s: s.subcomponent,
    "R": lambda s: s.repetition,
    "E": lambda s: s.escape,
}


def escape(value: str, seps: Separators | None = None) -> str:
    """Escape a text value for ER7 (used when building messages and ACKs)."""
    seps = seps or Separators()
    out = value.replace(seps.escape, f"{seps.escape}E{seps.escape}")
    for char, code in (
        (seps.field, "F"),
        (seps.component, "S"),
        (seps.subcomponent, "T"),
        (seps.repetition, "R"),
    ):
        out = out.replace(char, f"{seps.escape}{code}{seps.escape}")
    return out.replace("\r", " ").replace("\n", " ")
