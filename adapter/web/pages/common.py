"""What the desk pages share: the services, the clock, role aliases."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request

from adapter.services.container import Services
from adapter.web.auth import PageForbidden, desk
from adapter.web.config import web_config
from adapter.web.sessions import WebSession


def services(request: Request) -> Services:
    found = getattr(request.app.state, "services", None)
    if found is None:
        raise PageForbidden("适配器业务服务未启动，请联系信息科")
    return found


def now(request: Request) -> datetime:
    """The services' clock, in the institution's zone (what a clerk's form defaults to)."""
    return services(request).context.now().astimezone(web_config(request).zone)


ServicesDep = Annotated[Services, Depends(services)]
AdmissionDesk = Annotated[WebSession, Depends(desk("admission"))]
BillingDesk = Annotated[WebSession, Depends(desk("billing"))]
DeviceDesk = Annotated[WebSession, Depends(desk("device"))]
ItDesk = Annotated[WebSession, Depends(desk("it"))]
