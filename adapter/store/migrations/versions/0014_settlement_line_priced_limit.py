"""a settlement line keeps the device limit it was priced against

``settlement_line.priced_limit``: the maximum payment limit a device line was priced against
(N§34, B§35), so a slip printed again says it whatever the catalogue or the filing says by
then. Before, the slip read it back from the line's message text, and when the text did not
say it (a limit sent as ``1500``, written ``1500元``), showed the catalogue's limit instead —
not the filing's lower one the fund actually paid against.

The lines already kept are filled in once, as far as what they kept allows: the limit their
message states (every device-limit message names it, ``最高支付限额（1500元）`` or
``（1500.00元）``); failing that, an item over its limit had the fund pay exactly the limit,
the sum of its lines' fund parts. A line that says neither keeps NULL: the slip then shows no
limit rather than one it was not priced against.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 22:20:00.000000
"""

import re
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FEN = Decimal("0.01")
_WITHIN, _OVER = "PR_DEVICE_WITHIN_LIMIT", "PR_DEVICE_OVER_LIMIT"
# what those rules' messages (and PR_DEVICE_ITEM_SUMMED's, kept under them) say of the limit
_LIMIT_SAID = re.compile(r"最高支付限额（([0-9]+(?:\.[0-9]+)?)元）")

# the table as this revision knows it (not the application's, which may move on); amounts
# read as text-safe floats on SQLite (no native decimal) and converted exactly below
_line = sa.table(
    "settlement_line",
    sa.column("id", sa.Integer()),
    sa.column("settlement_id", sa.String()),
    sa.column("position", sa.Integer()),
    sa.column("item_code", sa.String()),
    sa.column("rule_code", sa.String()),
    sa.column("message", sa.String()),
    sa.column("fund_pay", sa.Numeric(asdecimal=False)),
    sa.column("priced_limit", sa.Numeric(asdecimal=False)),
)


def _exact(value: object) -> Decimal:
    return Decimal(repr(value) if isinstance(value, float) else str(value)).quantize(_FEN)


def _limits(rows: Sequence[sa.Row[tuple[object, ...]]]) -> dict[int, Decimal]:
    """Each priced-against-a-limit line's limit, as its kept message and split tell it."""
    items: dict[tuple[str, str], list[sa.Row[tuple[object, ...]]]] = defaultdict(list)
    for row in rows:
        items[(row.settlement_id, row.item_code)].append(row)
    found: dict[int, Decimal] = {}
    for group in items.values():
        said = next((m for r in group if (m := _LIMIT_SAID.search(r.message or ""))), None)
        if said is not None:
            limit: Decimal | None = Decimal(said.group(1)).quantize(_FEN)
        elif group[0].rule_code == _OVER:  # over it, the fund paid exactly the limit
            limit = sum((_exact(r.fund_pay) for r in group), Decimal("0.00"))
        else:
            limit = None
        if limit is not None:
            found.update((r.id, limit) for r in group)
    return found


def upgrade() -> None:
    with op.batch_alter_table("settlement_line") as batch:
        batch.add_column(sa.Column("priced_limit", sa.Numeric(precision=14, scale=2)))
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(_line)
        .where(_line.c.rule_code.in_((_WITHIN, _OVER)))
        .order_by(_line.c.settlement_id, _line.c.position)
    ).all()
    sqlite = connection.dialect.name == "sqlite"
    statement = (
        _line.update()
        .where(_line.c.id == sa.bindparam("line_id"))
        .values(priced_limit=sa.bindparam("limit"))
    )
    values = [
        {"line_id": line_id, "limit": str(limit) if sqlite else limit}
        for line_id, limit in _limits(rows).items()
    ]
    if values:
        connection.execute(statement, values)


def downgrade() -> None:
    with op.batch_alter_table("settlement_line") as batch:
        batch.drop_column("priced_limit")
