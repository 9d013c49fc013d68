"""the upload queue tells a refusal from other failures, and withdraws a refused job

``upload_attempt.refused``: a permanent failure upstream answered as a refusal (infcode ≠ 0),
so the write certainly took no effect; attempts recorded before keep ``false`` (unknown).
``upload_job.status`` may be ``withdrawn`` (with ``withdrawn_at``): a dead job every attempt of
which was refused, taken back with the revocation queued to undo it, so the stay's later
uploads are not held back by it (see ``upload_queue.withdrawal``).

SQLite cannot alter a CHECK constraint: ``upload_job`` is rebuilt (batch mode), and its partial
lease index, which the rebuild would not reproduce, is dropped first and made again.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 05:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from adapter.store.migrations import lease_index

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD = "status IN ('pending', 'in_flight', 'delivered', 'dead')"
_NEW = "status IN ('pending', 'in_flight', 'delivered', 'dead', 'withdrawn')"


def _status_check(condition: str, *, withdrawn_at: bool) -> None:
    with lease_index.dropped(), op.batch_alter_table("upload_job", recreate="auto") as batch:
        batch.drop_constraint("upload_job_status", type_="check")
        batch.create_check_constraint("upload_job_status", condition)
        if withdrawn_at:
            batch.add_column(sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True))
        else:
            batch.drop_column("withdrawn_at")


def upgrade() -> None:
    with op.batch_alter_table("upload_attempt") as batch:
        batch.add_column(
            sa.Column("refused", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    _status_check(_NEW, withdrawn_at=True)


def downgrade() -> None:
    op.execute("UPDATE upload_job SET status = 'dead' WHERE status = 'withdrawn'")
    _status_check(_OLD, withdrawn_at=False)
    with op.batch_alter_table("upload_attempt") as batch:
        batch.drop_column("refused")
