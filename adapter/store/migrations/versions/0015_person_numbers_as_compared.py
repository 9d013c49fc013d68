"""a worker's citizen ID and card number kept in the form every lookup asks with

``person.citizen_id`` and ``person.card_no`` were kept as upstream sent them — ``…137x `` in
lower case with a space — while the card check compared them folded (full width, spaces,
case). The store's lookups compared them exactly, so during an outage a worker already in
hospital was not found by the card's ``…137X``, and a second stay was admitted beside the
first as a manual-claim case. Rows written from now on are folded on the way in
(``adapter.store.mapping.person_row``); this folds the rows kept before, the same way.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 06:00:00.000000
"""

import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# the table as this revision knows it (not the application's, which may move on)
_person = sa.table(
    "person",
    sa.column("psn_no", sa.String()),
    sa.column("citizen_id", sa.String()),
    sa.column("card_no", sa.String()),
)


def _folded(text: str | None) -> str:
    """``adapter.domain.people.identity_key`` as of this revision, for numbers: full width
    folded, spaces dropped, upper case (a number carries no name dot)."""
    return "".join(unicodedata.normalize("NFKC", text or "").split()).upper()


def upgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.select(_person.c.psn_no, _person.c.citizen_id, _person.c.card_no))
    changed = [
        {"key": row.psn_no, "citizen_id": _folded(row.citizen_id), "card_no": _folded(row.card_no)}
        for row in rows
        if (_folded(row.citizen_id), _folded(row.card_no)) != (row.citizen_id, row.card_no)
    ]
    if changed:
        connection.execute(
            _person.update()
            .where(_person.c.psn_no == sa.bindparam("key"))
            .values(citizen_id=sa.bindparam("citizen_id"), card_no=sa.bindparam("card_no")),
            changed,
        )


def downgrade() -> None:
    """Nothing to undo: the folded numbers are the same numbers, as every check reads them."""
