"""The monthly work's REST routes: reconciliation, audit deductions, device fund receipts,
catalogue sync and import, scheduled runs. Include :data:`router` in the app."""

from fastapi import APIRouter

from adapter.api.monthly import reconciliation

router = APIRouter()
router.include_router(reconciliation.router)

__all__ = ["router"]
