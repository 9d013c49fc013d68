"""Alembic environment, driven by :mod:`adapter.store.migrate` (there is no alembic.ini).

The connection comes from ``config.attributes["connection"]``. ``target_metadata`` is
:data:`PACKAGES`, the ``MetaData`` of every package that owns tables;
``config.attributes["target_metadata"]`` overrides it (autogenerate scoped to one package).

Types: our ``TypeDecorator`` columns (exact numerics, UTC datetimes, SQLModel's AutoString)
are rendered as the plain SQLAlchemy type they stand on, so revisions import nothing from
the application and stay valid however the code moves.
"""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import JSON, MetaData
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

import adapter.store.tables
import connectors.hl7.message_tables
import connectors.upstream.call_log
import upload_queue.tables

# One MetaData per package that owns tables: the adapter's store (domain records, workflows,
# monthly work, web users and sessions, API tokens), the upload queue, the HL7 message log and
# the upstream call log.
PACKAGES: tuple[MetaData, ...] = (
    adapter.store.tables.metadata,
    upload_queue.tables.metadata,
    connectors.hl7.message_tables.metadata,
    connectors.upstream.call_log.metadata,
)


def _render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    if type_ != "type":
        return False
    if isinstance(obj, TypeDecorator):
        impl = obj.impl_instance
        if type(impl).__module__.startswith("sqlalchemy.sql"):
            return f"sa.{impl!r}"
    if isinstance(obj, JSON) and isinstance(obj._variant_mapping.get("postgresql"), JSONB):
        # Alembic's own rendering says ``JSONB(astext_type=Text())`` without importing Text.
        autogen_context.imports.add("from sqlalchemy.dialects import postgresql")
        return "sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')"
    return False


config = context.config
target_metadata = config.attributes.get("target_metadata") or list(PACKAGES)


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError(
            "run migrations through adapter.store.migrate, which passes a connection"
        )
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        render_item=_render_item,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported")
run_migrations()
