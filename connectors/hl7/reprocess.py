"""An operator re-processes a stored message after a fix (``wi-adapter hl7 reprocess``, REST).

A new attempt on the same row, its history kept (:mod:`connectors.hl7.message_log`). Refused
for a logged repeat (re-process the first message instead) and for a message that cannot be
processed at all (no MSH segment, or stored truncated because it was over the size limit).
A final outcome takes the sender's MSH-10 back, so a later resend gets this ACK.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from adapter.domain.errors import DomainError, NotFound
from connectors.hl7 import message_log as log_
from connectors.hl7.decode import Decoded, decode
from connectors.hl7.header import HeaderUnreadable, RawHeader, read_header


class ReprocessRefused(DomainError):
    code = "HL7_REPROCESS_REFUSED"


def reprocess(
    log: log_.MessageLog,
    message_id: int,
    *,
    actor: str,
    clock: Callable[[], datetime],
    process: Callable[[RawHeader, Decoded], log_.Result],
) -> log_.LoggedMessage:
    """Process stored message ``message_id`` again with ``process``; the row as it is after."""
    stored = log.get(message_id)
    if stored is None:
        raise NotFound(f"HL7报文{message_id}不存在")
    if stored.duplicate_of is not None:
        raise ReprocessRefused(
            f"HL7报文{message_id}是报文{stored.duplicate_of}的重复，请重新处理原报文"
        )
    started_at = clock()
    try:
        header = read_header(stored.raw)
    except HeaderUnreadable:
        header = None
    if header is None or stored.size != len(stored.raw):
        raise ReprocessRefused(f"HL7报文{message_id}缺少MSH段或超长，无法重新处理")
    result = process(header, decode(stored.raw, header))
    final = result.outcome in log_.FINAL_OUTCOMES
    log.record(message_id, result, started_at=started_at, actor=actor, keep_key=final)
    key = log_.Receipt(
        raw=b"",
        peer="",
        received_at=started_at,
        sender_application=header.sending_application,
        sender_facility=header.sending_facility,
        control_id=header.control_id or None,
    ).dedupe_key
    if final and key:
        log.claim_key(message_id, key)
    refreshed = log.get(message_id)
    assert refreshed is not None
    return refreshed
