"""The README's curl walk-through works as written (issue 3: "as the README shows")."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]


def readme_block() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- readme-curl: begin -->\n```sh\n(.*?)```", text, re.DOTALL)
    assert block, "README lost its curl walk-through"
    return block.group(1)


def test_querying_a_seeded_workers_filings_with_curl_as_the_readme_shows() -> None:
    if shutil.which("curl") is None:
        pytest.fail("curl is missing: `make test` installs it (make system-deps)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    script = readme_block().replace("8090", str(port))
    script = script.replace(".venv/bin/wi-adapter", f"{sys.executable} -m adapter.cli")
    script = "set -e\ntrap 'kill %1' EXIT\n" + script
    result = subprocess.run(
        ["bash", "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    reply = json.loads(result.stdout.strip().splitlines()[-1])
    assert reply["infcode"] == 0, reply
    filings = reply["output"]["filings"]
    assert [f["filing_no"] for f in filings] == ["F001"]
    assert filings[0]["psn_name"] == "王建国"


def _block(name: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(rf"<!-- readme-{name}: begin -->\n```sh\n(.*?)```", text, re.DOTALL)
    assert block, f"README lost its {name} walk-through"
    return block.group(1)


# The admission desk's 确认入院登记 for 王建国 an hour ago, as the REST call a HIS makes: the
# README's fee lines need a stay, whichever way it was admitted.
_ADMIT = """ENC=$(curl -s -X POST -H 'Authorization: Bearer demo' \\
  -H 'Content-Type: application/json' 127.0.0.1:8000/api/v1/encounters -d '{
  "card": {"kind": "physical", "card_no": "310100A0001"}, "his_visit_id": "ZY0001",
  "kind": "medical", "department": "骨科", "injury_parts": ["左手"],
  "admitted_at": "'"$(TZ=Asia/Shanghai date -Iseconds -d '-1 hour')"'"}' \\
  | sed 's/.*"id": *"\\([^"]*\\)".*/\\1/')
"""


def test_the_demo_walk_through_works_as_written_from_start_to_a_priced_stay(
    tmp_path: Path,
) -> None:
    """`ADAPTER_DEMO_TOKEN=demo make run &` and the curl lines right after it printed nothing:
    the demo takes seconds to migrate and seed, and curl asked before it listened. And a stay
    admitted at the desk had no fee lines — the README never said how they come (the HIS sends
    them) — so the billing desk priced nothing and refused to settle (该就诊没有费用明细). The
    walk-through now waits for the demo and sends the fee lines as the HIS would."""
    if shutil.which("curl") is None:
        pytest.fail("curl is missing: `make test` installs it (make system-deps)")
    http, simulator, mllp = free_port(), free_port(), free_port()
    demo = (
        f"{sys.executable} -m adapter.cli demo --data-dir {tmp_path / 'demo'}"
        f" --simulator-port {simulator}"
    )
    fees = re.sub(r"^ENC=.*\n", "", _block("fees"), flags=re.MULTILINE)
    script = _block("demo").replace("make run", demo) + _ADMIT + fees
    script = script.replace("127.0.0.1:8000", f"127.0.0.1:{http}")
    script = "set -e\ntrap 'kill %1; wait %1 || true' EXIT\n" + script
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADAPTER_")}
    env |= {"ADAPTER_HTTP__PORT": str(http), "ADAPTER_HL7__PORT": str(mllp)}
    result = subprocess.run(
        ["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=180, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()  # the demo's banner is among them, as in a terminal

    def answer(opening: str) -> dict[str, Any]:
        return dict(json.loads(next(line for line in lines if line.startswith(opening))))

    assert answer('{"status"')["status"] == "ok"  # healthz
    assert answer('{"by_status"')["by_status"]["dead"] == 0  # the queue summary
    assert any(line.startswith("upload_queue_jobs{") for line in lines)  # metrics
    recorded = answer('{"encounter_id"')  # the fee lines
    assert recorded["added"] == ["L1", "L2"], recorded
    totals = recorded["fees"]["totals"]
    assert (totals["total"], totals["fund_pay"], totals["personal_pay"]) == (
        "96.50",
        "86.50",
        "10.00",
    )
