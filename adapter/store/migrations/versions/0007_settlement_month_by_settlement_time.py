"""settlement month by settlement time

A settlement belongs to the month of its settlement time (结算时间, local), as upstream counts
it (N§35), not to its discharge date's. ``settlement.month`` is recomputed from
``settled_at``; the column that held the discharge date is renamed from ``settles_on`` to
``discharged_on`` (what it is); ``settled_at`` gets an index (reconciliation scans a month's
settlements by it).

The zone: a migration cannot read the adapter's settings, so it uses the settings' default
``time_zone``, Asia/Shanghai (UTC+8 all year, no daylight saving since 1991): every Chinese
institution keeps that time. On a site configured with another zone, rows settled before
this upgrade get their month in Shanghai time; later ones in the configured zone.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 12:32:51.617020
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ZONE = "Asia/Shanghai"  # adapter.settings.Settings.time_zone's default


def _recompute_month() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"UPDATE settlement SET month = to_char(settled_at AT TIME ZONE '{ZONE}', 'YYYY-MM')"
        )
    else:  # SQLite keeps settled_at as naive UTC text (UTCDateTime); ZONE is UTC+8
        op.execute("UPDATE settlement SET month = strftime('%Y-%m', settled_at, '+8 hours')")


def upgrade() -> None:
    # RENAME COLUMN: PostgreSQL, and SQLite ≥ 3.25 without rebuilding the table.
    op.execute("ALTER TABLE settlement RENAME COLUMN settles_on TO discharged_on")
    _recompute_month()
    op.create_index(op.f("ix_settlement_settled_at"), "settlement", ["settled_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_settlement_settled_at"), table_name="settlement")
    op.execute("ALTER TABLE settlement RENAME COLUMN discharged_on TO settles_on")
    # The month of the discharge date, as before 0007.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("UPDATE settlement SET month = to_char(settles_on, 'YYYY-MM')")
    else:
        op.execute("UPDATE settlement SET month = strftime('%Y-%m', settles_on)")
