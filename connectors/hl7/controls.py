"""Control characters in an HL7 message: refused (AR) naming the field where they are.

The rule is the domain's (:mod:`adapter.domain.text`): no C0 character and no DEL in any
field — neither sent raw nor as a hexadecimal escape (``\\X00\\``) — except TAB, LF and CR in
free text (a diagnosis's text, a cancellation reason). Segment separators are not in any
field, so a CR or LF can only arrive inside a field escaped.

Most messages carry none: the whole text is searched once, and only a message with a
suspect character (or a hexadecimal escape) is walked field by field to name the place.
The MSH segment is checked from the raw bytes before anything else
(:mod:`connectors.hl7.header`).
"""

from __future__ import annotations

import re

from adapter.domain.text import control_character, describe
from connectors.hl7.errors import DATA_TYPE_ERROR, Hl7Error, Location
from connectors.hl7.reader import Hl7Message

_SUSPECT = re.compile(r"[\x00-\x09\x0b\x0c\x0e-\x1f\x7f]")

# (segment, field, component) of free text; component 0: every component of the field.
FREE_TEXT = frozenset(
    {
        ("DG1", 3, 2),  # diagnosis name
        ("DG1", 4, 0),  # diagnosis description
        ("EVN", 4, 0),  # event reason (A11/A13 cancellation reason)
    }
)


def control_location(message: Hl7Message) -> Hl7Error | None:
    """The error naming the first field with a control character it may not carry."""
    seps = message.separators
    hex_escape = f"{seps.escape}X"
    if not _SUSPECT.search(message.text) and hex_escape not in message.text:
        return None
    for segment in message.segments:
        first = 3 if segment.name == "MSH" else 1  # MSH-1/MSH-2: the separators
        for number in range(first, segment.size):
            raw = segment.raw(number)
            if not raw or (not _SUSPECT.search(raw) and hex_escape not in raw):
                continue
            whole = (segment.name, number, 0) in FREE_TEXT
            for repetition in raw.split(seps.repetition):
                components = repetition.split(seps.component)
                for index, component in enumerate(components, 1):
                    free = whole or (segment.name, number, index) in FREE_TEXT
                    for part in component.split(seps.subcomponent):
                        char = control_character(segment.unescape(part), free_text=free)
                        if char is not None:
                            where = segment.location(number, index if len(components) > 1 else 0)
                            return control_error(where, char)
    return None


def control_error(location: Location, char: str) -> Hl7Error:
    return Hl7Error(
        f"{location}含有控制字符{describe(char)}，不能保存，请删除后重发",
        location,
        hl7_code=DATA_TYPE_ERROR,
        code="HL7_CONTROL_CHARACTER",
    )
