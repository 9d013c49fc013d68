"""Bad input over REST: schemathesis against the running adapter's own OpenAPI schema.

The adapter runs as ``serve`` wires it (real runtime, SQLite, the simulator over HTTP) on a
real socket; schemathesis reads ``/openapi.json`` from it and sends every operation generated
requests with a token holding every role. Each answer must be no 5xx, and a documented
answer's body must match its schema.

Every error answer (400, 401, 403, 404, 409, 422, 503 …) is ``application/problem+json`` and
documented as such in the schema (``adapter.api.problems.document``), which the second test
holds the live API to.

Bounded: a few examples per operation (``MAX_EXAMPLES``), no shrinking, so the whole run
stays well under a minute on two cores. On both backends: the request handling is the same,
but what a database refuses is not (an id past 32 bits was a 500 on PostgreSQL only).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import Failure, FailureGroup, not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from adapter.bootstrap import build_app
from adapter.store.migrate import upgrade
from adapter.store.tokens import ROLES, create_token
from adapter.wiring.runtime import build_runtime
from connectors.upstream.simulator import start_simulator
from tests.conftest import BACKENDS, create_pg_database, drop_pg_database
from tests.support.live import serving, simulated_settings

MAX_EXAMPLES = 15
CHECKS = [not_a_server_error, response_schema_conformance]
DOCUMENTED = [status_code_conformance, content_type_conformance]
HUGE = str(2**70)  # past any 64-bit database integer


@pytest.fixture(scope="module", params=BACKENDS)
def live_api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    folder: Path = tmp_path_factory.mktemp("fuzz")
    if request.param == "sqlite":
        yield from _serving(folder, f"sqlite:///{folder}/adapter.db")
        return
    db_url = create_pg_database()
    try:
        yield from _serving(folder, db_url)
    finally:
        drop_pg_database(db_url)


def _serving(folder: Path, db_url: str) -> Iterator[tuple[str, str]]:
    upgrade(db_url)
    with start_simulator() as simulator:
        settings = simulated_settings(
            db_url,
            simulator.url,
            upstream={"read_budget_s": 2.0},
            hl7={"enabled": False},
            queue={"workers": 1, "poll_seconds": 0.5},
            data_dir=folder,
        )
        runtime = build_runtime(settings)
        token = create_token(runtime.engine, "模糊测试-01", list(ROLES), datetime.now(UTC))
        with serving(build_app(settings, runtime)) as base:
            yield base, token


def _operations(base: str) -> list[Any]:
    loaded = schemathesis.openapi.from_url(f"{base}/openapi.json")
    return [result.ok() for result in loaded.get_all_operations()]


def _fuzz(operation: Any, headers: dict[str, str], checks: list[Any]) -> str | None:
    """Run the operation's generated cases; the first failure, described, or None."""

    @given(case=operation.as_strategy())
    @settings(
        max_examples=MAX_EXAMPLES if checks is CHECKS else 2,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=checks)

    try:
        run()
    except (AssertionError, FailureGroup, Failure) as exc:  # what the checks raise
        return f"{operation.label}: {exc}"[:2000]
    return None


def test_every_operation_answers_any_input_without_5xx_and_as_documented(
    live_api: tuple[str, str],
) -> None:
    base, token = live_api
    operations = _operations(base)
    assert len(operations) > 20  # the whole API was read, not an empty schema
    headers = {"Authorization": f"Bearer {token}"}
    failures = [failure for op in operations if (failure := _fuzz(op, headers, CHECKS))]
    assert failures == [], "\n\n".join(failures)


def test_every_error_answer_is_documented_in_the_schema(live_api: tuple[str, str]) -> None:
    base, token = live_api
    headers = {"Authorization": f"Bearer {token}"}
    failures = [f for op in _operations(base) if (f := _fuzz(op, headers, DOCUMENTED))]
    assert failures == [], "\n\n".join(failures)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"/api/v1/queue/jobs?offset={HUGE}"),
        ("POST", f"/api/v1/queue/jobs/{HUGE}/retry"),
        ("POST", f"/api/v1/upstream/calls/{HUGE}/resend"),
        ("POST", f"/api/v1/hl7/messages/{HUGE}/reprocess"),
    ],
)
def test_a_number_past_64_bits_is_a_422_naming_the_field_not_a_500(
    live_api: tuple[str, str], method: str, path: str
) -> None:
    base, token = live_api
    reply = httpx.request(
        method, f"{base}{path}", headers={"Authorization": f"Bearer {token}"}, json={}
    )
    assert reply.status_code == 422, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    (error,) = reply.json()["errors"]
    assert error["field"] in ("offset", "job_id", "call_id", "message_id")
