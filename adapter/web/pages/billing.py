"""结算收费 (being built)."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from adapter.web.pages.common import BillingDesk
from adapter.web.render import page

router = APIRouter(prefix="/web/billing", include_in_schema=False)


@router.get("", response_class=HTMLResponse)
def desk(request: Request, _: BillingDesk) -> Response:
    return page(request, "error.html", title="结算收费", message="建设中")
