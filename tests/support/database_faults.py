"""What the database-error tests share (a read-only database, an exhausted pool, a full
disk): the REST API served over an engine the test made faulty, a clerk's admission to send
through it, and the refusal the clerk must see — a problem+json 503 in Chinese."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import Engine

from adapter.bootstrap import build_app
from adapter.settings import Settings
from adapter.store.tokens import create_token
from adapter.wiring.runtime import build_runtime
from tests.support.live import serving


def admission(visit: str) -> dict[str, Any]:
    """A clerk's admission of P001 (a valid medical filing for Beijing) as HIS visit ``visit``."""
    return {
        "card": {"kind": "physical", "card_no": "310100A0001"},
        "his_visit_id": visit,
        "kind": "medical",
        "admitted_at": "2026-11-24T09:00:00+08:00",
        "injury_parts": ["左手"],
    }


def clerk_headers(engine: Engine, operator: str, role: str) -> dict[str, str]:
    token = create_token(engine, operator, [role], datetime.now(UTC))
    return {"Authorization": f"Bearer {token}"}


@contextmanager
def serving_over(db: Engine, settings: Settings) -> Iterator[str]:
    """The REST API as ``serve`` builds it, but over ``db`` (the test's faulty engine), with
    no upload workers, MLLP listener or scheduled jobs to touch the database besides."""
    runtime = build_runtime(settings, engine=db, workers=0, hl7=False, scheduled=False)
    with serving(build_app(settings, runtime)) as base:
        yield base


def assert_refused(reply: httpx.Response, code: str, *words: str) -> dict[str, Any]:
    """``reply`` is the one error ``code`` as a problem+json 503 whose message has ``words``;
    returns the error."""
    assert reply.status_code == 503, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    (error,) = reply.json()["errors"]
    assert error["code"] == code, error
    for word in words:
        assert word in error["message"], error
    return dict(error)
