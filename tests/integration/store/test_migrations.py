"""Migrations: a fresh database upgrades to head and matches the tables' metadata."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from setuptools import find_packages
from sqlalchemy import Engine, inspect
from sqlmodel import SQLModel

import adapter.store.tables
import adapter.store.tokens
from adapter.domain.device_totals import device_totals
from adapter.domain.settlement import settlement_month
from adapter.store import migrate
from adapter.store.types import Exact, Json, UTCDateTime
from adapter.store.uow import UnitOfWork

ROOT = Path(__file__).resolve().parents[3]


def _store_tables() -> set[str]:
    # The adapter's one MetaData; the queue, the HL7 log and the call log have their own.
    return set(SQLModel.metadata.tables)


def test_fresh_database_upgrades_to_head(engine: Engine) -> None:
    assert migrate.current(engine) is None
    migrate.upgrade(engine)
    assert migrate.current(engine) == migrate.head() is not None
    assert _store_tables() <= set(inspect(engine).get_table_names())
    migrate.upgrade(engine)  # already at head: nothing to do, no error
    assert migrate.current(engine) == migrate.head()


def test_migrated_schema_matches_the_tables(engine: Engine) -> None:
    migrate.upgrade(engine)
    scope = _store_tables()
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, SQLModel.metadata)
    ours = [d for d in differences if _table_of(d) in scope]
    assert ours == []


def _table_of(difference: object) -> str | None:
    entry = difference[0] if isinstance(difference, list) else difference
    for part in entry[1:]:  # type: ignore[index]
        name = getattr(part, "name", None)
        table = getattr(part, "table", None)
        if table is not None:
            return str(table.name)
        if name in _store_tables():
            return str(name)
        if isinstance(part, str) and part in _store_tables():
            return part
    return None


def test_partial_unique_index_exists_on_both_backends(engine: Engine) -> None:
    migrate.upgrade(engine)
    indexes = {ix["name"]: ix for ix in inspect(engine).get_indexes("settlement")}
    active = indexes["uq_settlement_active_encounter"]
    assert active["unique"] and active["column_names"] == ["encounter_id"]


def test_migrations_ship_as_packages() -> None:
    packages = find_packages(str(ROOT), include=["adapter*"])
    assert "adapter.store.migrations" in packages
    assert "adapter.store.migrations.versions" in packages
    folder = Path(adapter.store.tables.__file__).parents[1] / "migrations"
    assert (folder / "env.py").is_file() and (folder / "script.py.mako").is_file()
    assert list((folder / "versions").glob("0001_*.py"))


def test_upgrade_works_from_the_built_package(tmp_path: Path) -> None:
    """Build the package as setuptools ships it, then migrate from there, not from source."""
    lib = tmp_path / "lib"
    build = subprocess.run(
        [
            sys.executable,
            "-c",
            "import setuptools; setuptools.setup()",
            "-q",
            "egg_info",
            "--egg-base",
            str(tmp_path),
            "build_py",
            "--build-lib",
            str(lib),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert build.returncode == 0, build.stderr
    url = f"sqlite:///{tmp_path}/built.db"
    code = (
        "from adapter.store import migrate; print(migrate.__file__); "
        f"migrate.upgrade({url!r}); print(migrate.current({url!r}))"
    )
    env = {**os.environ, "PYTHONPATH": str(lib)}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    where, revision = done.stdout.split()
    assert where.startswith(str(lib))
    assert revision == migrate.head()


def test_cli_migrate_upgrades_the_configured_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/cli.db"
    env = {**os.environ, "ADAPTER_DATABASE__URL": url}
    done = subprocess.run(
        [sys.executable, "-m", "adapter.cli", "migrate"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert migrate.current(url) == migrate.head()
    assert f"-> {migrate.head()}" in done.stdout


def test_0007_dates_existing_settlements_by_their_settlement_time(engine: Engine) -> None:
    """A row saved before 0007 kept the discharge date's month; 0007 recomputes it from
    settled_at in Beijing time (N§35), keeps the discharge date as discharged_on, and indexes
    settled_at. Discharged 23:00 on 31 January, settled 00:20 on 1 February (Beijing), which
    is still 31 January in UTC: February's. One settled well inside January stays January's."""
    migrate.upgrade(engine, "0006")
    encounter = sa.table(
        "encounter",
        *(sa.column(c) for c in ("id", "kind", "psn_no", "filing_no", "institution_code")),
        sa.column("his_visit_id"),
        sa.column("status"),
        sa.column("admitted_at", UTCDateTime()),
        sa.column("diagnoses", Json),
        sa.column("injury_parts", Json),
        sa.column("created_at", UTCDateTime()),
        sa.column("updated_at", UTCDateTime()),
    )
    settlement = sa.table(
        "settlement",
        *(sa.column(c) for c in ("id", "encounter_id", "slip_no", "settles_on", "month")),
        *(sa.column(c, Exact(14, 2)) for c in _MONEY),
        sa.column("settled_at", UTCDateTime()),
        sa.column("notes", Json),
    )
    beijing = timezone(timedelta(hours=8))
    rows = {
        "S-EDGE": (
            datetime(2026, 1, 31, 23, 0, tzinfo=beijing),
            datetime(2026, 2, 1, 0, 20, tzinfo=beijing),
        ),
        "S-JAN": (
            datetime(2026, 1, 20, 10, 0, tzinfo=beijing),
            datetime(2026, 1, 20, 10, 30, tzinfo=beijing),
        ),
    }
    with engine.begin() as connection:
        for sid, (discharged, settled) in rows.items():
            admitted = discharged - timedelta(days=3)
            connection.execute(
                encounter.insert().values(
                    id=f"E-{sid}", kind="medical", psn_no="P001", filing_no="F001",
                    institution_code="H11010000001", his_visit_id=f"V-{sid}", status="settled",
                    admitted_at=admitted, diagnoses=[], injury_parts=[],
                    created_at=admitted, updated_at=settled,
                )
            )  # fmt: skip
            connection.execute(
                settlement.insert().values(
                    id=sid, encounter_id=f"E-{sid}", slip_no=f"SLIP-{sid}",
                    settles_on=discharged.date(), month=f"{discharged:%Y-%m}",
                    settled_at=settled, notes=[], **dict.fromkeys(_MONEY, Decimal("1.00")),
                )
            )  # fmt: skip

    migrate.upgrade(engine)

    with engine.connect() as connection:
        found = {
            row.id: (row.month, row.discharged_on)
            for row in connection.execute(
                sa.text("SELECT id, month, discharged_on FROM settlement ORDER BY id")
            )
        }
    assert {sid: (month, str(day)) for sid, (month, day) in found.items()} == {
        "S-EDGE": ("2026-02", "2026-01-31"),
        "S-JAN": ("2026-01", "2026-01-20"),
    }
    assert "ix_settlement_settled_at" in {
        ix["name"] for ix in inspect(engine).get_indexes("settlement")
    }
    with UnitOfWork(engine) as uow:
        assert [s.id for s in uow.settlements.list_by_month("2026-02")] == ["S-EDGE"]
        [edge] = uow.settlements.summaries_by_month("2026-02")
    assert edge.discharged_on == date(2026, 1, 31)
    assert edge.month == settlement_month(edge.settled_at, ZoneInfo("Asia/Shanghai"))


_MONEY = (
    "total",
    "fund_pay",
    "personal_pay",
    "out_of_catalogue",
    "over_limit",
    "non_work_injury",
    "excluded_total",
)


_AMOUNTS = ("total", "fund_pay", "personal_pay")


def test_0013_moves_a_kept_runs_lines_from_json_into_rows_in_order(engine: Engine) -> None:
    """A run kept before 0013 had its lines as one JSON value; 0013 makes them rows of
    reconciliation_line, in their order, and the run reads back with the same lines."""
    migrate.upgrade(engine, "0012")
    lines = [
        {
            "setl_id": f"S{n}",
            "slip_no": f"SLIP{n}",
            "psn_no": "P001",
            "kind": "device" if n == 2 else "medical",
            "settles_on": f"2026-01-{10 - n:02d}",
            "total": f"{100 + n}.50",
            "fund_pay": f"{80 + n}.40",
            "personal_pay": "20.10",
            "status": "revoked" if n == 1 else "settled",
            "crosses_year": n == 0,
            "upload_msgid": "" if n == 2 else f"M{n}",
            "upload_delivered": [True, False, None][n],
        }
        for n in range(3)
    ]
    run = sa.table(
        "reconciliation_run",
        *(sa.column(c) for c in ("month", "actor", "outcome", "message", "totals_match")),
        *(sa.column(f"{side}_count") for side in ("local", "upstream")),
        *(
            sa.column(f"{side}_{name}", Exact(14, 2))
            for side in ("local", "upstream")
            for name in _AMOUNTS
        ),
        sa.column("difference_count"),
        sa.column("started_at", UTCDateTime()),
        sa.column("finished_at", UTCDateTime()),
        sa.column("lines", Json),
    )
    when = datetime(2026, 2, 3, 6, 0, tzinfo=UTC)
    with engine.begin() as connection:
        connection.execute(
            run.insert().values(
                month="2026-01", actor="clerk01", outcome="balanced", message="",
                totals_match=True, local_count=0, upstream_count=0, difference_count=0,
                started_at=when, finished_at=when, lines=lines,
                **{f"{s}_{m}": Decimal("0.00") for s in ("local", "upstream") for m in _AMOUNTS},
            )
        )  # fmt: skip

    migrate.upgrade(engine)
    assert "lines" not in {c["name"] for c in inspect(engine).get_columns("reconciliation_run")}
    with UnitOfWork(engine) as uow:
        report = uow.reconciliations.latest("2026-01")
    assert report is not None
    assert list(report.lines) == lines


def test_0014_gives_kept_device_lines_the_limit_they_were_priced_against(engine: Engine) -> None:
    """Device lines kept before 0014 had their limit only in their message: 0014 stores it
    once — from the message, also one written without decimals (1500元), else for an item
    over its limit the fund parts' sum — and a slip printed again reads it from there, not
    the catalogue's 1,800.00 kept beside it. Other lines get none."""
    migrate.upgrade(engine, "0013")
    encounter = sa.table(
        "encounter",
        *(sa.column(c) for c in ("id", "kind", "psn_no", "filing_no", "institution_code")),
        sa.column("his_visit_id"),
        sa.column("status"),
        *(sa.column(c, UTCDateTime()) for c in ("admitted_at", "created_at", "updated_at")),
        *(sa.column(c, Json) for c in ("diagnoses", "injury_parts")),
    )
    settlement = sa.table(
        "settlement",
        *(sa.column(c) for c in ("id", "encounter_id", "slip_no", "month", "discharged_on")),
        *(sa.column(c, Exact(14, 2)) for c in _MONEY),
        sa.column("settled_at", UTCDateTime()),
        sa.column("notes", Json),
    )
    line = sa.table(
        "settlement_line",
        *(sa.column(c) for c in ("settlement_id", "position", "line_id", "item_code")),
        *(sa.column(c) for c in ("item_name", "category", "rule_code", "message", "reason")),
        *(sa.column(c, Exact(14, 2)) for c in ("amount", "fund_pay", "personal_pay")),
        *(sa.column(c, Exact(14, 4)) for c in ("quantity", "unit_price")),
        sa.column("in_catalogue"),
        *(sa.column(c) for c in ("cat_kind", "cat_code", "cat_name", "cat_region")),
        sa.column("cat_limit", Exact(14, 2)),
        sa.column("occurred_at", UTCDateTime()),
    )
    fitted = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    within = "辅助器具费用未超过最高支付限额（1500元），按实际费用支付"
    over = "辅助器具费用超过最高支付限额，按限额支付，超出部分由个人支付"  # says no figure
    lines = {  # settlement: (item, rule, message, amount, fund) per line
        "S-W": [("SH-FZ-0305", "PR_DEVICE_WITHIN_LIMIT", within, "1400.00", "1400.00")],
        "S-O": [
            ("SH-FZ-0101", "PR_DEVICE_OVER_LIMIT", over, "20000.00", "20000.00"),
            ("SH-FZ-0101", "PR_DEVICE_OVER_LIMIT", over, "15000.00", "8000.00"),
            ("SH-FZ-0501", "PR_DEVICE_NOT_ON_NOTICE", "未列入核付通知单", "900.00", "0.00"),
        ],
    }
    with engine.begin() as connection:
        for sid, kept in lines.items():
            connection.execute(
                encounter.insert().values(
                    id=f"E-{sid}", kind="device", psn_no="P011", filing_no="F011",
                    institution_code="H11010000001", his_visit_id=f"DEV-{sid}",
                    status="settled", admitted_at=fitted, created_at=fitted,
                    updated_at=fitted, diagnoses=[], injury_parts=[],
                )
            )  # fmt: skip
            connection.execute(
                settlement.insert().values(
                    id=sid, encounter_id=f"E-{sid}", slip_no=f"SLIP-{sid}", month="2026-11",
                    discharged_on=date(2026, 11, 20), settled_at=fitted, notes=[],
                    **dict.fromkeys(_MONEY, Decimal("1.00")),
                )
            )  # fmt: skip
            for n, (code, rule, message, amount, fund) in enumerate(kept):
                paid, total = Decimal(fund), Decimal(amount)
                connection.execute(
                    line.insert().values(
                        settlement_id=sid, position=n, line_id=f"D{n + 1:03d}", item_code=code,
                        item_name=code, category="device", rule_code=rule, message=message,
                        reason="over_limit" if paid and paid < total else "",
                        amount=total, fund_pay=paid, personal_pay=total - paid,
                        quantity=Decimal(1), unit_price=total, in_catalogue=True,
                        cat_kind="device", cat_code=code, cat_name=code, cat_region="310100",
                        cat_limit=Decimal("1800.00"), occurred_at=fitted,
                    )
                )  # fmt: skip

    migrate.upgrade(engine)

    with UnitOfWork(engine) as uow:
        shown = {
            sid: {
                t.device_code: t.limit for t in device_totals(uow.settlements.get(sid).bill.lines)
            }
            for sid in lines
        }
    assert shown == {
        "S-W": {"SH-FZ-0305": Decimal("1500.00")},
        "S-O": {"SH-FZ-0101": Decimal("28000.00"), "SH-FZ-0501": None},
    }


def test_0015_folds_kept_citizen_ids_and_card_numbers_as_lookups_ask(engine: Engine) -> None:
    """Workers kept before 0015 have their numbers as upstream sent them (``…137x `` in
    lower case and padded, a full-width card number): after it the store finds them by the
    card's ``…137X``, and a worker already folded is left as it was."""
    migrate.upgrade(engine, "0014")
    person = sa.table(
        "person",
        *(sa.column(c) for c in ("psn_no", "citizen_id", "name", "card_no")),
        sa.column("seen_at", UTCDateTime()),
    )
    seen = datetime(2026, 12, 1, tzinfo=UTC)
    with engine.begin() as connection:
        connection.execute(
            person.insert(),
            [
                {"psn_no": "P1", "citizen_id": "34010219871012137x ", "name": "徐强",
                 "card_no": "ｃａｒｄ９００１", "seen_at": seen},
                {"psn_no": "P2", "citizen_id": "310102197803141310", "name": "王建国",
                 "card_no": "310100A0001", "seen_at": seen},
            ],
        )  # fmt: skip
    migrate.upgrade(engine, "0015")
    with UnitOfWork(engine) as uow:
        assert [p.psn_no for p in uow.persons.find_by_citizen_id("34010219871012137X")] == ["P1"]
        assert [p.psn_no for p in uow.persons.find_by_card(["CARD9001"])] == ["P1"]
        kept = uow.persons.get("P2")
    assert kept is not None and (kept.citizen_id, kept.card_no) == (
        "310102197803141310",
        "310100A0001",
    )
