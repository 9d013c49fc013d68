"""a reconciliation run's lines are rows of reconciliation_line, not one JSON value

A month may hold 50,000 settlements: kept as one JSON document in ``reconciliation_run.lines``
they cost ~15 MB to encode, insert and read back whole. Each line is now a row of
``reconciliation_line``, in order, written and read in bulk. The lines of the runs
already kept are moved over, in their order; downgrading puts them back into the column.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 10:40:00.000000
"""

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_MONEY = sa.Numeric(precision=14, scale=2)
_FEN = Decimal("0.01")

# the two tables as this revision knows them (not the application's, which may move on)
_run = sa.table("reconciliation_run", sa.column("id", sa.Integer()), sa.column("lines", _JSON))
_line = sa.table(
    "reconciliation_line",
    *(
        sa.column(name, type_)
        for name, type_ in (
            ("id", sa.Integer()),
            ("run_id", sa.Integer()),
            ("setl_id", sa.String()),
            ("slip_no", sa.String()),
            ("psn_no", sa.String()),
            ("kind", sa.String()),
            ("settles_on", sa.Date()),
            ("total", sa.Numeric(asdecimal=False)),
            ("fund_pay", sa.Numeric(asdecimal=False)),
            ("personal_pay", sa.Numeric(asdecimal=False)),
            ("revoked", sa.Boolean()),
            ("crosses_year", sa.Boolean()),
            ("upload_msgid", sa.String()),
            ("upload_delivered", sa.Boolean()),
        )
    ),
)
_AMOUNTS = ("total", "fund_pay", "personal_pay")


def _row(run_id: int, line: dict[str, Any], sqlite: bool) -> dict[str, Any]:
    def amount(name: str) -> Any:  # SQLite takes the decimal's text (NUMERIC affinity)
        value = Decimal(line[name]).quantize(_FEN)
        return str(value) if sqlite else value

    return {
        "run_id": run_id,
        "setl_id": line["setl_id"],
        "slip_no": line.get("slip_no", ""),
        "psn_no": line.get("psn_no", ""),
        "kind": line.get("kind", ""),
        "settles_on": date.fromisoformat(line["settles_on"]),
        **{name: amount(name) for name in _AMOUNTS},
        "revoked": line.get("status") == "revoked",
        "crosses_year": bool(line.get("crosses_year")),
        "upload_msgid": line.get("upload_msgid") or "",
        "upload_delivered": line.get("upload_delivered"),
    }


def _line_of(row: Any) -> dict[str, Any]:
    return {
        "setl_id": row.setl_id,
        "slip_no": row.slip_no,
        "psn_no": row.psn_no,
        "kind": row.kind,
        "settles_on": str(row.settles_on)[:10],
        **{name: str(Decimal(str(getattr(row, name))).quantize(_FEN)) for name in _AMOUNTS},
        "status": "revoked" if row.revoked else "settled",
        "crosses_year": bool(row.crosses_year),
        "upload_msgid": row.upload_msgid,
        "upload_delivered": None if row.upload_delivered is None else bool(row.upload_delivered),
    }


def upgrade() -> None:
    op.create_table(
        "reconciliation_line",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("setl_id", sa.String(length=64), nullable=False),
        sa.Column("slip_no", sa.String(length=64), nullable=False),
        sa.Column("psn_no", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("settles_on", sa.Date(), nullable=False),
        sa.Column("total", _MONEY, nullable=False),
        sa.Column("fund_pay", _MONEY, nullable=False),
        sa.Column("personal_pay", _MONEY, nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.Column("crosses_year", sa.Boolean(), nullable=False),
        sa.Column("upload_msgid", sa.String(length=30), nullable=False),
        sa.Column("upload_delivered", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["reconciliation_run.id"], name="fk_reconciliation_line_run"
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_reconciliation_line_run", "reconciliation_line", ["run_id", "id"])
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    for run_id, lines in bind.execute(sa.select(_run.c.id, _run.c.lines)).all():
        rows = [_row(run_id, line, sqlite) for line in lines or ()]  # ids in order
        if rows:
            bind.execute(_line.insert(), rows)
    # a plain column: SQLite (≥ 3.35) drops it in place, no copy of the table (which its
    # lines and differences reference)
    op.drop_column("reconciliation_run", "lines")


def downgrade() -> None:
    op.add_column("reconciliation_run", sa.Column("lines", _JSON, nullable=True))
    bind = op.get_bind()
    for (run_id,) in bind.execute(sa.select(_run.c.id)).all():
        rows = bind.execute(
            sa.select(_line).where(_line.c.run_id == run_id).order_by(_line.c.id)
        ).all()
        bind.execute(
            _run.update().where(_run.c.id == run_id).values(lines=[_line_of(r) for r in rows])
        )
    if bind.dialect.name != "sqlite":  # SQLite would copy the table: left nullable there
        op.alter_column("reconciliation_run", "lines", existing_type=_JSON, nullable=False)
    op.drop_index("ix_reconciliation_line_run", table_name="reconciliation_line")
    op.drop_table("reconciliation_line")
