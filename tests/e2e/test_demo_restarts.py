"""`make run` again and again on the same data folder, with and without ADAPTER_DEMO_TOKEN;
the demo's first reconciliation shows a coherent month with one deliberate difference."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from adapter.domain.months import previous_month
from tests.e2e.test_demo import ROOT
from tests.support.ports import free_port

TOKEN = "e2e-demo-restart-token"


@contextmanager
def demo(data: Path, token: str | None, today: date) -> Iterator[tuple[str, str]]:
    """One `wi-adapter demo` on ``data`` until it answers /readyz; stopped with Ctrl-C.

    ``today`` is the demo's (``--today``): its seeded month is the one before, whatever day
    this start happens on."""
    http_port, sim_port, mllp_port = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADAPTER_")}
    env |= {"ADAPTER_HTTP__PORT": str(http_port), "ADAPTER_HL7__PORT": str(mllp_port)}
    if token:
        env["ADAPTER_DEMO_TOKEN"] = token
    output = data.parent / f"{data.name}-{time.monotonic_ns()}.log"
    command = [sys.executable, "-m", "adapter.cli", "demo", "--data-dir", str(data)]
    command += ["--simulator-port", str(sim_port), "--today", today.isoformat()]
    with output.open("w+") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
        base = f"http://127.0.0.1:{http_port}"
        deadline = time.monotonic() + 90
        try:
            while True:
                try:
                    if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    pytest.fail(f"demo did not come up:\n{log.read()}")
                time.sleep(0.2)
            log.seek(0)
            yield base, log.read()
        finally:
            process.send_signal(signal.SIGINT)
            try:
                # uvicorn shuts down gracefully, then re-raises the SIGINT it caught
                assert process.wait(timeout=30) in (0, -signal.SIGINT)
            except subprocess.TimeoutExpired:
                process.kill()
                raise


def test_the_demo_starts_again_and_again_on_the_same_data_with_or_without_a_token(
    tmp_path: Path,
) -> None:
    data = tmp_path / "demo"
    # One day for every start: each start seeds the month before its today, and four starts
    # may cross midnight (or a month's end) in Shanghai.
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    month = previous_month(today)
    for token in (TOKEN, TOKEN, None, TOKEN):
        with demo(data, token, today) as (base, output):
            auth = {"Authorization": f"Bearer {TOKEN}"}
            summary = httpx.get(f"{base}/api/v1/queue/summary", headers=auth, timeout=10)
            assert summary.status_code == (200 if token else 401), summary.text
            assert f"{month} 对账" in output
            if token:
                run = httpx.post(
                    f"{base}/api/v1/reconciliation/{month}/run", headers=auth, timeout=30
                )
                assert run.status_code == 200, run.text
                body = run.json()
                # the seeded month: two settlements here match upstream's, to the fen; the
                # device settlement is upstream only, the one deliberate difference
                (difference,) = body["differences"]
                assert difference["kind"] == "missing_here"
                assert difference["setl_id"] == "S20261003"
                matched = {s["setl_id"] for s in body["settlements"]}
                assert matched == {"S20261001", "S20261002"}
                local, upstream = body["local"], body["upstream"]
                gap = Decimal(upstream["total"]) - Decimal(local["total"])
                assert gap == Decimal("30500.00")
    assert len(list(data.glob("adapter.db"))) == 1
