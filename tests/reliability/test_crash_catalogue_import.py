"""kill -9 of ``wi-adapter monthly catalogue import`` half-way through writing a catalogue.

IT loads a 60,000-item drug catalogue from a CSV file (N§32); the command is killed once it
reports the first 5,000 items written. Nothing of that version is left — no item a fee could
be priced against, no update noted as done — so a stay's fee is still priced by the catalogue
in force before. Running the import again loads the whole version once, and the audit chain
verifies.
"""

from __future__ import annotations

import subprocess
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from tests.reliability.support import (
    AdapterProcess,
    Desk,
    audit_verify,
    cli,
    prepare,
    simulator_process,
)
from tests.support.polling import eventually

ITEMS = 60_000
VERSION = "CRASH.1"


def _csv(folder: Path) -> Path:
    """The file: the drug the desk bills (XN02BEB001) with a fund cap of 1.00 a unit, and
    59,999 other drugs."""
    rows = ["code,name,unit,price_cap,valid_from"]
    rows.append(f"XN02BEB001,布洛芬缓释胶囊,粒,1.00,{date(2000, 1, 1)}")
    rows += [f"XC{n:07d},试验药品{n},盒,9.99,2000-01-01" for n in range(1, ITEMS)]
    path = folder / "drugs.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _import(db_url: str, folder: Path, path: Path, log: Path) -> subprocess.Popen[bytes]:
    args = ["catalogue", "import", "--kind", "drug", "--region", "110100"]
    args += ["--version", VERSION, "--progress", str(path)]
    return cli(db_url, folder, args, log)


def _version_rows(engine: Engine) -> tuple[int, int]:
    with engine.connect() as connection:
        items = connection.execute(
            text("SELECT count(*) FROM catalogue_item WHERE version = :v"), {"v": VERSION}
        ).scalar_one()
        updates = connection.execute(
            text("SELECT count(*) FROM catalogue_update WHERE version = :v"), {"v": VERSION}
        ).scalar_one()
    return int(items), int(updates)


@pytest.mark.slow
def test_kill_9_half_way_through_a_catalogue_import_leaves_nothing_of_that_version(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    with simulator_process(tmp_path) as simulator:
        token = prepare(db_url, simulator.url)
        path = _csv(tmp_path)
        log = tmp_path / "import-1.log"
        child = _import(db_url, tmp_path, path, log)
        try:
            eventually(lambda: "写入 load" in log.read_text(errors="replace"), 60, "items written")
            assert child.poll() is None, log.read_text()  # still writing: killed half-way
        finally:
            child.kill()  # SIGKILL
            child.wait(timeout=30)
        shown = log.read_text(errors="replace")
        assert f"{ITEMS}/{ITEMS}" not in shown.split("写入 load", 1)[-1], shown  # half-way
        assert _version_rows(engine) == (0, 0)  # nothing of it priced against, nor noted

        adapter = AdapterProcess(db_url, simulator.url, tmp_path)
        adapter.start()
        try:
            desk = Desk(adapter.base, token, sim_url=simulator.url)
            settled = desk.stay("HV-CAT-1")  # 2 × 18.50 of XN02BEB001, under the old cap
            assert Decimal(settled["personal_pay"]) == Decimal("0.00"), settled
        finally:
            adapter.stop()

        again = _import(db_url, tmp_path, path, tmp_path / "import-2.log")
        assert again.wait(timeout=300) == 0, (tmp_path / "import-2.log").read_text()
        assert _version_rows(engine) == (ITEMS, 1)
    verified = audit_verify(db_url, tmp_path)
    assert verified.returncode == 0, verified.stdout + verified.stderr
