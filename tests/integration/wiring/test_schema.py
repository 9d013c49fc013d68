"""Every table of every package is created by the migrations, exactly as its code declares it;
each package that owns tables declares them on one ``MetaData``."""

from __future__ import annotations

import importlib
import pkgutil

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, MetaData, Table, inspect, text

import adapter
import adapter.store.tables
import connectors
import upload_queue
import upload_queue.tables
from adapter.store import migrate
from connectors.hl7.message_tables import metadata as hl7_metadata
from connectors.upstream.call_log import metadata as call_log_metadata

EVERY_PACKAGE: dict[str, MetaData] = {
    "adapter": adapter.store.tables.metadata,
    "upload_queue": upload_queue.tables.metadata,
    "connectors.hl7": hl7_metadata,
    "connectors.upstream": call_log_metadata,
}


def _tables_declared_in(package: object) -> dict[str, Table]:
    """Every ``Table`` a module of ``package`` holds at module level, SQLModel rows included,
    by ``module.name`` (simulator and demo modules too: nothing is skipped)."""
    found: dict[str, Table] = {}
    for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):  # type: ignore[attr-defined]
        if ".migrations" in info.name or info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            table = getattr(value, "__table__", value)
            if isinstance(table, Table):
                found[f"{info.name}.{name}"] = table
    return found


def test_each_package_declares_its_tables_on_one_metadata() -> None:
    owners = {id(metadata): owner for owner, metadata in EVERY_PACKAGE.items()}
    for package in (adapter, connectors, upload_queue):
        for where, table in _tables_declared_in(package).items():
            owner = owners.get(id(table.metadata))
            assert owner is not None, f"{where} is on a MetaData the migrations do not know"
            assert where.startswith(owner), f"{where} is on {owner}'s MetaData"


def test_migrations_create_every_table_as_declared(engine: Engine) -> None:
    migrate.upgrade(engine)
    tables = set(inspect(engine).get_table_names())
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        for package, metadata in EVERY_PACKAGE.items():
            assert set(metadata.tables) <= tables, package
            others = {t for m in EVERY_PACKAGE.values() if m is not metadata for t in m.tables}
            differences = [
                d
                for d in compare_metadata(context, metadata)
                # compare_metadata sees the other packages' tables as "removed": not a difference
                if not (isinstance(d, tuple) and _removed_table(d) in others)
            ]
            assert differences == [], package


def _removed_table(difference: tuple[object, ...]) -> str | None:
    kind, item = difference[0], difference[1]
    if kind == "remove_table":
        return str(item.name)  # type: ignore[attr-defined]
    if kind == "remove_index":
        return str(item.table.name)  # type: ignore[attr-defined]
    return None


def test_postgresql_gets_the_shared_msgid_sequence(engine: Engine) -> None:
    migrate.upgrade(engine)
    if engine.dialect.name != "postgresql":
        return
    with engine.connect() as connection:
        first = connection.execute(text("SELECT nextval('upstream_msgid_seq')")).scalar_one()
    assert first == 0
