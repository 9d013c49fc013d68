"""the upload queue's lease index: pending jobs in deadline order

``upload_job_pending_edf``: a partial index on ``(deadline, id)`` of the pending jobs. A
lease on PostgreSQL is one ``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED LIMIT n)``
whose candidates are the first pending jobs earliest deadline first: this index gives them in
that order with a short scan, whatever the planner's statistics say (see
docs/performance.md for the plans).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 04:10:00.000000
"""

from collections.abc import Sequence

from adapter.store.migrations import lease_index

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    lease_index.create()


def downgrade() -> None:
    lease_index.drop()
