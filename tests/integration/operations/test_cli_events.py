"""What an operator's command changed is logged as the service logs: one line with time,
level and fields, to stderr and the ``[logging]`` file, personal data masked. ``backup`` and
``restore`` wrote no line at all, and the commands logged only warnings, only to stderr: the
log file IT keeps said nothing of a restore that replaced the database.

Backup files are named by the UTC time with a ``Z`` (``adapter-20261205T135501Z.db``): named
by the local clock they were ambiguous across zones and at the change back from summer time,
and did not say whose clock it was."""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import adapter.bootstrap
from adapter.cli import main
from adapter.store.db import make_engine
from connectors.hl7 import build_inbound
from connectors.upstream.simulator import start_simulator
from tests.integration.hl7.conftest import PROFILE
from tests.integration.hl7.fakes import FakeEncounters
from tests.integration.monthly.world import SIM_TODAY
from tests.unit.hl7 import messages as m


@pytest.fixture
def log_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A database the commands may create, and the service's log file, as JSON lines."""
    monkeypatch.setenv("ADAPTER_DATABASE__URL", f"sqlite:///{tmp_path}/adapter.db")
    monkeypatch.setenv("ADAPTER_LOGGING__FILE", str(tmp_path / "logs" / "adapter.log"))
    monkeypatch.setenv("ADAPTER_LOGGING__FORMAT", "json")
    monkeypatch.setenv("ADAPTER_LOGGING__LEVEL", "INFO")
    return tmp_path / "logs" / "adapter.log"


def events(log_file: Path) -> dict[str, dict[str, Any]]:
    lines = [json.loads(line) for line in log_file.read_text("utf-8").splitlines()]
    return {line["event"]: line for line in lines if line["logger"] == "adapter.cli"}


@pytest.fixture
def shanghai_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's local zone is +08:00, as on the hospital's servers."""
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_backup_and_restore_are_logged_with_time_level_and_what_they_did(
    log_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["migrate"]) == 0
    copy = tmp_path / "before-upgrade.db"
    assert main(["backup", str(copy)]) == 0
    assert main(["restore", str(copy)]) == 0

    logged = events(log_file)
    database = str(tmp_path / "adapter.db")
    backup = logged["database.backed_up"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+08:00", backup["time"])
    assert backup["level"] == "INFO"
    assert (backup["database"], backup["file"]) == (database, str(copy))
    assert backup["bytes"] == copy.stat().st_size and backup["actor"].startswith("cli")
    restored = logged["database.restored"]
    assert (restored["database"], restored["file"]) == (database, str(copy))
    assert logged["database.migrated"]["after"]
    # on the terminal too, one line each, without the libraries' chatter (alembic's INFO)
    said = capsys.readouterr().err.splitlines()
    assert [line.split()[3] for line in said] == [
        "database.migrated",
        "database.backed_up",
        "database.restored",
    ]
    assert said[2].split()[1:3] == ["INFO", "adapter.cli"] and f"file={copy}" in said[2]


def test_account_changes_are_logged_without_secrets_and_with_personal_data_masked(
    log_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["migrate"]) == 0
    # a workstation named after the clerk's citizen ID: the log keeps only its ends
    assert main(["token", "create", "--name", "住院处-110101199003078515", "--role", "it"]) == 0
    token = capsys.readouterr().out.strip()
    assert main(["token", "revoke", "1"]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery\n"))
    create = ["user", "create", "--name", "入院处-01", "--role", "admission"]
    assert main([*create, "--password-stdin"]) == 0
    assert main(["user", "disable", "入院处-01"]) == 0

    text = log_file.read_text("utf-8")
    assert token not in text and "correct horse" not in text
    assert "110101199003078515" not in text
    logged = events(log_file)
    assert logged["token.created"]["token_name"] == "住院处-110101********8515"
    assert logged["token.created"]["roles"] == ["it"]
    assert logged["token.revoked"]["token_id"] == 1
    assert logged["user.created"]["user"] == "入院处-01"
    assert logged["user.disabled"]["user"] == "入院处-01"


def test_a_backup_into_a_folder_is_named_by_the_utc_time_with_a_z(
    log_file: Path, tmp_path: Path, shanghai_clock: None
) -> None:
    assert main(["migrate"]) == 0
    before = datetime.now(UTC).replace(microsecond=0)
    assert main(["backup", str(tmp_path / "backups")]) == 0
    after = datetime.now(UTC)
    (copy,) = (tmp_path / "backups").glob("adapter-*.db")
    stamp = re.fullmatch(r"adapter-(\d{8}T\d{6}\.\d{3}Z)\.db", copy.name)
    assert stamp, copy.name
    taken = datetime.strptime(stamp.group(1), "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=UTC)
    assert before <= taken <= after  # UTC, not the +08:00 clock: that is 8 hours ahead


def test_a_log_file_the_command_may_not_write_leaves_the_terminal_and_a_warning(
    log_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # IT's own account may not write the service's log folder; the command still runs
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("", "utf-8")
    monkeypatch.setenv("ADAPTER_LOGGING__FILE", str(blocked / "adapter.log"))
    assert main(["migrate"]) == 0
    said = capsys.readouterr().err.splitlines()
    assert said[0].split()[1:4] == ["WARNING", "adapter.cli", "log_file_unwritable"]
    assert said[1].split()[3] == "database.migrated"


def test_the_monthly_commands_log_what_they_changed(
    log_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # reconcile, deductions, catalogue sync and import, device funds: IT's log said nothing
    # of a month reconciled with differences or of a catalogue version loaded by hand
    with start_simulator(today=SIM_TODAY, random_seed=7) as simulator:
        monkeypatch.setenv("ADAPTER_UPSTREAM__BASE_URL", simulator.url)
        assert main(["migrate"]) == 0
        assert main(["reconcile", "2025-12"]) == 1  # three settlements made elsewhere
        assert main(["deductions", "2025-12"]) == 0
        assert main(["deductions", "2025-12", "--no-fetch"]) == 0
        assert main(["catalogue", "sync"]) == 0
        good = tmp_path / "drugs.csv"
        good.write_text("code,name,valid_from\nX1,床位费,2026-01-01\n", "utf-8")
        load = ["catalogue", "import", "--kind", "drug", "--region", "110100"]
        assert main([*load, "--version", "9", str(good)]) == 0
        assert main(["device-funds", "confirm", "2026-10", "1800.00"]) == 0

    logged = events(log_file)
    reconciled = logged["reconciliation.run"]
    assert (reconciled["month"], reconciled["differences"], reconciled["balanced"]) == (
        "2025-12",
        3,
        False,
    )
    assert reconciled["run_id"] == 1 and reconciled["actor"].startswith("cli")
    fetched = logged["deductions.fetched"]
    assert (fetched["month"], fetched["settlements"], fetched["total"]) == ("2025-12", 2, "206.40")
    assert [line["event"] for line in _lines(log_file)].count("deductions.fetched") == 1
    assert logged["catalogue.synced"]["items"] > 0
    assert any(
        v.startswith("service_standard 110100") for v in logged["catalogue.synced"]["versions"]
    )
    imported = logged["catalogue.imported"]
    assert (imported["kind"], imported["region"], imported["version"], imported["items"]) == (
        "drug",
        "110100",
        "9",
        1,
    )
    assert imported["file"] == str(good)
    funds = logged["device_funds.confirmed"]
    assert (funds["month"], funds["amount"]) == ("2026-10", "1800.00") and funds["msgid"]


def test_a_reprocessed_hl7_message_is_logged_with_its_id_and_outcome(
    log_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["migrate"]) == 0
    engine = make_engine(f"sqlite:///{tmp_path}/adapter.db")
    fake = FakeEncounters()
    inbound = build_inbound(engine, fake, PROFILE)
    inbound.handle(m.admit("CLI-1", visit="VC").encode(), "10.0.0.5")
    inbound.handle(m.dft("CLI-2", [m.ft1("L1")], visit="NOPE").encode(), "10.0.0.5")
    engine.dispose()
    fake.encounters["NOPE"] = fake.encounters.pop("VC")  # the fix the operator made
    monkeypatch.setattr(
        adapter.bootstrap, "encounter_commands", lambda settings, engine: fake, raising=False
    )
    assert main(["hl7", "reprocess", "2"]) == 0

    again = events(log_file)["hl7.reprocessed"]
    assert (again["message_id"], again["control_id"], again["message_type"]) == (
        2,
        "CLI-2",
        "DFT^P03",
    )
    assert (again["outcome"], again["ack_code"], again["attempts"]) == ("accepted", "AA", 2)


def _lines(log_file: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log_file.read_text("utf-8").splitlines()]
