"""an upload attempt names the payload it went out with by number, not by time

``upload_job.payload_revision``: which payload the job holds, 0 the original, one more with
each re-send that replaced it (``upload_queue.admin.retry``); a kept job gets the count of its
replaced payloads (``upload_payload_revision``), the number its payload now has.
``upload_attempt.payload_revision``: the job's number when the attempt was leased. Withdrawing
a dead settlement judges each attempt with that payload (``upload_queue.withdrawal``); before,
it compared the attempt's start with the replacement's time, stamped by two instances whose
clocks can differ. Attempts recorded before keep ``NULL`` and are still placed by time.

Both columns are added in place (SQLite: ``ALTER TABLE … ADD COLUMN``, no rebuild), so the
partial lease index of ``upload_job`` stays as it is.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 12:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from adapter.store.migrations import lease_index

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# the tables as this revision knows them (not the application's, which may move on)
_job = sa.table("upload_job", sa.column("id", sa.BigInteger()), sa.column("payload_revision"))
_replaced = sa.table("upload_payload_revision", sa.column("job_id", sa.BigInteger()))


def upgrade() -> None:
    op.add_column(
        "upload_job",
        sa.Column("payload_revision", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column("upload_attempt", sa.Column("payload_revision", sa.Integer(), nullable=True))
    replaced = (
        sa.select(sa.func.count())
        .where(_replaced.c.job_id == _job.c.id)
        .correlate(_job)
        .scalar_subquery()
    )
    has_replaced = sa.exists().where(_replaced.c.job_id == _job.c.id)
    op.execute(_job.update().where(has_replaced).values(payload_revision=replaced))


def downgrade() -> None:
    with op.batch_alter_table("upload_attempt") as batch:
        batch.drop_column("payload_revision")
    with lease_index.dropped(), op.batch_alter_table("upload_job") as batch:
        batch.drop_column("payload_revision")
