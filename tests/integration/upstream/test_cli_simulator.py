"""``wi-adapter simulator --port P`` runs the simulator alone; a raw HTTP client (as curl) works."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[3]
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def standalone() -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "adapter.cli", "simulator", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"{url}/_sim/received", timeout=0.5)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    output = process.stdout.read().decode() if process.stdout else ""
                    pytest.fail(f"the simulator did not start: {output}")
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.communicate(timeout=10)


def envelope(infno: str, sign_no: str, payload: dict) -> dict:
    now = datetime.now(SHANGHAI)  # the institution's local time, as the client sends it
    return {"infno": infno, "msgid": f"H11010000001{now:%Y%m%d%H%M%S}0001",
            "mdtrtarea_admvs": "110100", "insuplc_admdvs": "", "recer_sys_code": "CURL",
            "infver": "V1.0", "opter_type": "1", "opter": "001", "opter_name": "演示",
            "inf_time": f"{now:%Y-%m-%d %H:%M:%S}", "fixmedins_code": "H11010000001",
            "fixmedins_name": "示例工伤协议医院", "sign_no": sign_no, "input": payload}  # fmt: skip


def test_a_seeded_workers_filings_over_plain_http(standalone: str) -> None:
    signed = httpx.post(f"{standalone}/WI9001", json=envelope("WI9001", "", {"opter_no": "001"}))
    sign_no = signed.json()["output"]["signinoutb"]["sign_no"]
    reply = httpx.post(f"{standalone}/WI1201", json=envelope("WI1201", sign_no, {"psn_no": "P001"}))
    body = reply.json()
    assert body["infcode"] == 0
    assert [f["filing_no"] for f in body["output"]["filings"]] == ["F001"]
    assert body["output"]["filings"][0]["psn_name"] == "王建国"
    refused = httpx.post(
        f"{standalone}/WI1201", json=envelope("WI1201", "NOPE", {"psn_no": "P001"})
    )
    assert refused.json()["infcode"] == -1 and "签到" in refused.json()["err_msg"]
