"""Catalogue maintenance (role it; the unmapped report also billing):

* ``POST /api/v1/catalogue/import?kind=&region=&version=`` — the body is the CSV file
  (``Content-Type: text/csv``); every problem is listed by row and column, nothing is
  loaded unless the whole file is good;
* ``POST /api/v1/catalogue/sync`` — download updates now (``WI1401``);
* ``GET /api/v1/catalogue/updates`` — the latest downloads and imports;
* ``GET /api/v1/catalogue/unmapped?on=`` — HIS item codes with no catalogue item in force.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from adapter.api.duplicate_keys import ParsedOnce
from adapter.api.monthly.common import BillingOrIt, It, MonthlyDep
from adapter.api.problems import error_item, problem
from adapter.api.routes.common import Out
from adapter.services.catalogue_import import MAX_BYTES, CatalogueFileRefused
from adapter.services.catalogue_sync import CatalogueUpdate, UnmappedCode

router = APIRouter(prefix="/api/v1/catalogue", tags=["catalogue"], route_class=ParsedOnce)


class UpdateOut(Out):
    kind: str
    region: str
    version: str
    source: str
    items: int
    actor: str
    at: datetime

    @classmethod
    def of(cls, u: CatalogueUpdate) -> UpdateOut:
        return cls(
            kind=u.kind,
            region=u.region,
            version=u.version,
            source=u.source,
            items=u.items,
            actor=u.actor,
            at=u.at,
        )


class UnmappedOut(Out):
    item_code: str
    his_item_code: str
    item_name: str
    category: str
    status: str  # no_longer_in_force | never_mapped
    lines: int
    encounters: int
    last_used: datetime
    last_version: str
    last_valid_to: date | None


_CSV_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {
                "schema": {"type": "string"},
                "example": "code,name,unit,price_cap,limit,valid_from,valid_to\n"
                "110900001A,普通病房床位费（三人间）,日,60.00,,2026-07-01,\n",
            }
        },
    }
}


@router.post(
    "/import",
    response_model=UpdateOut,
    status_code=201,
    summary="Load a catalogue CSV of one kind, region and version",
    openapi_extra=_CSV_BODY,
)
async def import_csv(
    request: Request,
    monthly: MonthlyDep,
    principal: It,
    kind: str = Query(..., examples=["service_standard"]),
    region: str = Query(..., examples=["110100"]),
    version: str = Query(..., examples=["2026.2"]),
) -> Any:
    data = await request.body()
    if len(data) > MAX_BYTES:
        return problem(413, "文件过大", [error_item("FILE_TOO_LARGE", "文件超过 20MB，请分批导入")])
    try:
        update = await run_in_threadpool(
            monthly.catalogue_import.import_csv,
            data,
            kind=kind,
            region=region,
            version=version,
            actor=principal.name,
        )
    except CatalogueFileRefused as exc:
        items = [error_item(exc.code, p.text, p.field) for p in exc.problems]
        return problem(422, "目录文件有误，未导入", items)
    return JSONResponse(UpdateOut.of(update).model_dump(mode="json"), status_code=201)


@router.post("/sync", response_model=list[UpdateOut], summary="Download catalogue updates now")
def sync(monthly: MonthlyDep, principal: It) -> list[UpdateOut]:
    return [UpdateOut.of(u) for u in monthly.catalogue.download(actor=principal.name)]


@router.get("/updates", response_model=list[UpdateOut], summary="Downloads and imports")
def updates(monthly: MonthlyDep, _: It, limit: int = Query(100, ge=1, le=1000)) -> list[UpdateOut]:
    return [UpdateOut.of(u) for u in monthly.catalogue.updates(limit=limit)]


@router.get(
    "/unmapped",
    response_model=list[UnmappedOut],
    summary="HIS item codes with no catalogue item in force",
)
def unmapped(
    monthly: MonthlyDep,
    _: BillingOrIt,
    on: Annotated[date | None, Query(description="default today")] = None,
    since_days: int = Query(180, ge=1, le=3660),
) -> list[UnmappedOut]:
    return [_unmapped(u) for u in monthly.catalogue.unmapped(on, since_days=since_days)]


def _unmapped(u: UnmappedCode) -> UnmappedOut:
    return UnmappedOut(**u.__dict__)
