"""The monthly commands of ``wi-adapter``, run in-process against the configured database
and the simulator: reconcile, deductions, catalogue import (refusal names rows and columns)
and sync, device-funds confirm (queued for the running adapter's queue)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from adapter.cli import main
from connectors.upstream.simulator import SimulatorServer
from tests.integration.monthly.world import BED
from upload_queue.tables import upload_job


@pytest.fixture
def configured(
    db: Engine, db_url: str, sim: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> Engine:
    monkeypatch.setenv("ADAPTER_DATABASE__URL", db_url)
    monkeypatch.setenv("ADAPTER_UPSTREAM__BASE_URL", sim.url)
    return db


def test_reconcile_prints_the_differences_and_json_and_exits_1_when_it_finds_any(
    configured: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    # the simulator's demo figures for December 2025 hold three settlements made elsewhere
    assert main(["reconcile", "2025-12"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("2025-12 对账：发现3处差异，总额不一致")
    assert out.count("[本地无此结算]") == 3 and "S20261001" in out
    assert main(["reconcile", "2025-12", "--json"]) == 1
    body = json.loads(capsys.readouterr().out)
    assert [d["kind"] for d in body["result"]["differences"]] == ["missing_here"] * 3
    assert body["result"]["upstream"]["amounts"]["total"] == "58470.40"
    assert main(["reconcile", "2025-13"]) == 1
    assert "YYYY-MM" in capsys.readouterr().err
    assert main(["reconcile", "2025-11"]) == 0  # nothing on either side: balanced
    assert "对账" in capsys.readouterr().out


def test_deductions_are_fetched_and_shown(
    configured: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["deductions", "2025-12"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("2025-12 审核扣款：2笔，合计206.40元")
    assert "超药品说明书适应症用药，不予支付（N§37）" in out and "（本地无此结算）" in out
    assert main(["deductions", "2025-12", "--no-fetch", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["total"] == "206.40"


def test_catalogue_import_refuses_a_bad_file_naming_rows_and_columns(
    configured: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("code,name,valid_from\nA1,,2026-01-01\nA2,名称,2026-02-30\n", "utf-8")
    args = ["catalogue", "import", "--kind", "drug", "--region", "110100", "--version", "9"]
    assert main([*args, str(bad)]) == 1
    err = capsys.readouterr().err
    assert "第2行“name”列：不能为空" in err and "第3行“valid_from”列" in err
    good = tmp_path / "good.csv"
    good.write_text(f"code,name,valid_from\n{BED}X,床位费,2026-01-01\n", "utf-8")
    assert main([*args, str(good)]) == 0
    assert "版本9：1项" in capsys.readouterr().out
    assert main(["catalogue", "sync"]) == 0
    assert "service_standard  110100" in capsys.readouterr().out
    assert main(["catalogue", "unmapped"]) == 0
    assert "所有费用明细项目均有有效目录对照" in capsys.readouterr().out


def test_device_funds_confirm_queues_wi3301(
    configured: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["device-funds", "confirm", "2026-10", "1800.00", "--note", "到账"]) == 0
    assert "WI3301" in capsys.readouterr().out
    with configured.connect() as connection:
        [job] = connection.execute(select(upload_job).where(upload_job.c.kind == "WI3301")).all()
    assert job.status == "pending" and job.payload["input"]["amount"] == "1800.00"
    assert main(["device-funds", "confirm", "2026-10", "1700.00"]) == 1
    assert "DEVICE_FUNDS_ALREADY_CONFIRMED" in capsys.readouterr().err
    assert main(["device-funds", "status"]) == 0
    assert "2026-10" in capsys.readouterr().out


def test_catalogue_import_draws_progress_on_stderr_with_progress_only(
    configured: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    big = tmp_path / "big.csv"
    big.write_text(
        "code,name,valid_from\n" + "".join(f"P{n:06d},项目{n},2026-01-01\n" for n in range(6000)),
        "utf-8",
    )
    args = ["catalogue", "import", "--kind", "drug", "--region", "110100", "--version", "8"]
    assert main([*args, str(big)]) == 0
    quiet = capsys.readouterr()
    assert "版本8：6000项" in quiet.out  # stderr is no terminal here: no bar, only the event
    assert [line.split()[3] for line in quiet.err.splitlines()] == ["catalogue.imported"]
    assert main([*args, "--progress", str(big)]) == 0
    shown = capsys.readouterr()
    assert "版本8：6000项" in shown.out and "%" not in shown.out  # stdout: the answer only
    *lines, event = shown.err.splitlines()  # the bar, then the line IT's log keeps
    assert event.split()[3] == "catalogue.imported"
    assert lines[-1].startswith("写入 load") and "100% 6000/6000" in lines[-1]
    assert any(line.startswith("检查 check") and "6000/6000" in line for line in lines)


def test_device_funds_status_with_no_month_to_confirm_says_so(
    configured: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    """On a site with no device settlement yet it printed nothing at all: IT could not tell
    an empty answer from a command that did nothing."""
    assert main(["device-funds", "status"]) == 0
    assert capsys.readouterr().out.strip() == "暂无辅助器具结算月份，无需确认资金到账"
    assert main(["device-funds", "status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
