"""The FastAPI application factory."""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import Engine

from adapter import __version__
from adapter.api import audit, examples, health, problems
from adapter.api.control_chars import ControlCharacters
from adapter.api.duplicate_keys import DuplicateKeys
from adapter.api.limits import BodyLimit
from adapter.api.observe import RequestObserver
from adapter.api.routes import ROUTERS
from adapter.api.zone import SiteZone
from adapter.settings import Settings

HealthProbe = Callable[[], dict[str, Any]]
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def operation_id(route: APIRoute) -> str:
    """``<first tag>_<function>`` in snake case; the tag keeps ``runs`` of the schedule and of
    the reconciliation apart."""
    tag = re.sub(r"[^a-z0-9]+", "_", str(route.tags[0]).lower()).strip("_") if route.tags else ""
    if not tag or route.name.startswith(tag):
        return route.name
    return f"{tag}_{route.name}"


def _with_examples(app: FastAPI) -> None:
    """Each operation's recorded answer as its response example (:mod:`adapter.api.examples`);
    the routes added after this (the composition root's) are included: the document is made
    on first request."""
    make = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = examples.attach(make())
        return app.openapi_schema

    # why: replacing app.openapi is FastAPI's documented way to customise the schema
    app.openapi = openapi  # type: ignore[method-assign]


def create_app(
    settings: Settings,
    engine: Engine,
    health_probes: dict[str, HealthProbe] | None = None,
    lifespan: Lifespan | None = None,
    ready_probes: dict[str, HealthProbe] | None = None,
) -> FastAPI:
    app = FastAPI(
        lifespan=lifespan,
        # explicit operation ids from the tag and the route function (encounters_admit,
        # upload_queue_list_jobs), not generated from path and method
        generate_unique_id_function=operation_id,
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
    app.state.ready_probes = dict(ready_probes or {})
    app.add_middleware(SiteZone, zone=settings.zone)  # times in the answers: the site's offset
    app.add_middleware(ControlCharacters)  # inside BodyLimit, which bounds what it reads
    app.add_middleware(DuplicateKeys)  # so is this one
    app.add_middleware(BodyLimit, max_bytes=settings.http.max_body_bytes)
    app.add_middleware(RequestObserver)  # outermost: sees every answer, 413s included
    problems.install(app)
    problems.document(app)
    _with_examples(app)
    app.include_router(health.router)
    app.include_router(audit.router)
    for router in ROUTERS:
        app.include_router(router)
    return app
