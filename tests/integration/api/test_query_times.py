"""The IT logs' time filters (audit, upstream calls, HL7 messages): a time without its zone
or one past the calendar's edge is a 422 naming the filter, never a 500 nor a guessed zone."""

from __future__ import annotations

import httpx
from sqlalchemy import Engine

from tests.integration.operations.conftest import live_adapter

LOGS = ("/api/v1/audit", "/api/v1/upstream/calls", "/api/v1/hl7/messages")


def test_it_log_filter_times_need_their_zone_and_a_calendar_day(
    db_url: str, engine: Engine
) -> None:
    refused = {
        # 08:00 in Beijing is midnight UTC: guessing either zone lists the wrong eight hours
        ("since", "2026-12-01T08:00:00"): "时区",
        # UTC of these is before year 1 or after year 9999
        ("until", "9999-12-31T23:59:59-12:00"): "超出",
        ("since", "0001-01-01T00:00:00+08:00"): "超出",
    }
    with live_adapter(db_url, engine) as live:
        for path in LOGS:
            for (name, value), words in refused.items():
                answer = httpx.get(
                    f"{live.base}{path}", params={name: value}, headers=live.headers, timeout=30
                )
                assert answer.status_code == 422, (path, name, value, answer.text)
                assert answer.headers["content-type"].startswith("application/problem+json")
                (error,) = answer.json()["errors"]
                assert error["field"] == name and words in error["message"], (path, error)
            listed = httpx.get(
                f"{live.base}{path}",
                params={"since": "2026-12-01T08:00:00+08:00", "until": "9999-12-30T00:00:00Z"},
                headers=live.headers,
                timeout=30,
            )
            assert listed.status_code == 200, (path, listed.text)
