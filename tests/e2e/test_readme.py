"""The README's curl walk-through works as written (issue 3: "as the README shows")."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

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
