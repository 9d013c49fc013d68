"""IT's routes that take a row id in the path (a queued job, a logged upstream call, a stored
HL7 message): an id no row can have — past the column's range on PostgreSQL too — is a 404 or
a 422 naming the id, never a 500."""

from __future__ import annotations

import httpx
from sqlalchemy import Engine

from tests.integration.operations.conftest import live_adapter

ROUTES = (
    "/api/v1/queue/jobs/{}/retry",
    "/api/v1/queue/jobs/{}/reverse",
    "/api/v1/upstream/calls/{}/resend",
    "/api/v1/hl7/messages/{}/reprocess",
)


def test_an_id_past_any_row_is_not_found_or_refused_naming_it(db_url: str, engine: Engine) -> None:
    with live_adapter(db_url, engine) as live:
        for route in ROUTES:
            # 2**31: past PostgreSQL's integer; 2**63 - 1: bigint's last
            for row in (2**31, 2**63 - 1):
                path = route.format(row)
                answer = httpx.post(f"{live.base}{path}", json={}, headers=live.headers, timeout=30)
                assert answer.status_code in (404, 422), (path, answer.text)
                assert answer.headers["content-type"].startswith("application/problem+json")
                (error,) = answer.json()["errors"]
                assert error["message"], (path, error)
                if answer.status_code == 422:
                    assert error["field"].endswith("_id"), (path, error)
