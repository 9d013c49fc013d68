"""What the monthly routes share: the :class:`MonthlyServices` dependency and role aliases.

The routes reach the use cases through ``request.app.state.monthly`` when the composition
root put one there; otherwise one is made once from ``request.app.state.services.context``
(the workflow services' context) and kept on ``app.state``.
"""

from __future__ import annotations

import threading
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from adapter.api.auth import require
from adapter.services.monthly import MonthlyServices
from adapter.store.tokens import Principal

_lock = threading.Lock()


def get_monthly(request: Request) -> MonthlyServices:
    state = request.app.state
    monthly = getattr(state, "monthly", None)
    if monthly is not None:
        return monthly
    services = getattr(state, "services", None)
    if services is None:
        raise HTTPException(503, "适配器业务服务未启动，请联系信息科")
    with _lock:
        monthly = getattr(state, "monthly", None) or MonthlyServices(services.context)
        state.monthly = monthly
    return monthly


MonthlyDep = Annotated[MonthlyServices, Depends(get_monthly)]
BillingOrIt = Annotated[Principal, Depends(require("billing", "it"))]
It = Annotated[Principal, Depends(require("it"))]
DeviceOrIt = Annotated[Principal, Depends(require("device", "billing", "it"))]
Device = Annotated[Principal, Depends(require("device"))]
