"""The soak scripts (scripts/soak/) keep working as the code changes: each runs for a very
short while here, as a subprocess the way IT runs it, and must exit 0 with its summary; and
a broken state — a lost or duplicated upload, a missing settlement, a broken audit chain —
must be reported by name with a non-zero exit."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from adapter.store.audit import Verification
from scripts.soak import checks, crash
from scripts.soak.checks import Snapshot, StoredJob, StoredSettlement, violations
from tests.conftest import pg_admin_url, require_pg

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str, timeout: float = 150) -> str:
    done = subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


@pytest.mark.slow
def test_the_crash_soak_runs_a_round_on_sqlite_and_prints_its_summary() -> None:
    out = _run("scripts.soak.crash", "--rounds", "1", "--seed", "7")
    assert re.search(r"round +1: killed while (settling|draining) .* OK$", out, re.M), out
    assert "SUMMARY crash soak OK: 1 rounds" in out


@pytest.mark.slow
@pytest.mark.pg
def test_the_crash_soak_runs_a_round_on_postgresql_and_drops_its_database() -> None:
    require_pg()
    out = _run(
        "scripts.soak.crash",
        "--rounds",
        "1",
        "--database",
        "postgresql",
        "--pg-url",
        pg_admin_url(),
    )
    assert "SUMMARY crash soak OK: 1 rounds" in out, out
    from sqlalchemy import create_engine, text

    admin = create_engine(pg_admin_url())
    try:
        with admin.connect() as connection:
            left = connection.execute(
                text("SELECT datname FROM pg_database WHERE datname LIKE 'wi_soak_%'")
            ).all()
    finally:
        admin.dispose()
    assert left == []  # (another soak running on this server at the same time would show here)


@pytest.mark.slow
def test_the_load_soak_runs_briefly_under_faults_and_prints_its_table_and_summary() -> None:
    out = _run(
        "scripts.soak.load",
        "--seconds",
        "15",
        "--cycle-seconds",
        "12",
        "--interval",
        "5",
        "--warmup",
        "5",
    )
    assert "elapsed  phase     RSS MB   fds   DB MB  queue  dead  at-risk" in out, out
    assert re.search(r"^ +0:00:\d\d +drained ", out, re.M), out
    assert "SUMMARY load soak OK" in out, out
    assert re.search(r"\d+ settlements \((\d+) over REST, (\d+) over HL7\)", out), out


# -- the checker, given broken states -----------------------------------------------------------


def _write(msgid: str, infno: str, **input_: str) -> dict[str, Any]:
    return {
        "infno": infno,
        "msgid": msgid,
        "input": input_,
        "reply": {"infcode": 0},
        "took_effect": True,
        "times_received": 1,
    }


def _healthy() -> Snapshot:
    """Two stays settled: an admission (WI2401) and a discharge record (WI2301) each."""
    settlements = [StoredSettlement(f"S{n}", f"E{n}", "settled", Decimal("37.00")) for n in (1, 2)]
    jobs, writes = [], []
    for n in (1, 2):
        jobs += [
            StoredJob(2 * n, "WI2401", "delivered", f"M{n}A"),
            StoredJob(2 * n + 1, "WI2301", "delivered", f"M{n}D"),
        ]
        writes += [
            _write(f"M{n}A", "WI2401", mdtrt_id=f"E{n}"),
            _write(f"M{n}D", "WI2301", mdtrt_id=f"E{n}", setl_id=f"S{n}"),
        ]
    acked = {"S1": Decimal("37.00"), "S2": Decimal("37.00")}
    return Snapshot(acked, settlements, jobs, writes, Verification(True, 12))


def test_a_healthy_snapshot_has_no_violation() -> None:
    assert violations(_healthy()) == []


def test_a_missing_settlement_is_named() -> None:
    broken = _healthy()
    broken.acked["S9"] = Decimal("10.00")
    assert violations(broken) == ["LOST settlement: 1 acknowledged (201) but not stored: S9"]


def test_a_changed_or_doubled_settlement_is_named() -> None:
    broken = _healthy()
    broken.settlements[0] = replace(broken.settlements[0], total=Decimal("1.00"))
    broken.settlements.append(StoredSettlement("S3", "E2", "settled", Decimal("37.00")))
    found = violations(broken)
    assert found[0] == "CHANGED settlement: 1: S1 (settled, total 1.00 ≠ 37.00)"
    assert found[1] == "DUPLICATED settlement: 1: encounter E2 ×2"


def test_an_upload_lost_on_the_way_is_named() -> None:
    broken = _healthy()
    broken.writes = [w for w in broken.writes if w["msgid"] != "M2A"]
    assert violations(broken) == ["LOST upload: 1 never reached upstream: WI2401 M2A"]


def test_a_discharge_record_uploaded_twice_under_two_msgids_is_named() -> None:
    broken = _healthy()
    broken.jobs.append(StoredJob(9, "WI2301", "delivered", "M1D-again"))
    broken.writes.append(_write("M1D-again", "WI2301", mdtrt_id="E1", setl_id="S1"))
    assert violations(broken) == [
        "DUPLICATED discharge record (WI2301): 1: settlement S1: M1D, M1D-again"
    ]


def test_a_job_left_dead_and_an_unknown_upstream_write_and_a_broken_chain_are_named() -> None:
    broken = _healthy()
    broken.jobs[0] = replace(broken.jobs[0], status="dead", last_error="参数错误")
    broken.writes.append(_write("M7X", "WI2401", mdtrt_id="E7"))
    broken.audit = Verification(False, 4, 5, "entry 5 was altered")
    assert violations(broken) == [
        "UNDELIVERED upload: 1: job 2 WI2401 dead (参数错误)",
        "UNKNOWN upload: 1 msgids upstream with no job: M7X",
        "AUDIT chain broken at entry 5: entry 5 was altered",
    ]


@pytest.mark.slow
def test_the_crash_soak_stops_with_exit_1_naming_what_was_lost(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The script's own path from a violation to its exit code: one upstream record is
    hidden from the real round's snapshot, as if upstream had never received it."""
    real = checks.read_snapshot

    def losing_one(*args: Any) -> Snapshot:
        snapshot = real(*args)
        snapshot.writes = snapshot.writes[1:]
        return snapshot

    monkeypatch.setattr(crash, "read_snapshot", losing_one)
    assert crash.main(["--rounds", "2", "--seed", "3"]) == 1
    out = capsys.readouterr().out
    kept = re.search(r"work folder kept: (\S+)", out)
    if kept:
        shutil.rmtree(kept.group(1), ignore_errors=True)
    assert re.search(r"round +1: .* VIOLATION$", out, re.M), out
    assert "VIOLATION after round 1" in out
    assert re.search(r"LOST upload: \d+ never reached upstream: WI2", out), out
    assert "SUMMARY" not in out
