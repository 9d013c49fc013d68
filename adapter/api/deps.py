"""The faces' typed dependencies: every REST route and page takes what it needs from here.

The app keeps what the composition root built on ``app.state`` (:func:`install` and
:func:`adapter.api.app.create_app` put it there); this module is the only reader. A route
names its needs in its signature — ``services: ServicesDep``, ``ops: OperationsDep`` — and
gets the typed object, or a 503 in Chinese when this instance was built without that part
(an app over the services alone, as the API tests make, has no upload queue to show).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Protocol

from fastapi import Depends, FastAPI, HTTPException, Request
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from adapter.services.container import Services
from adapter.services.monthly import MonthlyServices
from adapter.services.operations import Operations
from adapter.settings import Settings

Probe = Callable[[], dict[str, Any]]
NOT_STARTED = "适配器业务服务未启动，请联系信息科"
_lock = threading.Lock()


class Attempt(Protocol):
    @property
    def job(self) -> str: ...
    @property
    def slot(self) -> datetime: ...
    @property
    def result(self) -> str: ...
    @property
    def outcome(self) -> str: ...


class Scheduler(Protocol):
    """The monthly scheduler of this process
    (:class:`adapter.scheduling.scheduler.MonthlyScheduler`)."""

    @property
    def running(self) -> bool: ...
    def describe(self) -> list[dict[str, Any]]: ...
    def run_now(self, name: str) -> Attempt: ...


def install(
    app: FastAPI,
    *,
    services: Services,
    monthly: MonthlyServices,
    operations: Operations,
    registry: CollectorRegistry,
    scheduler: Scheduler | None = None,
) -> None:
    """Give the app the running parts the routes and pages depend on."""
    state = app.state
    state.services, state.monthly, state.operations = services, monthly, operations
    state.registry, state.scheduler = registry, scheduler


def _state(request: Request, name: str) -> Any:
    return getattr(request.app.state, name, None)


def get_settings(request: Request) -> Settings:
    found: Settings = request.app.state.settings  # create_app sets it
    return found


def optional_settings(request: Request) -> Settings | None:
    """The settings when the app has them (pages mounted on a bare app in tests do not)."""
    found: Settings | None = _state(request, "settings")
    return found


def get_engine(request: Request) -> Engine:
    found: Engine = request.app.state.engine  # create_app sets it
    return found


def optional_services(request: Request) -> Services | None:
    found: Services | None = _state(request, "services")
    return found


def get_services(request: Request) -> Services:
    found = optional_services(request)
    if found is None:
        raise HTTPException(503, NOT_STARTED)
    return found


def get_monthly(request: Request) -> MonthlyServices:
    """The monthly use cases; an app given only the services makes them once from their
    context (with the default monthly policy)."""
    found: MonthlyServices | None = _state(request, "monthly")
    if found is not None:
        return found
    context = get_services(request).context
    with _lock:
        found = _state(request, "monthly") or MonthlyServices(context)
        request.app.state.monthly = found
    return found


def get_scheduler(request: Request) -> Scheduler | None:
    """The scheduler running in this process, if it runs one."""
    found: Scheduler | None = _state(request, "scheduler")
    return found


def optional_operations(request: Request) -> Operations | None:
    found: Operations | None = _state(request, "operations")
    return found


def get_operations(request: Request) -> Operations:
    found = optional_operations(request)
    if found is None:
        raise HTTPException(503, "本实例未启用上传队列等运维组件，请联系信息科")
    return found


def get_registry(request: Request) -> CollectorRegistry | None:
    """The runtime's own metrics registry (the upload queue's gauges, disk space)."""
    found: CollectorRegistry | None = _state(request, "registry")
    return found


def get_health_probes(request: Request) -> dict[str, Probe]:
    return dict(_state(request, "health_probes") or {})


def get_ready_probes(request: Request) -> dict[str, Probe]:
    return dict(_state(request, "ready_probes") or {})


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
ServicesDep = Annotated[Services, Depends(get_services)]
MonthlyDep = Annotated[MonthlyServices, Depends(get_monthly)]
SchedulerDep = Annotated[Scheduler | None, Depends(get_scheduler)]
OperationsDep = Annotated[Operations, Depends(get_operations)]
RegistryDep = Annotated[CollectorRegistry | None, Depends(get_registry)]
HealthProbesDep = Annotated[dict[str, Probe], Depends(get_health_probes)]
ReadyProbesDep = Annotated[dict[str, Probe], Depends(get_ready_probes)]
