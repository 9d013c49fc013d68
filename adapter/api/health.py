"""Health, open to orchestrators and load balancers: liveness, readiness and the details.

* ``GET /livez`` — the process answers. Nothing else: an orchestrator restarts a process that
  fails it, and restarting cures nothing about a database, upstream or a late upload.
* ``GET /readyz`` — this instance can do its work: the database answers and takes a write
  (rolled back), its schema is at this version's newest migration, and every readiness probe
  passes (the HL7 listener is up, the database's disk has room). 503 otherwise: a load
  balancer sends clerks elsewhere, nobody restarts anything.
* ``GET /healthz`` — everything IT may want to see: the readiness checks plus the business
  state (upload backlog, deadlines at risk or missed, upstream reachable, device funds).
  ``status`` is ``degraded`` when any check is not ok; the answer is 503 only when the
  instance is not ready — a missed deadline or an upstream outage is for people and alerts
  (``/metrics``), not a reason to take the instance out of service.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from adapter.api.deps import EngineDep, HealthProbesDep, ReadyProbesDep, SettingsDep
from adapter.store import migrate

router = APIRouter()

HEALTH_PATH = "/healthz"
LIVE_PATH = "/livez"
READY_PATH = "/readyz"
OPEN_PATHS = (HEALTH_PATH, LIVE_PATH, READY_PATH)

Probe = Callable[[], dict[str, Any]]
# SQLite: the write probe waits this long for the write lock (the store's writers wait 30 s)
PROBE_WAIT_MS = 3000
SQLITE_BUSY_MS = 30000


@functools.cache
def _head() -> str | None:
    return migrate.head()


def database_check(engine: Engine) -> dict[str, Any]:
    """The database answers, takes a write (rolled back at once) and is at the newest schema."""
    check: dict[str, Any] = {"ok": True, "backend": engine.dialect.name}
    sqlite = engine.dialect.name == "sqlite"
    try:
        with engine.connect() as connection:
            raw = connection.connection.dbapi_connection
            if sqlite and raw is not None:  # a probe answers in seconds: wait this long
                raw.execute(f"PRAGMA busy_timeout={PROBE_WAIT_MS}")
            transaction = connection.begin()
            try:
                connection.execute(text("UPDATE alembic_version SET version_num = version_num"))
            finally:
                transaction.rollback()
                if sqlite and raw is not None:
                    raw.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
            revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError as exc:
        return {**check, "ok": False, "error": type(exc).__name__}
    expected = _head()
    if revision != expected:
        check.update(ok=False, schema=revision, expected_schema=expected)
        check["error"] = "migrations not current: run `wi-adapter migrate`"
    return check


def _ready(engine: Engine, probes: dict[str, Probe]) -> tuple[bool, dict[str, Any]]:
    checks: dict[str, Any] = {"database": database_check(engine)}
    for name, probe in probes.items():
        checks[name] = _run(probe)
    return all(bool(c.get("ok", True)) for c in checks.values()), checks


def _run(probe: Probe) -> dict[str, Any]:
    try:
        return probe()
    except Exception as exc:  # a failing probe is reported as not ok, never raised
        return {"ok": False, "error": type(exc).__name__}


@router.get(LIVE_PATH, tags=["health"], summary="Liveness: the process answers")
def livez() -> JSONResponse:
    return JSONResponse({"status": "ok"})


@router.get(READY_PATH, tags=["health"], summary="Readiness: database writable and current, HL7 up")
def readyz(engine: EngineDep, probes: ReadyProbesDep) -> JSONResponse:
    ready, checks = _ready(engine, probes)
    body = {"status": "ready" if ready else "not_ready", "checks": checks}
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get(HEALTH_PATH, tags=["health"], summary="Readiness and business state, for IT")
def healthz(
    engine: EngineDep,
    settings: SettingsDep,
    ready_probes: ReadyProbesDep,
    health_probes: HealthProbesDep,
) -> JSONResponse:
    ready, checks = _ready(engine, ready_probes)
    for name, probe in health_probes.items():
        if name not in checks:
            checks[name] = _run(probe)
    healthy = all(bool(c.get("ok", True)) for c in checks.values())
    body = {
        "status": "ok" if healthy else "degraded",
        "ready": ready,
        "institution": settings.institution.code,
        "checks": checks,
    }
    return JSONResponse(body, status_code=200 if ready else 503)
