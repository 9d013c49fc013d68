"""/metrics: process and Python collectors, HTTP, HL7 and upstream series, and every metric
the operations guide's alert rules name."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine

from tests.e2e.hl7_rest import SHANGHAI, msh, send, settle_over_rest, visit_segments
from tests.integration.operations.conftest import live_adapter

GUIDE = Path(__file__).resolve().parents[3] / "docs" / "operations.md"
PROMQL_WORDS = {"rate", "increase", "histogram_quantile", "sum", "by", "avg", "max", "min"}
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "gauge": ("",),
    "info": ("_info",),
    "summary": ("", "_sum", "_count", "_created"),
    "untyped": ("",),
}


def sample_names(text: str) -> dict[str, set[tuple[tuple[str, str], ...]]]:
    """Every series name in the exposition, with the label sets it was seen with."""
    found: dict[str, set[tuple[tuple[str, str], ...]]] = {}
    for family in text_string_to_metric_families(text):
        for suffix in SUFFIXES.get(family.type, ("",)):
            found.setdefault(family.name + suffix, set())
        for sample in family.samples:
            found.setdefault(sample.name, set()).add(tuple(sorted(sample.labels.items())))
    return found


def alert_rule_metrics() -> set[str]:
    """The metric names in the guide's alert-rule table (first column, PromQL)."""
    section = GUIDE.read_text(encoding="utf-8").split("| alert rule |", 1)[1].split("\n\n", 1)[0]
    names: set[str] = set()
    for row in section.splitlines()[2:]:
        rule = row.split("`")[1].replace("\\|", "|")
        rule = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", rule)
        names |= {
            w for w in re.findall(r"(?<![0-9.])[a-z_][a-z0-9_]*", rule) if w not in PROMQL_WORDS
        }
    return names


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the disk gauge is SQLite's
def test_metrics_cover_process_http_hl7_upstream_and_every_alert_rule_of_the_guide(
    db_url: str, engine: Engine
) -> None:
    with live_adapter(db_url, engine) as live:
        discharged = datetime.now(SHANGHAI).replace(microsecond=0) - timedelta(hours=1)
        settle_over_rest(live.base, live.headers, discharged - timedelta(days=3), discharged)
        a01 = [msh("A01", "MET1"), "EVN|A01", *visit_segments("HVM1", discharged)]
        send(live.port, "\r".join(a01) + "\r")
        httpx.get(f"{live.base}/healthz", timeout=30)
        text = httpx.get(f"{live.base}/metrics", headers=live.headers, timeout=10).text
        jobs = httpx.get(f"{live.base}/api/v1/queue/jobs", headers=live.headers).json()["jobs"]
        calls = httpx.get(f"{live.base}/api/v1/upstream/calls", headers=live.headers).json()
    # IT's lists give every time with the site's offset, as the pages show it
    assert jobs and all(job["deadline"].endswith("+08:00") for job in jobs)
    assert all(job["created_at"].endswith("+08:00") for job in jobs)
    assert all(call["started_at"].endswith("+08:00") for call in calls["calls"])
    series = sample_names(text)
    for name in ("process_cpu_seconds_total", "process_resident_memory_bytes", "python_info",
                 "python_gc_objects_collected_total"):  # fmt: skip
        assert name in series, name
    settle = (("method", "POST"), ("route", "/api/v1/encounters/{encounter_id}/settle"),
              ("status", "201"))  # fmt: skip
    assert settle in series["http_requests_total"]
    assert any(dict(labels).get("route") == settle[1][1]
               for labels in series["http_request_duration_seconds_bucket"])  # fmt: skip
    assert all("EC" not in dict(labels)["route"] for labels in series["http_requests_total"])
    hl7 = {dict(labels)["type"] for labels in series["hl7_messages_total"]}
    assert "ADT^A01" in hl7
    calls = {(dict(ls)["infno"], dict(ls)["outcome"]) for ls in series["upstream_calls_total"]}
    assert {("WI2401", "ok"), ("WI1301", "ok")} <= calls
    assert "upstream_call_duration_seconds_bucket" in series
    named = alert_rule_metrics()
    assert {"upload_queue_failed_total", "http_requests_total", "hl7_messages_total"} <= named
    missing = sorted(name for name in named if name not in series)
    assert not missing, f"the guide's alert rules name metrics /metrics lacks: {missing}"
