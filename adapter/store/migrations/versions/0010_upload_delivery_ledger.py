"""the upload queue's delivery ledger

``upload_delivery``: one compact row per delivered upload job (kind, ordering key,
idempotency key, the reference it was sent under, when, upstream's reply), kept for at least
18 months while the jobs themselves are purged after ``queue.retention_days``: reconciliation
asks the ledger whether a settlement was delivered (N§35, N§43, B§42). Jobs already delivered
get their row here (reference = idempotency key; the reply is not known).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 03:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "upload_delivery",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("job_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("ordering_key", sa.String(length=200), nullable=True),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reply_code", sa.String(length=32), server_default="", nullable=False),
        sa.Column("reply_ref", sa.String(length=200), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("upload_delivery_job", "upload_delivery", ["job_id"], unique=False)
    op.create_index("upload_delivery_key", "upload_delivery", ["idempotency_key"], unique=False)
    op.create_index(
        "upload_delivery_kind", "upload_delivery", ["kind", "delivered_at"], unique=False
    )
    op.execute(
        "INSERT INTO upload_delivery (job_id, kind, ordering_key, idempotency_key, reference,"
        " delivered_at, reply_code, reply_ref)"
        " SELECT id, kind, ordering_key, idempotency_key, idempotency_key, delivered_at, '', ''"
        " FROM upload_job WHERE status = 'delivered' AND delivered_at IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_index("upload_delivery_kind", table_name="upload_delivery")
    op.drop_index("upload_delivery_key", table_name="upload_delivery")
    op.drop_index("upload_delivery_job", table_name="upload_delivery")
    op.drop_table("upload_delivery")
