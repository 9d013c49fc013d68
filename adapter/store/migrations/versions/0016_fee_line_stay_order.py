"""a stay's fee lines indexed in arrival order

``ix_fee_line_stay_order`` on ``fee_line (encounter_id, id)``: ``GET
/api/v1/encounters/{id}/fees`` reads a page of a stay's lines in arrival order (the order
``GET /api/v1/encounters/{id}`` lists them in). Without it a page sorted every line of the
stay on PostgreSQL (its other indexes start with the stay but order by line id, item or
original), so the 50th page of a 10,000-line rehab stay cost the whole stay.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 05:10:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_fee_line_stay_order", "fee_line", ["encounter_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_fee_line_stay_order", table_name="fee_line")
