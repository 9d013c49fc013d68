"""`make run` again and again on the same data folder, with and without ADAPTER_DEMO_TOKEN;
the demo's first reconciliation shows a coherent month with one deliberate difference."""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

from adapter.domain.months import previous_month
from tests.support.demo import running_demo

TOKEN = "e2e-demo-restart-token"


def demo(data: Path, token: str | None, today: date) -> AbstractContextManager[tuple[str, str]]:
    """One `wi-adapter demo` on ``data`` until it answers /readyz; stopped with Ctrl-C.

    ``today`` is the demo's (``--today``): its seeded month is the one before, whatever day
    this start happens on."""
    output = data.parent / f"{data.name}-{time.monotonic_ns()}.log"
    env = {"ADAPTER_DEMO_TOKEN": token} if token else {}
    return running_demo(data, output, "--today", today.isoformat(), env=env)


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
