"""audit key ids and the sign-in throttle

``audit_log.key_id``: the audit key (kept outside the database) whose HMAC is the entry's
hash; empty for entries written before the chain was keyed (they stay plain SHA-256, up to
the key file's ``legacy-until``). ``web_signin_throttle``: failed sign-ins counted per user
name and per client address, and the lockout they lead to (adapter.web.throttle).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 03:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(
            sa.Column("key_id", sa.String(length=16), server_default=sa.text("''"), nullable=False)
        )
    op.create_table(
        "web_signin_throttle",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("web_signin_throttle")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("key_id")
