"""Every table of every package is created by the migrations, exactly as its code declares it."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, MetaData, inspect, text
from sqlmodel import SQLModel

import adapter.store.tables
import adapter.store.tokens  # noqa: F401 - registers api_token
from adapter.services.monthly_tables import metadata as monthly_metadata
from adapter.services.tables import metadata as services_metadata
from adapter.store import migrate
from adapter.web.tables import metadata as web_metadata
from connectors.hl7.message_tables import metadata as hl7_metadata
from connectors.upstream.call_log import metadata as call_log_metadata
from upload_queue.tables import metadata as queue_metadata

EVERY_PACKAGE: dict[str, MetaData] = {
    "store": SQLModel.metadata,
    "upload_queue": queue_metadata,
    "call_log": call_log_metadata,
    "hl7": hl7_metadata,
    "services": services_metadata,
    "monthly": monthly_metadata,
    "web": web_metadata,
}


def test_migrations_create_every_table_as_declared(engine: Engine) -> None:
    migrate.upgrade(engine)
    tables = set(inspect(engine).get_table_names())
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        for package, metadata in EVERY_PACKAGE.items():
            assert set(metadata.tables) <= tables, package
            differences = [
                d
                for d in compare_metadata(context, metadata)
                # compare_metadata sees the other packages' tables as "removed": not a difference
                if not (isinstance(d, tuple) and d[0] in ("remove_table", "remove_index"))
            ]
            assert differences == [], package


def test_postgresql_gets_the_shared_msgid_sequence(engine: Engine) -> None:
    migrate.upgrade(engine)
    if engine.dialect.name != "postgresql":
        return
    with engine.connect() as connection:
        first = connection.execute(text("SELECT nextval('upstream_msgid_seq')")).scalar_one()
    assert first == 0
