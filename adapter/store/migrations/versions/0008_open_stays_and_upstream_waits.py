"""one open stay per worker and kind; stays waiting for upstream; manual claims from the start

* ``uq_encounter_open_stay``: a partial unique index on ``encounter`` (institution, worker,
  kind) over open stays — admitted, or settlement revoked — so two concurrent admissions of
  one worker cannot both win (one open stay per worker and kind).
* ``settle_wait``: stays whose discharge met a full upstream outage and wait for upstream to
  answer (N§38); re-checked by the adapter, shown to the billing desk.
* ``manual_claim.from_start`` / ``handed_over_at``: a stay recorded as a manual-claim case at
  admission because upstream was down (N§38, B§27); it may still switch to direct settlement
  until its fee list is handed over.

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN_STAY = "status IN ('admitted', 'revoked') AND kind IN ('medical', 'rehab')"


def _refuse_duplicate_open_stays() -> None:
    """Stop, naming them, if a worker already has two open stays of one kind: IT cancels or
    settles the wrong one (``wi-adapter``/the pages), then upgrades again."""
    rows = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT institution_code, psn_no, kind, COUNT(*) FROM encounter "
                f"WHERE {OPEN_STAY} GROUP BY institution_code, psn_no, kind HAVING COUNT(*) > 1"
            )
        )
        .all()
    )
    if rows:
        listed = "; ".join(f"{r[1]} {r[2]} ×{r[3]}" for r in rows)
        raise RuntimeError(
            "0008: these workers have more than one open stay of one kind; cancel or settle "
            f"the duplicates before upgrading: {listed}"
        )


def upgrade() -> None:
    _refuse_duplicate_open_stays()
    op.create_index(
        "uq_encounter_open_stay",
        "encounter",
        ["institution_code", "psn_no", "kind"],
        unique=True,
        sqlite_where=sa.text(OPEN_STAY),
        postgresql_where=sa.text(OPEN_STAY),
    )
    op.create_table(
        "settle_wait",
        sa.Column("encounter_id", sa.String(length=64), nullable=False),
        sa.Column("discharged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ready_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refusal", sa.Text(), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("encounter_id"),
    )
    with op.batch_alter_table("manual_claim") as batch:
        batch.add_column(
            sa.Column("from_start", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch.add_column(sa.Column("handed_over_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("manual_claim") as batch:
        batch.drop_column("handed_over_at")
        batch.drop_column("from_start")
    op.drop_table("settle_wait")
    op.drop_index("uq_encounter_open_stay", table_name="encounter")
