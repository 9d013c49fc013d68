"""The composition root: the one place where real parts are wired together.

``serve`` and ``demo`` both come through :func:`build_app`; tests build apps the same way,
so what is tested is what runs.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, timedelta

from fastapi import FastAPI
from sqlalchemy import Engine

from adapter import __version__
from adapter.api.app import create_app
from adapter.api.monthly import router as monthly_router
from adapter.domain.commands import EncounterCommands
from adapter.logs import configure_from as configure_logging
from adapter.settings import Settings
from adapter.store.migrate import upgrade
from adapter.web import install as install_web
from adapter.web.sessions import SessionPolicy
from adapter.wiring import ops_routes
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

    app = create_app(
        settings,
        runtime.engine,
        health_probes=runtime.health_probes(),
        lifespan=lifespan,
        ready_probes=runtime.ready_probes(),
    )
    app.state.runtime = runtime
    app.state.services = runtime.services
    app.state.monthly = runtime.monthly
    app.state.scheduler = runtime.scheduler
    app.include_router(ops_routes.router)
    app.include_router(monthly_router)
    web = settings.web
    install_web(
        app,
        sessions=SessionPolicy(
            idle=timedelta(minutes=web.session_idle_minutes),
            absolute=timedelta(hours=web.session_max_hours),
        ),
        font_path=web.slip_font or None,
        secure_cookies=web.secure_cookies,
    )
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


def run_demo(settings: Settings, *, simulator_port: int, today: date) -> None:
    from adapter.api import server
    from adapter.web import DEMO_PASSWORD, create_demo_users
    from adapter.wiring import demo

    configure_logging(settings)
    simulator = demo.start_demo_simulator(settings.http.host, simulator_port, today)
    regions = demo.insured_regions(today)
    reader = demo.start_demo_card_reader(settings.cards.bridge_url, settings.http, today)
    settings = settings.model_copy(
        update={
            "cards": settings.cards.model_copy(update={"bridge_url": reader.url}),
            "upstream": settings.upstream.model_copy(update={"base_url": simulator.url}),
            "schedule": settings.schedule.model_copy(update={"device_regions": regions}),
        }
    )
    upgrade(settings.database.url)
    runtime = build_runtime(settings)
    load_audit_key(settings, runtime.engine)  # the demo's key: created in its data folder
    count = demo.load_catalogues(
        runtime.engine, runtime.gateway, settings.institution.admdvs, regions
    )
    tokens = demo.issue_tokens(runtime.engine)
    create_demo_users(runtime.engine)
    last_month = demo.seed_last_month(
        runtime.engine, settings.institution.code, settings.zone, today
    )
    app = build_app(settings, runtime)
    base = f"http://{settings.http.host}:{settings.http.port}"
    print(f"示例工伤协议医院 demo — adapter {base}, simulator {simulator.url}")
    print(
        f"  card reader (simulated bridge) {reader.url}: card of {demo.DEMO_CARD_HOLDER} inserted;"
        f' another: curl -X PUT {reader.url}/sim/card -d \'{{"psn_no": "P003"}}\''
    )
    print(f"  {count} catalogue items loaded; database {settings.database.url}")
    print(f"  health: curl {base}/healthz   API docs: {base}/docs")
    print(
        f"  pages: {base}/web/ — sign in as 入院处, 结算处, 器具室 or 信息科,"
        f" password {DEMO_PASSWORD}"
    )
    for role, token in tokens.by_role.items():
        print(f"  token for role {role:<10} {token}")
    if tokens.all_roles:
        print("  ADAPTER_DEMO_TOKEN holds every role")
    print(f"  {last_month.explanation}")
    try:
        server.run(app, settings.http, **SERVER_LOGGING)
    finally:
        reader.stop()
        simulator.stop()


def encounter_commands(settings: Settings, engine: Engine) -> EncounterCommands:
    """What ``wi-adapter hl7 reprocess`` runs a stored message through: the real services."""
    from adapter.wiring.hl7 import encounter_commands as commands

    return commands(settings, engine)
