"""`make run` as a user runs it: `wi-adapter demo` answers health, tokens and metrics."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.hl7.conftest import MllpClient
from tests.integration.hl7.test_flow import parse_ack
from tests.support.demo import running_demo
from tests.unit.hl7 import messages as m

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "e2e-demo-token-all-roles"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    data = tmp_path_factory.mktemp("demo")
    env = {
        "ADAPTER_DEMO_TOKEN": TOKEN,
        "ADAPTER_CONFIG_FILE": str(ROOT / "config" / "adapter.toml"),
    }
    with running_demo(data, data / "demo.log", env=env, ready="/healthz", timeout=60) as demo:
        yield demo


def test_health_reports_database_queue_and_upstream(demo: tuple[str, str]) -> None:
    base, _ = demo
    body = httpx.get(f"{base}/healthz").json()
    assert body["status"] == "ok"
    assert body["institution"] == "H11010000001"
    assert body["checks"]["database"] == {"ok": True, "backend": "sqlite"}
    assert body["checks"]["upload_queue"]["backlog"] == 0
    assert body["checks"]["upstream"]["reachable"] is True


def test_the_demo_prints_a_token_per_role_that_works_only_for_its_role(
    demo: tuple[str, str],
) -> None:
    base, output = demo
    tokens = dict(re.findall(r"token for role (\w+)\s+(\S+)", output))
    assert set(tokens) == {"admission", "billing", "device", "it", "his", "supervisor"}
    # the supervisor's token bills too: the rehab override (N§33) needs both roles
    supervisor = {"Authorization": f"Bearer {tokens['supervisor']}"}
    assert httpx.get(f"{base}/api/v1/manual-claims/X1", headers=supervisor).status_code == 404
    summary = f"{base}/api/v1/queue/summary"
    assert (
        httpx.get(summary, headers={"Authorization": f"Bearer {tokens['it']}"}).status_code == 200
    )
    refused = httpx.get(summary, headers={"Authorization": f"Bearer {tokens['admission']}"})
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "信息科" in refused.json()["errors"][0]["message"]
    assert httpx.get(summary).status_code == 401


def test_metrics_are_prometheus_text_for_it(demo: tuple[str, str]) -> None:
    base, _ = demo
    reply = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/plain")
    assert "upload_queue" in reply.text


def test_catalogues_were_loaded_from_the_simulator(demo: tuple[str, str]) -> None:
    _, output = demo
    loaded = re.search(r"(\d+) catalogue items loaded", output)
    assert loaded and int(loaded.group(1)) > 20


def test_the_pages_sign_in_with_the_demo_users(demo: tuple[str, str]) -> None:
    base, output = demo
    assert "password demo-2026" in output
    with httpx.Client(base_url=base, follow_redirects=True) as browser:
        page = browser.get("/web/")
        assert page.status_code == 200 and "登录" in page.text


def test_the_demo_runs_a_simulated_card_reader_its_pages_may_read(
    demo: tuple[str, str],
) -> None:
    base, output = demo
    found = re.search(r"card reader \(simulated bridge\) (http://127\.0\.0\.1:\d+)", output)
    assert found, output
    reader = found.group(1)
    read = httpx.get(f"{reader}/v1/card/basic", headers={"Origin": base})
    assert read.status_code == 200 and read.json()["ret"] == 0
    assert "|王建国|" in read.json()["out"]
    assert read.headers["Access-Control-Allow-Origin"] == base
    preflight = httpx.options(
        f"{reader}/v1/card/basic",
        headers={
            "Origin": base,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Private-Network": "true",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Private-Network"] == "true"
    other = httpx.get(f"{reader}/v1/card/basic", headers={"Origin": "http://elsewhere.example"})
    assert other.status_code == 403


def test_the_demo_names_its_hl7_listener_which_answers_a_his(demo: tuple[str, str]) -> None:
    """The README promises an HL7 listener "for a HIS or a test tool", but the banner named
    every address except its port: a new user pointing a test tool at it had to guess 2575
    (or read the settings). The banner names it, and it answers there."""
    _, output = demo
    found = re.search(r"HL7 MLLP listener 127\.0\.0\.1:(\d+)", output)
    assert found, output
    client = MllpClient(int(found.group(1)))
    try:
        ack = parse_ack(client.send(m.adt("A05", "DEMO-A05").encode()))
    finally:
        client.close()
    assert ack.require("MSA").get(1) == "AR"
    assert ack.require("ERR").get(5) == "HL7_NOT_AN_ADMISSION"


def test_the_banner_is_not_buried_under_the_start_up_lines(demo: tuple[str, str]) -> None:
    """A new user running `make run` saw some 35 JSON log lines (catalogues loaded, users
    made, last month seeded) and had to scroll back for the addresses and tokens. The
    start-up's INFO lines stay off the terminal (warnings still show); the banner leads."""
    _, output = demo
    lines = output.splitlines()
    first = next(i for i, line in enumerate(lines) if "示例工伤协议医院 demo" in line)
    before = [line for line in lines[:first] if '"level": "INFO"' in line or " INFO " in line]
    assert before == [], before
    assert any("token for role" in line for line in lines[first:])
