"""The composition root: build the object graph (:mod:`adapter.wiring.runtime`), hand it to
the faces, start and stop it with the app.

``serve`` and ``demo`` (:mod:`adapter.demo`) both come through :func:`build_app`; tests
build apps the same way, so what is tested is what runs.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import Engine

from adapter import __version__
from adapter.api import deps
from adapter.api.app import create_app
from adapter.api.monthly import router as monthly_router
from adapter.api.routes import operations
from adapter.domain.commands import EncounterCommands
from adapter.logs import configure_from as configure_logging
from adapter.settings import Settings
from adapter.store.migrate import upgrade
from adapter.web import install as install_web
from adapter.wiring.runtime import Runtime, build_runtime

log = logging.getLogger("adapter")
# uvicorn's lines go through our handlers (adapter.logs); requests are logged by
# adapter.api.observe with their request id, so uvicorn's access log is off
SERVER_LOGGING = {"log_config": None, "access_log": False, "log_level": "info"}


def build_app(settings: Settings, runtime: Runtime | None = None) -> FastAPI:
    """The HTTP app over a runtime; the runtime starts and stops with the app."""
    runtime = runtime or build_runtime(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        runtime.start()
        try:
            yield
        finally:
            runtime.stop()
            # the pair of adapter.starting, logged here since uvicorn ends the process with
            # the SIGTERM it caught: how long the service was down is read from these lines
            log.info("adapter.stopped", extra={"version": __version__})

    app = create_app(
        settings,
        runtime.engine,
        health_probes=runtime.health_probes(),
        lifespan=lifespan,
        ready_probes=runtime.ready_probes(),
    )
    deps.install(
        app,
        services=runtime.services,
        monthly=runtime.monthly,
        operations=runtime.operations,
        registry=runtime.registry,
        scheduler=runtime.scheduler,
    )
    app.include_router(operations.router)
    app.include_router(monthly_router)
    install_web(app)  # its sessions, slip font and cookies as ``[web]`` sets them
    return app


def run_server(settings: Settings) -> None:
    from adapter.api import server

    configure_logging(settings)
    upgrade(settings.database.url)
    runtime = build_runtime(settings)
    load_audit_key(settings, runtime.engine)
    app = build_app(settings, runtime)
    log.info(
        "adapter.starting",
        extra={"http": f"{settings.http.host}:{settings.http.port}", "version": __version__},
    )
    server.run(app, settings.http, **SERVER_LOGGING)


def load_audit_key(settings: Settings, engine: Engine) -> None:
    """Start-up: the audit key from ``[audit] key_file`` (created on a first start, logged);
    a key file missing while the log holds keyed entries stops start-up here."""
    from adapter.store.audit import install_keyring, keyring_at

    path = settings.audit.key_path(settings.data_dir)
    keyring = keyring_at(path, engine)
    install_keyring(keyring)
    log.info("audit_key_loaded", extra={"path": str(path), "key_id": keyring.current})


def encounter_commands(settings: Settings, engine: Engine) -> EncounterCommands:
    """What ``wi-adapter hl7 reprocess`` runs a stored message through: the real services."""
    runtime = build_runtime(settings, engine=engine, workers=0, hl7=False, scheduled=False)
    return runtime.services.commands
