"""shared msgid sequence (PostgreSQL): msgids stay unique across instances

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 09:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # SQLite runs one instance, whose in-process sequence is enough; see adapter/store/msgids.py.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE SEQUENCE IF NOT EXISTS upstream_msgid_seq"
            " MINVALUE 0 MAXVALUE 9999 START 0 CYCLE"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP SEQUENCE IF EXISTS upstream_msgid_seq")
