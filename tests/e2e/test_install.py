"""The operations guide's install, word for word: the built wheel in a fresh virtual
environment (the tested versions, constraints.txt), `config init`, `migrate` and `serve` from
another folder, and /readyz answers.

Only the guide's fixed paths (/opt/wi-adapter, /etc/wi-adapter), the wheel's and the
constraints' folder and the ports change; the apt-get line is the machine's business (the
font is checked elsewhere).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest

from adapter import __version__
from tests.e2e.test_demo import ROOT
from tests.support.polling import answering
from tests.support.ports import free_port

GUIDE = ROOT / "docs" / "operations.md"
WHEEL = f"wi_adapter-{__version__}-py3-none-any.whl"


def guide_blocks() -> tuple[list[str], str]:
    """The install commands and the check command of "Without Docker"."""
    section = GUIDE.read_text(encoding="utf-8").split("### Without Docker", 1)[1]
    section = section.split("### With Docker", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.DOTALL)
    install, check = blocks[0].strip().splitlines(), blocks[1].strip()
    assert install[0].startswith("apt-get install")
    assert "python3 -m pip wheel --no-deps -w dist ." in section
    return install[1:], check


@pytest.mark.slow
def test_the_guide_installs_the_wheel_outside_the_tree_and_the_adapter_becomes_ready(
    tmp_path: Path,
) -> None:
    commands, check = guide_blocks()
    dist, opt, etc, elsewhere = (tmp_path / n for n in ("dist", "opt", "etc", "elsewhere"))
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ADAPTER_", "VIRTUAL_ENV"))}
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)],
        check=True,
        env=env,
        timeout=300,
    )
    assert (dist / WHEEL).is_file()
    # every file of the product the source tree tracks is in the wheel: a page template, a
    # script or a migration missing from package-data works from the tree and not installed
    tracked = subprocess.run(
        ["git", "ls-files", "adapter", "connectors", "upload_queue"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    with zipfile.ZipFile(dist / WHEEL) as wheel:
        assert sorted(set(tracked) - set(wheel.namelist())) == []
    http_port, mllp_port = free_port(), free_port()
    env |= {"ADAPTER_HTTP__PORT": str(http_port), "ADAPTER_HL7__PORT": str(mllp_port)}

    def argv(line: str) -> list[str]:
        line = line.replace("/opt/wi-adapter", str(opt)).replace("/etc/wi-adapter", str(etc))
        words = shlex.split(line)
        if words[0] == "python3":
            words[0] = sys.executable
        files = {WHEEL: dist / WHEEL, "constraints.txt": ROOT / "constraints.txt"}
        return [str(files[w]) if w in files else w for w in words]

    *steps, serve = commands
    assert serve.endswith("serve --config /etc/wi-adapter/adapter.toml")
    for line in steps:
        done = subprocess.run(
            argv(line), cwd=elsewhere, env=env, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
    assert (etc / "adapter.toml").is_file() and (etc / "hl7_site.toml").is_file()
    assert (etc / "data" / "adapter.db").is_file()  # beside the config, not in the cwd
    assert not list(elsewhere.iterdir())
    version = subprocess.run([str(opt / "bin" / "wi-adapter"), "--version"], capture_output=True,
                             text=True, check=True)  # fmt: skip
    assert version.stdout.strip() == f"wi-adapter {__version__}"

    output = tmp_path / "serve.log"
    with output.open("w+") as log:
        process = subprocess.Popen(argv(serve), cwd=elsewhere, env=env, stdout=log, stderr=log)
        url = shlex.split(check)[-1].replace("8000", str(http_port))
        try:
            ready = answering(process, url, log, timeout=60, what="serve")
            assert ready.json()["status"] == "ready"
            assert ready.json()["checks"]["database"]["ok"] is True
            # the pages from the installed package: templates and their static files
            base = url.rsplit("/", 1)[0]
            page = httpx.get(f"{base}/web/login", timeout=10)
            assert page.status_code == 200 and "登录" in page.text
            for asset in re.findall(r'(?:href|src)="(/web/static/[^"]+)"', page.text):
                assert httpx.get(base + asset, timeout=10).status_code == 200, asset
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    lines = (etc / "logs" / "adapter.log").read_text(encoding="utf-8").splitlines()
    events = [json.loads(line) for line in lines]
    assert any(e["event"] == "adapter.starting" for e in events)
    names = [e["event"] for e in events]  # SIGTERM's end is in the log too, after the start
    assert "adapter.stopped" in names[names.index("adapter.starting") :]
    assert all(e["time"].endswith("+08:00") for e in events)
