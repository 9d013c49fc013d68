"""kill -9 of ``wi-adapter serve`` while the scheduled monthly reconciliation (N§35, B§33) runs.

The adapter starts with last month's reconciliation slot missed (the 3rd, 06:00), so its
start-up catch-up runs it; upstream (``WI3201``) is slow, and the adapter is killed while the
run is recorded ``running``. After the restart:

* the killed attempt is not left ``running`` (IT would read it as still going): it is
  ``abandoned``;
* the month is reconciled by a new attempt, and reconciling it again by hand gives the same
  figures.

On PostgreSQL the run holds an advisory lock on a connection of its own (one instance runs a
job). After a power cut of the adapter's host the database server keeps that dead session —
and its lock — until TCP keepalive reaps it; the test holds the lock itself to stand for it.
The restarted adapter's catch-up then finds the job locked and skips it: the month must still
be reconciled once the lock is gone, not left waiting for next month's slot.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from adapter.domain.months import previous_month
from adapter.scheduling.scheduler import latest_slot, lock_key
from tests.reliability.holding_proxy import HoldingProxy
from tests.reliability.support import (
    SHANGHAI,
    AdapterProcess,
    Desk,
    audit_verify,
    prepare,
    simulator_process,
)
from tests.support.polling import eventually

MONTH_JOBS_OFF = {
    f"ADAPTER_SCHEDULE__{job}": ""
    for job in (
        "RECONCILIATION_AFTER_CUTOFF",
        "DEDUCTIONS",
        "CATALOGUE_SYNC",
        "DEVICE_FUNDS_REMINDER",
        "HOUSEKEEPING",
    )
}
RECONCILE = {
    **MONTH_JOBS_OFF,
    "ADAPTER_SCHEDULE__RECONCILIATION": "0 6 3 * *",
    "ADAPTER_SCHEDULE__RETRY_MINUTES": "0.05",  # 3 s
    "ADAPTER_UPSTREAM__READ_TIMEOUT_S": "60",  # upstream's held reply outlasts the kill
}


def _runs(engine: Engine) -> list[tuple[int, str]]:
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT attempt, outcome FROM schedule_run WHERE job = 'reconciliation' "
                "ORDER BY attempt"
            )
        )
        return [(row.attempt, row.outcome) for row in rows]


@pytest.mark.slow
def test_kill_9_during_the_scheduled_reconciliation_then_it_runs_again_and_is_not_left_running(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    postgres = engine.dialect.name == "postgresql"
    slot = latest_slot("0 6 3 * *", SHANGHAI, datetime.now(UTC), timedelta(days=31))
    assert slot is not None
    month = previous_month(slot.astimezone(SHANGHAI).date())
    with simulator_process(tmp_path) as simulator:
        token = prepare(db_url, simulator.url)
        proxy = HoldingProxy(simulator.url, hold={"WI3201"})  # the month's figures, held
        with proxy.running():
            adapter = AdapterProcess(db_url, proxy.url, tmp_path, env=RECONCILE)
            adapter.start()
            try:
                eventually(lambda: proxy.held, 30, "upstream's figures held back")
                assert _runs(engine) == [(1, "running")]
            finally:
                adapter.kill9()

        dead_session = engine.connect() if postgres else None
        try:
            if dead_session is not None:
                # the power-cut host's session, still holding the job's lock on the server
                dead_session.execute(
                    text("SELECT pg_advisory_lock(:key)"), {"key": lock_key("reconciliation")}
                )
            adapter.upstream_url = simulator.url
            adapter.start()
            child = adapter.child
            assert child is not None
            if dead_session is not None:
                eventually(lambda: "skipped_locked" in child.output(), 30, "the catch-up skipped")
                dead_session.invalidate()  # TCP keepalive reaps it: its server session ends
            eventually(lambda: (2, "ok") in _runs(engine), 30, "the month reconciled again")
            assert _runs(engine) == [(1, "abandoned"), (2, "ok")]
            desk = Desk(adapter.base, token)
            kept = desk.call("GET", f"/api/v1/reconciliation/{month}")
            assert kept.status_code == 200, kept.text
            again = desk.call("POST", f"/api/v1/reconciliation/{month}/run")
            assert again.status_code == 200, again.text
            for figure in ("balanced", "totals_match", "local", "upstream", "differences"):
                assert again.json()[figure] == kept.json()[figure], figure
        finally:
            if dead_session is not None:
                dead_session.invalidate()
                dead_session.close()
            adapter.stop()
        verified = audit_verify(db_url, tmp_path)
        assert verified.returncode == 0, verified.stdout + verified.stderr
