"""上传队列监控 (being built)."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from adapter.web.pages.common import ItDesk
from adapter.web.render import page

router = APIRouter(prefix="/web/monitor", include_in_schema=False)


@router.get("", response_class=HTMLResponse)
def desk(request: Request, _: ItDesk) -> Response:
    return page(request, "error.html", title="上传队列监控", message="建设中")
