"""Persistence: the adapter's tables (one ``MetaData``: :data:`adapter.store.tables.metadata`),
repositories, the unit of work, the audit log, the schedule run log, migrations.

The public surface: :class:`~adapter.store.uow.UnitOfWork` (its repositories are attributes),
:func:`~adapter.store.audit.verify`, and :func:`~adapter.store.migrate.upgrade`.
"""
