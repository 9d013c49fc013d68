"""An id in the path that names nothing is answered 404 naming its start, not echoing it whole.

Before, ``GET /api/v1/encounters/<100,000 characters>`` was answered with a 200 KB 404: the
id twice (``detail`` and the error's ``message``)."""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Engine

from tests.integration.api.bodies import admit_over_api
from tests.integration.api.conftest import Api
from tests.integration.operations.conftest import live_adapter

# Long enough that echoed whole it would make a 24 KB answer, short enough that the request
# head stays under h11's 16 KB limit for a head still arriving: a longer one is refused by
# the HTTP server itself (400) or answered 404 depending on how TCP splits it.
LONG_ID = ("ZY" + "0123456789" * 1_200)[:12_000]
START = LONG_ID[:64]


def _call(
    base: str, token: str, method: str, path: str, body: Any = None
) -> tuple[int, dict[str, Any]]:
    """Over a plain HTTP connection: httpx refuses URLs over 64 KB before sending them."""
    url = urlsplit(base)
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=30)
    headers = {"Authorization": f"Bearer {token}"}
    content = None
    if body is not None:
        content = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    try:
        connection.request(method, path, body=content, headers=headers)
        answer = connection.getresponse()
        raw = answer.read()
    finally:
        connection.close()
    assert len(raw) < 1024, (path[:80], len(raw))
    return answer.status, json.loads(raw)


def test_a_12000_character_id_is_404_naming_its_start_in_under_a_kilobyte(api: Api) -> None:
    admitted = admit_over_api(api)
    assert admitted.status_code == 201, admitted.text
    encounter_id = admitted.json()["id"]
    calls = (
        ("GET", f"/api/v1/encounters/{LONG_ID}", None, "ENCOUNTER_NOT_FOUND"),
        ("GET", f"/api/v1/encounters/{LONG_ID}/fees", None, "ENCOUNTER_NOT_FOUND"),
        ("GET", f"/api/v1/settlements/{LONG_ID}", None, "SETTLEMENT_NOT_FOUND"),
        ("GET", f"/api/v1/manual-claims/{LONG_ID}", None, "MANUAL_CLAIM_NOT_FOUND"),
        (
            "PUT",
            f"/api/v1/encounters/{encounter_id}/fees/{LONG_ID}/mapping",
            {"catalogue_code": "XJ01DCC061"},
            "FEE_LINE_NOT_FOUND",
        ),
    )
    for method, path, body, code in calls:
        status, problem = _call(api.base, api.tokens["all"], method, path, body)
        _names_its_start(status, problem, code)


def _names_its_start(status: int, problem: dict[str, Any], code: str) -> None:
    assert status == 404, problem
    (error,) = problem["errors"]
    assert error["code"] == code, error
    assert f"{START}…" in error["message"] and f"{START}…" in problem["detail"], error


def test_a_12000_character_id_of_a_slip_a_scheduled_job_or_a_queued_job_is_answered_briefly(
    db_url: str, engine: Engine
) -> None:
    with live_adapter(db_url, engine) as live:
        token = live.headers["Authorization"].removeprefix("Bearer ")
        slip = _call(live.base, token, "GET", f"/api/v1/settlements/{LONG_ID}/slip")
        _names_its_start(*slip, "SETTLEMENT_NOT_FOUND")
        job = _call(live.base, token, "POST", f"/api/v1/schedule/jobs/{LONG_ID}/run", {})
        _names_its_start(*job, "SCHEDULE_JOB_NOT_FOUND")
        # a queued job's id is a number: refused as one, without the id
        status, problem = _call(live.base, token, "POST", f"/api/v1/queue/jobs/{LONG_ID}/retry", {})
        assert status == 422 and problem["errors"][0]["field"] == "job_id", problem
