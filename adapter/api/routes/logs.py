"""IT's REST surface on the logs: the upstream call log (and a logged read re-sent) and the
inbound HL7 message log (and a stored message processed again).

Both go through the operator use cases (:class:`adapter.services.operations.Operations`),
which audit every re-send and reprocessing.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query
from pydantic import BaseModel, Field

from adapter.api.deps import OperationsDep
from adapter.api.duplicate_keys import ParsedOnce
from adapter.api.routes.common import It, Out, RowId
from adapter.api.zone import QueryTime
from adapter.domain.charsets import codec_for
from adapter.domain.masking import mask_hl7

router = APIRouter(route_class=ParsedOnce)


class CallOut(Out):
    """One upstream call as logged: the bodies as sent and received, personal data masked
    when it was logged."""

    id: int
    infno: str = Field(examples=["WI2301"])
    msgid: str
    context: str = Field(description="what made the call: the encounter, or a job such as health")
    started_at: datetime
    duration_ms: int
    outcome: str = Field(examples=["ok"])
    http_status: int | None
    infcode: int | None = Field(description="upstream's answer code (0: success, -1: refused)")
    err_msg: str
    request_body: dict[str, Any]
    reply_body: Any
    is_write: bool
    attempt: int
    resent_from: int | None = Field(description="the logged call this one re-sent")

    @classmethod
    def of(cls, call: Any) -> CallOut:
        return cls(**asdict(call))


class CallsOut(Out):
    calls: list[CallOut]


@router.get("/api/v1/upstream/calls", tags=["upstream"], summary="The upstream call log")
def upstream_calls(
    _: It,
    ops: OperationsDep,
    encounter: str | None = None,
    msgid: str | None = None,
    infno: str | None = None,
    since: QueryTime | None = None,
    until: QueryTime | None = None,
    outcome: str | None = None,
    limit: int = Query(200, ge=1, le=1000),
) -> CallsOut:
    calls = ops.calls.search(
        context=encounter,
        msgid=msgid,
        infno=infno,
        since=since,
        until=until,
        outcome=outcome,
        limit=limit,
    )
    return CallsOut(calls=[CallOut.of(call) for call in calls])


# the call log's id is a 32-bit integer on PostgreSQL (connectors.upstream.call_log): a larger
# id is a 422 naming it, not a 500 from the driver's range error
CallId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class ResendRequest(BaseModel):
    overrides: dict[str, Any] | None = Field(
        None, description="values for fields the log keeps masked (e.g. certno)"
    )


class ResendOut(Out):
    output: Any = Field(description="upstream's output for the read re-sent")


@router.post(
    "/api/v1/upstream/calls/{call_id}/resend",
    tags=["upstream"],
    summary="Re-send a logged read (writes are re-sent from the upload queue)",
)
def resend_call(
    call_id: CallId,
    principal: It,
    ops: OperationsDep,
    body: Annotated[ResendRequest | None, Body()] = None,
) -> ResendOut:
    overrides = body.overrides if body else None
    return ResendOut(output=ops.resend_call(call_id, actor=principal.name, overrides=overrides))


class Hl7MessageOut(Out):
    """An inbound HL7 message and the ACK it got, as text in its own charset, with personal
    data masked (citizen IDs, names, phones, card numbers)."""

    id: int
    received_at: datetime
    peer: str = Field(description="the sender's address and port")
    sender_application: str = Field(description="MSH-3")
    sender_facility: str = Field(description="MSH-4")
    control_id: str | None = Field(description="MSH-10")
    message_type: str = Field(examples=["ADT^A01"])
    version: str
    charset: str = Field(description="MSH-18")
    visit_number: str | None = Field(description="PV1-19")
    size: int = Field(description="bytes received")
    raw: str = Field(description="the message, personal data masked")
    duplicate_of: int | None = Field(description="the message this one repeats (MSH-10)")
    ack_code: str | None = Field(examples=["AA"])
    outcome: str | None
    detail: str | None
    ack: str = Field(description="the ACK sent, personal data masked")
    processed_at: datetime | None
    attempts: int

    @classmethod
    def of(cls, message: Any) -> Hl7MessageOut:
        body = asdict(message)
        body["raw"] = _text(message.raw, message.charset)
        body["ack"] = _text(message.ack, message.charset)
        return cls(**body)


class Hl7MessagesOut(Out):
    messages: list[Hl7MessageOut]


@router.get("/api/v1/hl7/messages", tags=["hl7"], summary="The inbound HL7 message log")
def hl7_messages(
    _: It,
    ops: OperationsDep,
    control_id: str | None = None,
    visit: str | None = Query(None, description="PV1-19 visit number"),
    type: str | None = Query(None, examples=["ADT^A01", "DFT"]),
    outcome: str | None = None,
    since: QueryTime | None = None,
    until: QueryTime | None = None,
    limit: int = Query(100, ge=1, le=1000),
) -> Hl7MessagesOut:
    messages = ops.hl7_log().search(
        control_id=control_id,
        visit_number=visit,
        message_type=type,
        outcome=outcome,
        since=since,
        until=until,
        limit=limit,
    )
    return Hl7MessagesOut(messages=[Hl7MessageOut.of(m) for m in messages])


@router.post(
    "/api/v1/hl7/messages/{message_id}/reprocess",
    tags=["hl7"],
    summary="Process a stored message again (after a fix); its history is kept",
)
def hl7_reprocess(message_id: RowId, principal: It, ops: OperationsDep) -> Hl7MessageOut:
    return Hl7MessageOut.of(ops.reprocess_hl7(message_id, actor=principal.name))


def _text(data: bytes | None, charset: str) -> str:
    """The message as text in its own charset, with personal data masked (IT reads this
    list): citizen IDs, names, phones, card numbers (:func:`adapter.domain.masking.mask_hl7`)."""
    if not data:
        return ""
    codec = codec_for(charset or "") or "utf-8"
    return mask_hl7(data.decode(codec, "replace"))
