"""fee lines keep their price; catalogue rows say when they were loaded

``fee_line`` gains the price each line was given when recorded (the split, the rule, the
catalogue item, ``price_code`` and ``priced_as_of``) and two indexes for the checks a batch
makes — the charges of an item (``ix_fee_line_item``) and the reversals of a line
(``ix_fee_line_reverses``) — so recording a batch and settling cost what the new lines cost,
not what the stay holds. ``catalogue_item.loaded_at`` tells which stored prices a later
catalogue load may change. Existing lines have no price (``priced_as_of`` NULL) and are
priced when next read, exactly as before.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 06:30:00.000000
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(name: str, length: int) -> "sa.Column[Any]":
    return sa.Column(name, sa.String(length=length), server_default=sa.text("''"), nullable=False)


def _money(name: str) -> "sa.Column[Any]":
    return sa.Column(name, sa.Numeric(precision=14, scale=2), nullable=True)


def _flag(name: str) -> "sa.Column[Any]":
    return sa.Column(name, sa.Boolean(), server_default=sa.text("false"), nullable=False)


def _columns() -> "list[sa.Column[Any]]":
    return [
        sa.Column("priced_as_of", sa.DateTime(timezone=True), nullable=True),
        _text("price_code", 64),
        _flag("excluded"),
        _money("fund_pay"),
        _money("personal_pay"),
        _text("reason", 24),
        _text("rule_code", 48),
        _text("rule_article", 64),
        _text("rule_template", 500),
        _text("message", 500),
        _flag("in_catalogue"),
        _text("cat_kind", 24),
        _text("cat_code", 64),
        _text("cat_name", 300),
        _text("cat_region", 12),
        _text("cat_unit", 32),
        _money("cat_price_cap"),
        _money("cat_limit"),
        _text("cat_version", 32),
        sa.Column("cat_valid_from", sa.Date(), nullable=True),
        sa.Column("cat_valid_to", sa.Date(), nullable=True),
    ]


def upgrade() -> None:
    with op.batch_alter_table("fee_line") as batch:
        for column in _columns():
            batch.add_column(column)
    op.create_index("ix_fee_line_item", "fee_line", ["encounter_id", "item_code"])
    op.create_index("ix_fee_line_reverses", "fee_line", ["encounter_id", "reverses"])
    with op.batch_alter_table("catalogue_item") as batch:
        batch.add_column(sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("catalogue_item") as batch:
        batch.drop_column("loaded_at")
    op.drop_index("ix_fee_line_reverses", table_name="fee_line")
    op.drop_index("ix_fee_line_item", table_name="fee_line")
    with op.batch_alter_table("fee_line") as batch:
        for column in reversed(_columns()):
            batch.drop_column(column.name)
