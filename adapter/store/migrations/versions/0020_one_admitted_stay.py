"""one *admitted* stay per worker and kind; a revoked settlement's stay may sit beside it

``uq_encounter_open_stay`` (0008) covered admitted stays and stays whose settlement was
revoked. A worker settled, readmitted for the same kind of care, and then the first
settlement revoked (a correction the agency asked for) broke it: the revocation failed with
a database error. The stay a revocation reopens lies in the past and is settled again over
its own days (settlement's overlap check, ``services.stay_overlaps``), so it may stand beside
the new stay. The index now covers admitted stays only — two admissions of one worker and
kind at once still cannot both win — as ``uq_encounter_admitted_stay``; admission still
refuses a new stay beside a revoked one (``services.admission``).

Downgrading stops, naming them, where a worker has a revoked and an admitted stay of one
kind: the old index cannot hold both.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 20:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STAYS = "kind IN ('medical', 'rehab')"
OPEN_STAY = f"status IN ('admitted', 'revoked') AND {STAYS}"
ADMITTED_STAY = f"status = 'admitted' AND {STAYS}"
COLUMNS = ["institution_code", "psn_no", "kind"]


def _create(name: str, where: str) -> None:
    op.create_index(
        name,
        "encounter",
        COLUMNS,
        unique=True,
        sqlite_where=sa.text(where),
        postgresql_where=sa.text(where),
    )


def upgrade() -> None:
    op.drop_index("uq_encounter_open_stay", table_name="encounter")
    _create("uq_encounter_admitted_stay", ADMITTED_STAY)


def _refuse_two_open_stays() -> None:
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
            "0020 downgrade: these workers have a revoked and an admitted stay of one kind; "
            f"settle the revoked one again before downgrading: {listed}"
        )


def downgrade() -> None:
    _refuse_two_open_stays()
    op.drop_index("uq_encounter_admitted_stay", table_name="encounter")
    _create("uq_encounter_open_stay", OPEN_STAY)
