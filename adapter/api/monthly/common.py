"""What the monthly routes share: the :class:`MonthlyServices` dependency
(:func:`adapter.api.deps.get_monthly`) and role aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from adapter.api.auth import require
from adapter.api.deps import MonthlyDep
from adapter.store.tokens import Principal

__all__ = ["BillingOrIt", "Device", "DeviceOrIt", "It", "MonthlyDep"]
BillingOrIt = Annotated[Principal, Depends(require("billing", "it"))]
It = Annotated[Principal, Depends(require("it"))]
DeviceOrIt = Annotated[Principal, Depends(require("device", "billing", "it"))]
Device = Annotated[Principal, Depends(require("device"))]
