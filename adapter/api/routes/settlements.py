"""``GET /api/v1/settlements/{id}`` and ``GET …/lines`` (any role), ``POST …/revoke``
(billing): the revocation (WI2305) is queued behind the upload it revokes. A revoke sent
again answers the revocation already made (``replayed``), as HL7's ``ADT^A13`` does: both go
through the same command. The slip (``…/slip``) is a later issue.

A settlement answer (this module's, and ``POST /api/v1/encounters/{id}/settle``) carries at
most ``[api] answer_lines`` of its priced lines, in line order, with ``lines_total`` and
``lines_next``: the URL of ``…/lines`` after the last line given, or null when ``lines`` is
complete. ``…/lines`` pages by position (keyset: ``after`` the last position read), so a page
of a 10,000-line stay costs its own lines."""

from __future__ import annotations

from typing import Annotated, ClassVar

from fastapi import APIRouter, Query, Response
from pydantic import Field

from adapter.api.deps import SettingsDep
from adapter.api.duplicate_keys import ParsedOnce
from adapter.api.routes.common import (
    MAX_OFFSET,
    MAX_PAGE,
    AnyRole,
    Billing,
    ServicesDep,
    Strict,
    UploadOut,
    answer,
    examples,
)
from adapter.api.routes.outcomes import settlement_of
from adapter.api.routes.views import SettlementLinesOut, SettlementOut
from adapter.domain.commands import CancelDischarge

router = APIRouter(prefix="/api/v1/settlements", tags=["settlements"], route_class=ParsedOnce)


@router.get(
    "/{settlement_id}",
    response_model=SettlementOut,
    summary="A settlement and its first lines (the rest: lines_next)",
)
def get_settlement(
    settlement_id: str, services: ServicesDep, _: AnyRole, settings: SettingsDep
) -> Response:
    settlement = services.settlements.get(settlement_id)
    upload = services.settlements.upload_of(settlement)
    out = SettlementOut.settled(
        settlement,
        services.context.zone,
        page=settings.api.answer_lines,
        upload=upload and UploadOut.of(upload),
    )
    return answer(out)


@router.get(
    "/{settlement_id}/lines",
    response_model=SettlementLinesOut,
    summary="A page of a settlement's priced lines, in line order (keyset: after a position)",
)
def settlement_lines(
    settlement_id: str,
    services: ServicesDep,
    _: AnyRole,
    settings: SettingsDep,
    after: Annotated[
        int | None,
        Query(
            ge=0,
            le=MAX_OFFSET,
            description=(
                "上一页最后一条明细的序号（从 0 起），不填从第一条开始 / the position of the "
                "last line already read (0-based); absent: from the first line"
            ),
        ),
    ] = None,
    limit: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_PAGE,
            description=(
                "本页最多条数（1–1000，默认 [api] answer_lines） / at most this many lines "
                "(1–1000; default [api] answer_lines)"
            ),
        ),
    ] = None,
) -> Response:
    size = limit or settings.api.answer_lines
    total, lines = services.settlements.lines(settlement_id, after=after, limit=size)
    return answer(SettlementLinesOut.page(settlement_id, total, lines, size))


class RevokeIn(Strict):
    reason: str = Field(min_length=1, max_length=500)

    free_text: ClassVar[frozenset[str]] = frozenset({"reason"})

    model_config = examples({"reason": "费用明细录入有误，撤销后重新结算"})


@router.post(
    "/{settlement_id}/revoke",
    response_model=SettlementOut,
    summary="Revoke a settlement; queue WI2305 after the original upload",
)
def revoke(
    settlement_id: str,
    body: RevokeIn,
    services: ServicesDep,
    principal: Billing,
    settings: SettingsDep,
) -> Response:
    outcome = services.commands.cancel_discharge(
        CancelDischarge("", body.reason, settlement_id=settlement_id), actor=principal.name
    )
    out = SettlementOut.settled(
        settlement_of(outcome),
        services.context.zone,
        page=settings.api.answer_lines,
        upload=outcome.upload and UploadOut.of(outcome.upload),
        replayed=outcome.replayed,
    )
    return answer(out)
