"""The REST face over a real socket: the app from ``create_app`` with the services built as
the use-case tests build them (simulator over HTTP, real queue), tokens for every role."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from adapter.api.app import create_app
from adapter.services.container import Services
from adapter.settings import load_settings
from adapter.store.tokens import ROLES, create_token
from tests.integration.services.fixtures import *  # noqa: F403 - shared with the use cases
from tests.support.live import serving


@dataclass
class Api:
    base: str
    tokens: dict[str, str]

    def call(
        self, method: str, path: str, role: str | None = "all", **kwargs: Any
    ) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if role is not None:
            headers["Authorization"] = f"Bearer {self.tokens[role]}"
        return httpx.request(method, f"{self.base}{path}", headers=headers, timeout=30, **kwargs)

    def post(self, path: str, role: str | None = "all", **kwargs: Any) -> httpx.Response:
        return self.call("POST", path, role, **kwargs)

    def get(self, path: str, role: str | None = "all", **kwargs: Any) -> httpx.Response:
        return self.call("GET", path, role, **kwargs)

    def put(self, path: str, role: str | None = "all", **kwargs: Any) -> httpx.Response:
        return self.call("PUT", path, role, **kwargs)


@pytest.fixture
def api(db: Engine, db_url: str, services: Services) -> Iterator[Api]:
    settings = load_settings(database={"url": db_url})
    app = create_app(settings, db)
    app.state.services = services
    now = datetime.now(UTC)
    tokens = {role: create_token(db, f"{role}-01", [role], now) for role in ROLES}
    tokens["all"] = create_token(db, "主管-01", list(ROLES), now)
    with serving(app) as base:
        yield Api(base, tokens)
