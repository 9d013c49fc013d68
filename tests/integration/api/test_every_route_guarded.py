"""Every route of the app ``serve`` builds, walked from ``app.routes``: each refuses a caller
without a token or session, and a caller whose roles the README's tables do not give it.

The roles are written out here from the README (the REST and operator tables) rather than
read from the code, so a route whose guard drifts from the documented roles fails, and so
does a route added without a line here: someone must decide who may call it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from sqlalchemy import Engine

from adapter.bootstrap import build_app
from adapter.settings import load_settings
from adapter.store.migrate import upgrade
from adapter.store.tokens import ROLES, create_token
from adapter.web.users import create_user, set_hash_cost
from adapter.wiring.runtime import build_runtime
from tests.support.live import serving

OPEN = "open"  # no token asked
# "any role" is any duty: the supervisor (结算主管) alone opens nothing — it adds the rehab
# override to billing or his (N§33) — so its token is refused everywhere below
ANY = ("admission", "billing", "device", "it", "his")
DESKS = ("admission", "billing", "device")
MONTHLY = ("billing", "it")

# (method, path) → the roles the README gives it
API: dict[tuple[str, str], str | tuple[str, ...]] = {
    ("GET", "/livez"): OPEN,
    ("GET", "/readyz"): OPEN,
    ("GET", "/healthz"): OPEN,
    ("GET", "/metrics"): ("it",),
    ("GET", "/api/v1/audit"): ("it",),
    ("GET", "/api/v1/audit/verify"): ("it",),
    ("POST", "/api/v1/identity/verify"): DESKS,
    ("POST", "/api/v1/eligibility"): DESKS,
    ("POST", "/api/v1/encounters"): ("admission", "his"),
    ("GET", "/api/v1/encounters/waiting-for-upstream"): ANY,
    ("GET", "/api/v1/encounters/{encounter_id}"): ANY,
    ("GET", "/api/v1/encounters/{encounter_id}/fees"): ANY,
    ("POST", "/api/v1/encounters/{encounter_id}/fees"): ("billing", "his"),
    ("PUT", "/api/v1/encounters/{encounter_id}/fees/{line_id}/mapping"): ("billing",),
    ("PUT", "/api/v1/encounters/{encounter_id}/rehab-plan"): ("billing", "his"),
    ("POST", "/api/v1/encounters/{encounter_id}/presettle"): ("billing",),
    ("POST", "/api/v1/encounters/{encounter_id}/settle"): ("billing", "his"),
    ("POST", "/api/v1/encounters/{encounter_id}/cancel"): ("admission", "his"),
    ("GET", "/api/v1/settlements/{settlement_id}"): ANY,
    ("GET", "/api/v1/settlements/{settlement_id}/lines"): ANY,
    ("GET", "/api/v1/settlements/{settlement_id}/slip"): ANY,
    ("POST", "/api/v1/settlements/{settlement_id}/revoke"): ("billing",),
    ("POST", "/api/v1/device-fittings"): ("device",),
    ("POST", "/api/v1/device-fittings/presettle"): ("device",),
    ("GET", "/api/v1/device-fittings/manual-claims/{claim_id}"): ("device",),
    ("POST", "/api/v1/device-fittings/manual-claims/{claim_id}/hand-over"): ("device",),
    ("POST", "/api/v1/device-fittings/manual-claims/{claim_id}/switch-to-direct"): ("device",),
    ("POST", "/api/v1/manual-claims"): ("billing",),
    ("GET", "/api/v1/manual-claims/{claim_id}"): ("billing",),
    ("POST", "/api/v1/manual-claims/{claim_id}/hand-over"): ("billing",),
    ("POST", "/api/v1/manual-claims/{claim_id}/switch-to-direct"): DESKS,
    ("GET", "/api/v1/queue/jobs"): ("it",),
    ("POST", "/api/v1/queue/jobs/{job_id}/retry"): ("it",),
    ("POST", "/api/v1/queue/jobs/{job_id}/reverse"): ("it",),
    ("POST", "/api/v1/queue/jobs/{job_id}/withdraw"): ("it",),
    ("GET", "/api/v1/queue/summary"): ("it",),
    ("GET", "/api/v1/queue/clearing"): ("it",),
    ("GET", "/api/v1/upstream/calls"): ("it",),
    ("POST", "/api/v1/upstream/calls/{call_id}/resend"): ("it",),
    ("GET", "/api/v1/hl7/messages"): ("it",),
    ("POST", "/api/v1/hl7/messages/{message_id}/reprocess"): ("it",),
    ("GET", "/api/v1/reconciliation/unresolved"): MONTHLY,
    ("GET", "/api/v1/reconciliation/{month}"): MONTHLY,
    ("GET", "/api/v1/reconciliation/{month}/runs"): MONTHLY,
    ("POST", "/api/v1/reconciliation/{month}/run"): MONTHLY,
    ("GET", "/api/v1/deductions/{month}"): MONTHLY,
    ("POST", "/api/v1/deductions/{month}/fetch"): MONTHLY,
    ("GET", "/api/v1/device-funds"): ("device", "billing", "it"),
    ("POST", "/api/v1/device-funds/{month}/confirm"): ("device",),
    ("POST", "/api/v1/catalogue/import"): ("it",),
    ("POST", "/api/v1/catalogue/sync"): ("it",),
    ("GET", "/api/v1/catalogue/updates"): ("it",),
    ("GET", "/api/v1/catalogue/unmapped"): MONTHLY,
    ("GET", "/api/v1/schedule/runs"): ("it",),
    ("GET", "/api/v1/schedule/jobs"): ("it",),
    ("POST", "/api/v1/schedule/jobs/{job}/run"): ("it",),
}

# the desks (pages): a person signs in; the same roles as the REST routes behind each form
PEOPLE = ("admission", "billing", "device", "it", "supervisor")  # the last: no desk at all
WEB: dict[tuple[str, str], str | tuple[str, ...]] = {
    ("GET", "/"): OPEN,  # sends the browser to the desks
    ("GET", "/web/login"): OPEN,
    ("POST", "/web/login"): OPEN,
    ("POST", "/web/logout"): PEOPLE,
    ("GET", "/web/"): PEOPLE,
    ("GET", "/web/password"): PEOPLE,
    ("POST", "/web/password"): PEOPLE,
    ("GET", "/web/admission"): ("admission",),
    ("POST", "/web/admission/check"): ("admission",),
    ("POST", "/web/admission/admit"): ("admission",),
    ("POST", "/web/admission/{encounter_id}/cancel"): ("admission",),
    ("GET", "/web/billing"): ("billing",),
    ("GET", "/web/billing/{encounter_id}"): ("billing",),
    ("POST", "/web/billing/{encounter_id}/fees/{line_id}/mapping"): ("billing",),
    ("POST", "/web/billing/{encounter_id}/rehab-plan"): ("billing",),
    ("POST", "/web/billing/{encounter_id}/presettle"): ("billing",),
    ("POST", "/web/billing/{encounter_id}/settle"): ("billing",),
    ("POST", "/web/billing/{encounter_id}/revoke"): ("billing",),
    ("POST", "/web/billing/by-card"): ("billing",),
    ("POST", "/web/billing/{encounter_id}/manual-claim"): ("billing",),
    ("POST", "/web/billing/{encounter_id}/hand-over"): ("billing",),
    ("POST", "/web/billing/{encounter_id}/switch-to-direct"): ("billing",),
    ("GET", "/web/device"): ("device",),
    ("POST", "/web/device/check"): ("device",),
    ("POST", "/web/device/fit"): ("device",),
    ("POST", "/web/device/manual-claim"): ("device",),
    ("POST", "/web/device/manual-claim/{claim_id}/hand-over"): ("device",),
    ("POST", "/web/device/manual-claim/{claim_id}/switch"): ("device",),
    ("GET", "/web/monitor"): ("it",),
    ("GET", "/web/monitor/live"): ("it",),
    ("POST", "/web/monitor/jobs/{job_id}/resend"): ("it",),
    ("POST", "/web/monitor/jobs/{job_id}/reverse"): ("it",),
    ("POST", "/web/monitor/jobs/{job_id}/withdraw"): ("it",),
    # the page reads as GET /device-funds does (device too); reconciling is billing's and IT's
    ("GET", "/web/reconciliation"): ("billing", "it", "device"),
    ("POST", "/web/reconciliation/run"): MONTHLY,
    ("POST", "/web/reconciliation/deductions/fetch"): MONTHLY,
    # as POST /api/v1/device-funds/{month}/confirm: the device counter confirms (B§40)
    ("POST", "/web/reconciliation/device-funds/confirm"): ("device",),
    ("GET", "/web/stays/{encounter_id}"): ("admission", "billing", "it"),
    ("POST", "/web/stays/{encounter_id}/cancel"): ("admission",),
}

PASSWORD = "route-walk-password-1"
CHEAP = 2**12


@dataclass
class Site:
    base: str
    app: FastAPI
    tokens: dict[str, str]


@pytest.fixture
def site(engine: Engine, db_url: str) -> Iterator[Site]:
    upgrade(engine)
    settings = load_settings(database={"url": db_url})
    runtime = build_runtime(settings, engine=engine, workers=0, hl7=False, scheduled=False)
    app = build_app(settings, runtime)
    now = datetime.now(UTC)
    tokens = {role: create_token(engine, f"{role}-walk", [role], now) for role in ROLES}
    set_hash_cost(CHEAP)
    try:
        for role in PEOPLE:
            create_user(engine, f"{role}-walk", [role], PASSWORD)
        with serving(app) as base:
            yield Site(base, app, tokens)
    finally:
        set_hash_cost(2**17)


def _routes(app: FastAPI) -> set[tuple[str, str]]:
    found = set()
    for route in iter_route_contexts(app.routes):
        path, methods = route.path, route.methods
        if not path or not methods or path.startswith(("/docs", "/redoc", "/openapi")):
            continue
        found |= {(m, path) for m in methods if m != "HEAD"}
    return found


def _concrete(path: str) -> str:
    path = path.replace("{month}", "2026-11").replace("{job}", "reconciliation")
    return re.sub(r"\{[a-z_]+\}", "X1", path)


def _refused(reply: httpx.Response, status: int, what: str) -> None:
    assert reply.status_code == status, (what, reply.status_code, reply.text[:300])
    assert reply.headers["content-type"].startswith("application/problem+json"), what


def test_the_tables_here_name_every_route_of_the_app(site: Site) -> None:
    routes = _routes(site.app)
    assert routes - set(API) - set(WEB) == set(), "a route nobody decided the roles of"
    assert (set(API) | set(WEB)) - routes == set(), "a documented route the app lacks"


def test_every_api_route_refuses_no_token_401_and_a_role_not_given_it_403(site: Site) -> None:
    pdf = {"Accept": "application/pdf"}  # the slip: an API client asks for the PDF
    for (method, template), roles in API.items():
        if roles == OPEN:
            continue
        url = site.base + _concrete(template)
        headers = pdf if template.endswith("/slip") else {}
        _refused(httpx.request(method, url, json={}, headers=headers, timeout=30), 401, template)
        wrong = "wi_not-a-token"
        bad = {**headers, "Authorization": f"Bearer {wrong}"}
        _refused(httpx.request(method, url, json={}, headers=bad, timeout=30), 401, template)
        for role in set(ROLES) - set(roles):
            auth = {**headers, "Authorization": f"Bearer {site.tokens[role]}"}
            reply = httpx.request(method, url, json={}, headers=auth, timeout=30)
            _refused(reply, 403, f"{method} {template} as {role}")
            assert "角色" in reply.json()["errors"][0]["message"]


def _signed_in(base: str, role: str) -> tuple[httpx.Client, str]:
    """A browser signed in as the ``role`` user, and its session's CSRF token."""
    client = httpx.Client(base_url=base, follow_redirects=False, timeout=30)
    form = client.get("/web/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token, form.text
    data = {"name": f"{role}-walk", "password": PASSWORD, "csrf_token": token[1]}
    assert client.post("/web/login", data=data).status_code == 303
    start = client.get("/web/")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', start.text)
    assert csrf, start.text
    return client, csrf[1]


def test_every_desk_sends_the_signed_out_to_sign_in_and_refuses_other_roles(site: Site) -> None:
    guarded = {k: v for k, v in WEB.items() if v != OPEN}
    with httpx.Client(base_url=site.base, follow_redirects=False, timeout=30) as anonymous:
        for (method, template), _roles in guarded.items():
            reply = anonymous.request(method, _concrete(template), data={"csrf_token": "x"})
            assert reply.status_code == 303, (template, reply.status_code)
            assert reply.headers["location"].startswith("/web/login"), template
    for role in PEOPLE:
        client, csrf = _signed_in(site.base, role)
        with closing(client):
            for (method, template), roles in guarded.items():
                if role in roles:
                    continue
                # the form's own CSRF token: what refuses it is the role, not the token
                reply = client.request(method, _concrete(template), data={"csrf_token": csrf})
                assert reply.status_code == 403, (f"{method} {template} as {role}", reply.text)
                assert "该页面需要以下角色之一" in reply.text, template


def test_every_desk_form_refuses_a_post_without_its_csrf_token(site: Site) -> None:
    posts = {k: v for k, v in WEB.items() if k[0] == "POST" and v != OPEN}
    for role in PEOPLE:
        client, _csrf = _signed_in(site.base, role)
        with closing(client):
            for (_method, template), roles in posts.items():
                if role not in roles:
                    continue
                for data in ({}, {"csrf_token": "forged"}):
                    reply = client.post(_concrete(template), data=data)
                    assert reply.status_code == 403, (template, role, data, reply.text[:200])
                    assert "CSRF" in reply.text, template
        client, _csrf = _signed_in(site.base, role)
        with closing(client):  # the session still stands: nothing above signed it out
            assert client.get("/web/").status_code == 200
