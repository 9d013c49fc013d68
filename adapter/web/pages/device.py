"""辅助器具配置 (being built)."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from adapter.web.pages.common import DeviceDesk
from adapter.web.render import page

router = APIRouter(prefix="/web/device", include_in_schema=False)


@router.get("", response_class=HTMLResponse)
def desk(request: Request, _: DeviceDesk) -> Response:
    return page(request, "error.html", title="辅助器具配置", message="建设中")
