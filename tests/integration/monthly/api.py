"""The REST face for the monthly tests: ``create_app`` plus the monthly router, over a real
socket, with a token per role."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import Engine

from adapter.api.app import create_app
from adapter.api.monthly import router
from adapter.services.container import Services
from adapter.settings import load_settings
from adapter.store.tokens import ROLES, create_token
from tests.support.live import serving


@dataclass
class Api:
    base: str
    tokens: dict[str, str]

    def call(self, method: str, path: str, role: str = "billing", **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[role]}", **kwargs.pop("headers", {})}
        return httpx.request(method, f"{self.base}{path}", headers=headers, timeout=30, **kwargs)

    def get(self, path: str, role: str = "billing", **kwargs: Any) -> httpx.Response:
        return self.call("GET", path, role, **kwargs)

    def post(self, path: str, role: str = "billing", **kwargs: Any) -> httpx.Response:
        return self.call("POST", path, role, **kwargs)


@contextmanager
def monthly_api(db: Engine, db_url: str, services: Services, **state: Any) -> Iterator[Api]:
    settings = load_settings(database={"url": db_url})
    app = create_app(settings, db)
    app.state.services = services
    for name, value in state.items():
        setattr(app.state, name, value)
    app.include_router(router)
    now = datetime.now(UTC)
    tokens = {role: create_token(db, f"{role}-01", [role], now) for role in ROLES}
    with serving(app) as base:
        yield Api(base, tokens)
