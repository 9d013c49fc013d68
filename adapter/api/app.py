"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Engine

from adapter import __version__
from adapter.api import audit, health, problems
from adapter.api.control_chars import ControlCharacters
from adapter.api.limits import BodyLimit
from adapter.api.routes import ROUTERS
from adapter.settings import Settings

HealthProbe = Callable[[], dict[str, Any]]
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def create_app(
    settings: Settings,
    engine: Engine,
    health_probes: dict[str, HealthProbe] | None = None,
    lifespan: Lifespan | None = None,
) -> FastAPI:
    app = FastAPI(
        lifespan=lifespan,
        title="工伤保险跨省异地就医直接结算 — 协议机构适配器",
        version=__version__,
        description=(
            "Hospital-side adapter for work-injury insurance cross-province direct settlement. "
            "Errors are application/problem+json with an `errors` list of "
            "`{code, article, field, message}`; `message` is Chinese."
        ),
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.health_probes = dict(health_probes or {})
    app.add_middleware(ControlCharacters)  # inside BodyLimit, which bounds what it reads
    app.add_middleware(BodyLimit, max_bytes=settings.http.max_body_bytes)
    problems.install(app)
    problems.document(app)
    app.include_router(health.router)
    app.include_router(audit.router)
    for router in ROUTERS:
        app.include_router(router)
    return app
