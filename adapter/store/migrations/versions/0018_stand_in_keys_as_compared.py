"""a manual-claim worker's stand-in key kept in the form the card's key is made in now

While upstream could not say who a worker is, the stay (or device case) is keyed by the card's
own number: ``psn_no = "?<citizen id or card number>"``. Since 0015 that number is folded
(``adapter.services.identity.unverified_psn_no``: full width, spaces, case), but stays kept
before were keyed as typed, ``?…137x``: a later card read ``…137X`` did not find the worker's
open stay, and a second one could be admitted beside it. This folds the kept stand-ins the
same way.

An open stay whose folded key another open stay of the same kind already holds (the double
admission this mends, made before it) is left as typed, so the upgrade never fails on the
one-open-stay index: both stays stay on the desk, for the clerk to cancel the second.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 09:30:00.000000
"""

import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# the table as this revision knows it (not the application's, which may move on)
_encounter = sa.table(
    "encounter",
    sa.column("id", sa.String()),
    sa.column("psn_no", sa.String()),
    sa.column("kind", sa.String()),
    sa.column("status", sa.String()),
    sa.column("institution_code", sa.String()),
)
_OPEN = ("admitted", "revoked")
_STAYS = ("medical", "rehab")


# Longer than any citizen ID (18) or card number: an e-card QR token's stand-in (up to 40 of
# its characters), kept as the reader gave it — a token's case is its own.
_LONGEST_NUMBER = 20


def _folded(stand_in: str) -> str:
    """``unverified_psn_no`` as of this revision: a number folded as 0015 folds it."""
    number = "".join(unicodedata.normalize("NFKC", stand_in[1:]).split())
    if len(number) > _LONGEST_NUMBER:
        return stand_in
    return f"?{number.upper()}"[:64]


def upgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(
            _encounter.c.id,
            _encounter.c.psn_no,
            _encounter.c.kind,
            _encounter.c.status,
            _encounter.c.institution_code,
        ).where(_encounter.c.psn_no.like("?%"))
    ).all()
    # the one-open-stay index's keys as they are, then as each fold takes one
    held = {
        (row.institution_code, row.psn_no, row.kind)
        for row in rows
        if row.status in _OPEN and row.kind in _STAYS
    }
    changed = []
    for row in rows:
        folded = _folded(row.psn_no)
        if folded == row.psn_no:
            continue
        if row.status in _OPEN and row.kind in _STAYS:
            key = (row.institution_code, folded, row.kind)
            if key in held:
                continue  # a second open stay of the same worker: left for the clerk
            held.discard((row.institution_code, row.psn_no, row.kind))
            held.add(key)
        changed.append({"key": row.id, "psn_no": folded})
    if changed:
        connection.execute(
            _encounter.update()
            .where(_encounter.c.id == sa.bindparam("key"))
            .values(psn_no=sa.bindparam("psn_no")),
            changed,
        )


def downgrade() -> None:
    """Nothing to undo: the folded key is the same card's key, as every lookup makes it."""
