"""``GET /healthz``: liveness and readiness, open to load balancers and Docker's HEALTHCHECK."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from adapter.store.db import ping

router = APIRouter()

HEALTH_PATH = "/healthz"


@router.get(HEALTH_PATH, tags=["health"], summary="Liveness and readiness")
def healthz(request: Request) -> JSONResponse:
    state = request.app.state
    checks: dict[str, Any] = {}
    healthy = True
    try:
        ping(state.engine)
        checks["database"] = {"ok": True, "backend": state.engine.dialect.name}
    except SQLAlchemyError as exc:
        healthy = False
        checks["database"] = {"ok": False, "error": type(exc).__name__}
    for name, probe in getattr(state, "health_probes", {}).items():
        result = probe()
        checks[name] = result
        healthy = healthy and bool(result.get("ok", True))
    body = {
        "status": "ok" if healthy else "degraded",
        "institution": state.settings.institution.code,
        "checks": checks,
    }
    return JSONResponse(body, status_code=200 if healthy else 503)
