"""The monthly work's REST routes: reconciliation, audit deductions, device fund receipts,
catalogue sync and import, scheduled runs. Include :data:`router` in the app::

    from adapter.api.monthly import router as monthly_router
    app.include_router(monthly_router)
"""

from fastapi import APIRouter

from adapter.api.monthly import catalogue, deductions, device_funds, reconciliation, schedule

router = APIRouter()
for _module in (reconciliation, deductions, device_funds, catalogue, schedule):
    router.include_router(_module.router)

__all__ = ["router"]
