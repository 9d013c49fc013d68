"""The REST routes of the workflows (interfaces.md §1), one router per resource."""

from fastapi import APIRouter

from adapter.api.routes import devices, encounters, identity, manual_claims, settlements

ROUTERS: tuple[APIRouter, ...] = (
    identity.router,
    encounters.router,
    settlements.router,
    devices.router,
    manual_claims.router,
)

__all__ = ["ROUTERS"]
