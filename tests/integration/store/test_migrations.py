"""Migrations: a fresh database upgrades to head and matches the tables' metadata."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from setuptools import find_packages
from sqlalchemy import Engine, inspect
from sqlmodel import SQLModel

import adapter.store.tables
import adapter.store.tokens
from adapter.store import migrate

ROOT = Path(__file__).resolve().parents[3]


def _store_tables() -> set[str]:
    # SQLModel.metadata is shared; the other packages' tables live on their own MetaData.
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
