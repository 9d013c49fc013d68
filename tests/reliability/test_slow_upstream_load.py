"""16 clerks at once while upstream takes 400 ms per transaction (issue 14, item 2).

Before the fix, settle held a pooled connection across its four upstream reads and each
read's call-log row needed a second one: 5–10 % of stays failed with 500 ("QueuePool limit of
size 5 overflow 10 reached"), requests hung for up to a minute, call-log rows were lost and
settles were committed after their clerk had given up. Now no connection is held while
waiting on upstream, a busy pool is a 503 within the request's budget, and the call log
keeps every row. The adapter here runs with that same stock pool (5 + 10).

``ADAPTER_TEST_SLOW_LOAD_SECONDS`` sets the run's length (default 60 s per database);
``python -m scripts.soak.load --slow-upstream --minutes 30`` runs it for longer.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.reliability import pool_load

SECONDS = float(os.environ.get("ADAPTER_TEST_SLOW_LOAD_SECONDS", "60"))


def test_sixteen_clerks_at_400ms_upstream_get_no_500_and_lose_no_call_log_row(
    db_url: str, tmp_path: Path
) -> None:
    report = pool_load.run(db_url, tmp_path, seconds=SECONDS, clients=16, latency_ms=400)
    summary = "\n".join(report.lines())
    print(summary)
    assert report.stays > 0, summary
    assert not [s for s in report.statuses if " 500" in s], summary
    assert report.problems == [], summary + "\n" + "\n".join(report.problems[:10])
    assert report.settled_after_giving_up == [], summary
    assert report.call_log_rows == report.calls_received, summary
