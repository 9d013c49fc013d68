"""The REST face for the monthly tests: ``create_app`` plus the monthly router, over a real
socket, with a token per role; and the desks' pages, signed in as one role."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import Engine

from adapter import web
from adapter.api.app import create_app
from adapter.api.monthly import router
from adapter.services.container import Services
from adapter.settings import load_settings
from adapter.store.tokens import ROLES, create_token
from adapter.web.users import create_user, set_hash_cost
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


@contextmanager
def desk_pages(
    db: Engine, db_url: str, services: Services, monthly: Any, *, role: str, also: str = ""
) -> Iterator[httpx.Client]:
    """The desks' pages over a real socket, signed in as a user holding ``role`` (and
    ``also``: the settlement supervisor, say, is a billing user holding ``supervisor`` too)."""
    app = create_app(load_settings(database={"url": db_url}), db)
    app.state.services = services
    app.state.monthly = monthly
    web.install(app)
    set_hash_cost(2**12)
    try:
        roles = [role, also] if also else [role]
        name, password = f"{'-'.join(roles)}-desk-01", "desk-password-1"
        create_user(db, name, roles, password)
        with serving(app) as base, httpx.Client(base_url=base, timeout=30) as client:
            form = client.get("/web/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
            assert token, form.text
            signed = client.post(
                "/web/login",
                data={"name": name, "password": password, "csrf_token": token[1],
                      "next": "/web/reconciliation"},
            )  # fmt: skip
            assert signed.status_code == 303, signed.text
            yield client
    finally:
        set_hash_cost(2**17)
