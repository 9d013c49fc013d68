"""HL7 messages counted by type and ACK code, and one log line per answered message.

:func:`observe` reads MSH-9 and MSH-10 of the message and MSA-1 of the ACK the adapter sends
back; ``hl7_messages_total{type="ADT^A01",ack_code="AA"}`` counts them, and the
``hl7.message`` log line carries the control id so IT can find the message in the log list.
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
    logger.info(
        "hl7.message",
        extra={
            "type": kind,
            "control_id": control_id,
            "ack_code": code,
            "peer": peer,
            "duration_ms": round(seconds * 1000, 1),
        },
    )
