"""Persistence: SQLModel tables, repositories, the unit of work, the audit log, migrations.

The public surface: :class:`~adapter.store.uow.UnitOfWork` (its repositories are attributes),
:func:`~adapter.store.audit.verify`, and :func:`~adapter.store.migrate.upgrade`.
"""
