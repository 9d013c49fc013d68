"""HL7 messages counted by type and ACK code, and one log line per answered message.

:func:`observe` reads MSH-9 and MSH-10 of the message and MSA-1 of the ACK the adapter sends
back; ``hl7_messages_total{type="ADT^A01",ack_code="AA"}`` counts them, and the
``hl7.message`` log line carries the control id so IT can find the message in the log list,
and the reason codes of its ERR segments (``EL_INJURY_PARTS_NAMED``, ``HL7_NOT_AN_ADMISSION``,
an HL7 table 0357 code) so a log file alone says why a message was refused.
"""

from __future__ import annotations

import logging
import re

from prometheus_client import REGISTRY, Counter, Histogram

from connectors.hl7.header import HeaderUnreadable, read_header

logger = logging.getLogger("connectors.hl7")

MESSAGES = Counter(
    "hl7_messages",
    "HL7 messages answered, by message type (MSH-9) and ACK code (MSA-1)",
    ["type", "ack_code"],
    registry=REGISTRY,
)
SECONDS = Histogram(
    "hl7_message_duration_seconds",
    "Time from a framed message to its ACK, by message type",
    ["type"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)
_MSA = re.compile(rb"(?:^|\r|\n)MSA(.)([A-Z]{2})")
_SEGMENTS = re.compile(rb"[\r\n]+")


def error_codes(ack: bytes) -> list[str]:
    """The reason codes of the ACK's ERR segments, in order, each once: ERR-5 (our finer
    code of an AR) else ERR-3 (our code of an AE, a warning's, or the 0357 code) in 2.5; the
    code of each ERR-1 repetition in 2.3/2.4. All codes are ASCII, whatever MSH-18 says."""
    if len(ack) < 8 or not ack.startswith(b"MSH"):
        return []
    field, component, repetition, subcomponent = ack[3:4], ack[4:5], ack[5:6], ack[7:8]
    codes: list[str] = []
    for segment in _SEGMENTS.split(ack):
        if not segment.startswith(b"ERR" + field):
            continue
        fields = segment.split(field)
        if len(fields) > 3:  # 2.5: ERR-3 (and ERR-5)
            finer = fields[5].split(component)[0] if len(fields) > 5 else b""
            found = [finer or fields[3].split(component)[0]]
        else:  # 2.3/2.4: ERR-1 repeats segment^sequence^field^code&text&system
            found = [
                parts[3].split(subcomponent)[0]
                for parts in (r.split(component) for r in fields[1].split(repetition))
                if len(parts) > 3
            ]
        for code in found:
            text = code.decode("ascii", "replace")
            if text and text not in codes:
                codes.append(text)
    return codes


def observe(message: bytes, ack: bytes | None, seconds: float, peer: str) -> None:
    try:
        header = read_header(message)
        kind = f"{header.message_code}^{header.trigger_event}".strip("^") or "unknown"
        control_id = header.control_id
    except HeaderUnreadable:
        kind, control_id = "unreadable", ""
    found = _MSA.search(ack or b"")
    code = found.group(2).decode("ascii") if found else "none"
    MESSAGES.labels(type=kind, ack_code=code).inc()
    SECONDS.labels(type=kind).observe(seconds)
    if not logger.isEnabledFor(logging.INFO):  # the ERR codes are read for the line only
        return
    logger.info(
        "hl7.message",
        extra={
            "type": kind,
            "control_id": control_id,
            "ack_code": code,
            "error_codes": ",".join(error_codes(ack or b"")),
            "peer": peer,
            "duration_ms": round(seconds * 1000, 1),
        },
    )
