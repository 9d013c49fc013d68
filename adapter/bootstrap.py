"""The composition root: the one place where real parts are wired together."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import Engine

from adapter.api.app import create_app
from adapter.settings import Settings
from adapter.store.db import make_engine


def build_app(settings: Settings, engine: Engine | None = None) -> FastAPI:
    engine = engine or make_engine(settings.database.url)
    return create_app(settings, engine)


def run_server(settings: Settings) -> None:
    import uvicorn

    app = build_app(settings)
    uvicorn.run(app, host=settings.http.host, port=settings.http.port, log_level="info")
