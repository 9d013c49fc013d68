"""Delivering one upload job: the write goes to upstream with its own ``msgid``, and a failure
is judged for the queue — upstream down or garbled: try again later; upstream said no: a dead
letter for IT (a refused write took no effect, and the same msgid would be refused again).
Only upstream's own refusal (infcode ≠ 0) is recorded as ``refused``: an HTTP 4xx may come
from a gateway in between, so what it did upstream is not known for certain."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from adapter.domain.errors import (
    UpstreamMalformed,
    UpstreamRefused,
    UpstreamRejected,
    UpstreamUnavailable,
)
from adapter.domain.upstream import UpstreamGateway, require_write
from adapter.services.payloads import DETAILS_OF, REVOKES

FeeDetails = Callable[[str, int], list[dict[str, Any]]]
"""A settlement id and a batch size → its upload's ``feedetail``
(:func:`adapter.services.uploads.fee_details`)."""

SentMsgid = Callable[[str], str]
"""An upload's job key → the msgid upstream holds that upload under (a re-send after a
refusal gives it a fresh one)."""


def deliver(
    gateway: UpstreamGateway,
    kind: str,
    payload: Mapping[str, Any],
    idempotency_key: str,
    ordering_key: str | None,
    details: FeeDetails | None = None,
    sent_msgid: SentMsgid | None = None,
) -> tuple[str, str]:
    """Submit the job's write (its kind is the infno); the msgid sent and upstream's refmsgid.
    A write that returns was accepted (infcode 0): a refusal raises ``UpstreamRejected``.
    A job naming a settlement (``details_of``) is sent with that settlement's fee details;
    a revocation naming its original upload (``revokes``) with that upload's msgid as it is
    now (``omsgid``). Both are read before the call, so nothing is held while it waits."""
    msgid = str(payload.get("msgid") or idempotency_key)
    input = payload.get("input", {})
    settlement_id = payload.get(DETAILS_OF)
    if settlement_id:
        if details is None:  # never sent without them: upstream would settle no lines
            raise RuntimeError(f"job {msgid} needs settlement {settlement_id}'s fee details")
        size = int(input["feedetail_batch_size"])  # as queued: batch_cnt was counted with it
        input = {**input, "feedetail": details(str(settlement_id), size)}
    revokes = payload.get(REVOKES)
    if revokes and sent_msgid is not None:
        input = {**input, "omsgid": sent_msgid(str(revokes))}
    ack = gateway.submit(
        require_write(kind),
        msgid,
        input,
        insuplc_admdvs=str(payload.get("insuplc_admdvs", "")),
        context=str(payload.get("context", ordering_key or "")),
    )
    return msgid, str(getattr(ack, "refmsgid", "") or "")


def failure_kind(exc: BaseException) -> Literal["refused", "permanent", "transient"] | None:
    """How the queue treats a failed delivery (None: not upstream's doing, the queue decides)."""
    if isinstance(exc, UpstreamRefused):
        return "refused"
    if isinstance(exc, UpstreamRejected):
        return "permanent"
    if isinstance(exc, UpstreamUnavailable | UpstreamMalformed):
        return "transient"
    return None
