"""HL7 primitive values: TS/DTM times and NM numbers, parsed strictly.

A time or an amount that cannot be read exactly would change the meaning of the message, so
both raise :class:`Hl7Error` (→ AR naming the field) instead of guessing.

TS/DTM: ``YYYY[MM[DD[HH[MM[SS[.S{1,4}]]]]]][+/-ZZZZ]``; at least a date is required. A time
with an offset is taken as sent; without one it is in the site's time zone.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from connectors.hl7.errors import DATA_TYPE_ERROR, Hl7Error, Location

_TS = re.compile(
    r"(?P<y>\d{4})(?P<mo>\d{2})(?P<d>\d{2})"
    r"(?:(?P<h>\d{2})(?:(?P<mi>\d{2})(?:(?P<s>\d{2})(?:\.(?P<f>\d{1,4}))?)?)?)?"
    r"(?P<tz>[+-]\d{4})?\Z"
)
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)\Z")
_TOO_LARGE = Decimal("1e12")


def parse_ts(text: str, zone: tzinfo, location: Location) -> datetime:
    """An aware datetime from an HL7 timestamp (raises :class:`Hl7Error`)."""
    value = text.strip()
    # What HIS systems send on every FT1, ``YYYYMMDDHHMMSS±ZZZZ``, read without the pattern
    # (a DFT carries hundreds); anything else, and any error, goes the general way below.
    if len(value) == 19 and value[14] in "+-" and value[:14].isdecimal():
        tz = _offset(value[14:])
        if tz is not None:
            try:
                return datetime(
                    int(value[0:4]),
                    int(value[4:6]),
                    int(value[6:8]),
                    int(value[8:10]),
                    int(value[10:12]),
                    int(value[12:14]),
                    tzinfo=tz,
                )
            except ValueError:
                pass  # reported below, as for any other form
    match = _TS.match(value)
    if not match:
        raise Hl7Error(f"{location} 时间格式无效：{text!r}", location, code="HL7_BAD_TIME")
    parts = match.groupdict()
    fraction = (parts["f"] or "").ljust(6, "0")
    tz_: tzinfo = zone
    if parts["tz"]:
        found = _offset(parts["tz"])
        if found is None:
            raise Hl7Error(f"{location} 时区偏移无效：{text!r}", location, code="HL7_BAD_TIME")
        tz_ = found
    try:
        return datetime(
            int(parts["y"]),
            int(parts["mo"]),
            int(parts["d"]),
            int(parts["h"] or 0),
            int(parts["mi"] or 0),
            int(parts["s"] or 0),
            int(fraction),
            tzinfo=tz_,
        )
    except ValueError as exc:
        raise Hl7Error(f"{location} 时间无效：{text!r}", location, code="HL7_BAD_TIME") from exc


@lru_cache(maxsize=64)
def _offset(text: str) -> timezone | None:
    """The zone of a ``±HHMM`` offset, or ``None`` when it is not one (hours > 14, minutes
    > 59, not digits). A site's messages carry one or two: built once each."""
    if len(text) != 5 or text[0] not in "+-" or not text[1:].isdecimal():
        return None
    hours, minutes = int(text[1:3]), int(text[3:5])
    if hours > 14 or minutes > 59:
        return None
    sign = 1 if text[0] == "+" else -1
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def parse_decimal(text: str, location: Location) -> Decimal:
    """A finite decimal from an HL7 NM value (raises :class:`Hl7Error`)."""
    number = _number(text)
    if isinstance(number, str):
        raise Hl7Error(
            f"{location} {number}：{text!r}",
            location,
            hl7_code=DATA_TYPE_ERROR,
            code="HL7_BAD_NUMBER",
        )
    return number


@lru_cache(maxsize=4096)
def _number(text: str) -> Decimal | str:
    """The decimal ``text`` reads as, or why it is refused. A batch's quantities and prices
    repeat (a few dozen distinct values over hundreds of FT1s): each is read once."""
    value = text.strip()
    if not _NUMBER.match(value):
        return "数值无效"
    try:
        number = Decimal(value)
    except InvalidOperation:  # pragma: no cover - the pattern already excludes these
        return "数值无效"
    if abs(number) >= _TOO_LARGE:
        return "数值超出范围"
    return number
